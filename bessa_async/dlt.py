"""A copy of a tenant in any database dlt loads into: :func:`bessa_source` (extra ``dlt``).

Each resource with a changes feed becomes a dlt resource of the same name (``receipts``,
``articles``, ``stock_levels`` ...), merged on its key. Its checkpoint lives in dlt's resource
state, which dlt saves with the rows it belongs to: a run that fails or is killed before its load
commits starts again from the last committed checkpoint, and nothing is lost or repeated.

Rows the API flags deleted keep their ``deleted`` timestamp (or are removed from the copy with
``hard_delete=True``). Rows the API removes outright never appear in a feed: a reconcile pass
(every ``reconcile_every`` runs, or ``reconcile=True``) lists the resource once and removes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import threading
import time
import types
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Union, get_args, get_origin, get_type_hints

import attrs
import dlt
from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns
from dlt.common.typing import TSecretStrValue
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.extract import DltResource

from ._base.errors import InvalidTypeError, InvalidValueError
from ._client import BessaClient
from ._instrument.summary import RequestTally
from ._listing.changes import SyncStats
from ._registry import SYNCABLE, natural_key
from ._resources.resource import Resource, model_of, raw_identity

__all__ = [
    "MIRRORED",
    "REMOVED",
    "MirrorWatch",
    "Watched",
    "bessa_source",
    "columns_of",
    "row_of",
]

MIRRORED: Final = tuple(SYNCABLE)
"""The resources a source can copy: every one with a changes feed, in registry order."""
REMOVED: Final = "_bessa_removed"
"""The column whose true value removes a row from the copy (dlt's ``hard_delete`` hint): set on
rows the API removed outright, and with ``hard_delete=True`` on rows it flags deleted."""
FIRST_LOAD_CONCURRENCY: Final = 4
"""Cursor chains of a first full load of receipts and closings (split by business time)."""


@attrs.define(eq=False)
class Watched:
    """What one resource's run did: the feed's counts, the requests sent, the seconds taken."""

    tally: RequestTally = attrs.Factory(RequestTally)
    stats: SyncStats = attrs.Factory(SyncStats)
    removed: int = 0
    """Rows removed from the copy because the API removed them outright (a reconcile)."""
    seconds: float = 0.0


@attrs.define(eq=False)
class MirrorWatch:
    """A run of the source seen from outside dlt's thread (``bessa mirror``): what each resource
    did, and a way to end the run after the batch in flight, so that dlt still loads what was
    extracted and commits the checkpoints with it."""

    resources: dict[str, Watched] = attrs.Factory(dict)
    stop: threading.Event = attrs.Factory(threading.Event)

    def of(self, name: str) -> Watched:
        """The record of ``name`` (made on first use)."""
        return self.resources.setdefault(name, Watched())


_DECIMAL: Final[TColumnSchema] = {"data_type": "decimal", "nullable": True}
_TIMESTAMP: Final[TColumnSchema] = {"data_type": "timestamp", "timezone": True, "nullable": True}
_TEXT: Final[TColumnSchema] = {"data_type": "text", "nullable": True}


def _scalar(annotation: object) -> TColumnSchema | None:
    """The column type of a field annotated ``annotation`` (an optional counts as its type);
    None for what dlt infers well: text, numbers, lists (child tables), unknown fields."""
    if get_origin(annotation) in (types.UnionType, Union):
        kinds = set(get_args(annotation)) - {type(None)}
    elif get_origin(annotation) is None:
        kinds = {annotation}
    else:
        return None  # a tuple: dlt's child table; unknown fields: as they come
    for kind, column in ((Decimal, _DECIMAL), (datetime, _TIMESTAMP), (uuid.UUID, _TEXT)):
        if kind in kinds:
            return column
    return None


def columns_of(model: type[Any]) -> TTableSchemaColumns:
    """The column hints of a model's table: money as decimal, timestamps in UTC, UUIDs as text,
    and the removal column. Pure."""
    hints = get_type_hints(model)
    columns: TTableSchemaColumns = {}
    for field in attrs.fields(model):
        column = _scalar(hints[field.name])
        if column is not None:
            columns[field.name] = {"name": field.name, **column}
    columns[REMOVED] = {"name": REMOVED, "data_type": "bool", "nullable": True, "hard_delete": True}
    if "updated" in columns:  # two versions in one load: the later one wins
        columns["updated"] = {**columns["updated"], "dedup_sort": "desc"}
    return columns


def _value(value: object) -> Any:
    if attrs.has(type(value)):
        return row_of(value)
    if isinstance(value, tuple | list):
        return [_value(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value  # Decimal, int, bool, str, None, and unknown fields' JSON values


def row_of(item: object) -> dict[str, Any]:
    """An item as a row: typed values (``Decimal``, aware UTC ``datetime``), UUIDs as text,
    lists as lists (dlt's child tables), unknown fields kept. Pure."""
    row: dict[str, Any] = {}
    model: Any = type(item)
    for field in attrs.fields(model):
        value = getattr(item, field.name)
        if field.name == "extra":
            row.update({k: v for k, v in value.items() if k not in row})
        elif value is not None or field.name == "deleted":
            row[field.name] = _value(value)
    return row


def _known(pipeline: dlt.Pipeline, name: str, key: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The keys of the rows in the copy that are not flagged deleted, by their identity as the
    feed's reconcile compares them (blocking: call in a thread)."""
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(name)
            names = ", ".join(client.escape_column_name(k) for k in key)
            deleted = client.escape_column_name("deleted")
            try:
                rows = client.execute_sql(f"SELECT {names} FROM {table} WHERE {deleted} IS NULL")
            except DatabaseUndefinedRelation:
                return {}
    except DatabaseUndefinedRelation:
        return {}
    known = {}
    for values in rows or ():
        keys = dict(zip(key, (str(v) for v in values), strict=True))
        known[raw_identity(keys)] = keys
    return known


def _resource(
    name: str,
    *,
    token: str | None,
    base_url: str | None,
    hard_delete: bool,
    reconcile_every: int | None,
    reconcile: bool,
    limit: int | None,
    watch: MirrorWatch | None,
) -> DltResource:
    cls: type[Resource[Any]] = SYNCABLE[name]
    model = model_of(cls)
    assert model is not None
    key = natural_key(name)

    def rows() -> AsyncIterator[list[dict[str, Any]]]:
        # Called in dlt's own thread, where its state and the running pipeline are known; the
        # async generator it returns runs on dlt's event loop, which must not block.
        state = dlt.current.resource_state(name)
        pipeline = dlt.current.pipeline()
        return _rows(state, pipeline)

    async def _rows(
        state: dict[str, Any], pipeline: dlt.Pipeline
    ) -> AsyncIterator[list[dict[str, Any]]]:
        watched = MirrorWatch().of(name) if watch is None else watch.of(name)
        if watch is not None and watch.stop.is_set():
            return
        began = time.perf_counter()
        try:
            async with contextlib.aclosing(_feed(state, pipeline, watched)) as feed:
                async for rows in feed:
                    yield rows
                    if watch is not None and watch.stop.is_set():
                        return  # the checkpoint is this batch's: dlt loads it with the rows
        finally:
            watched.seconds += time.perf_counter() - began

    async def _feed(
        state: dict[str, Any], pipeline: dlt.Pipeline, watched: Watched
    ) -> AsyncGenerator[list[dict[str, Any]]]:
        since: str | None = state.get("checkpoint")
        runs = int(state.get("runs", 0)) + 1
        due = reconcile or (reconcile_every is not None and runs % reconcile_every == 0)
        known = {}
        if due and since is not None:
            known = await asyncio.to_thread(_known, pipeline, name, key)
        delivered: set[str] = set()
        # Opened here, in the loop dlt runs this generator on; closed when dlt closes it.
        hooks = watched.tally.hooks()
        async with BessaClient(token, base_url=base_url, hooks=hooks) as client:
            resource: Resource[Any] = getattr(client, name)
            chains = 1 if since is not None else FIRST_LOAD_CONCURRENCY
            feed = resource.changes(since=since, limit=limit, concurrency=chains)
            watched.stats = feed.stats
            async for batch in feed:
                out = []
                for item in batch.items:
                    row = row_of(item)
                    if hard_delete and row.get("deleted") is not None:
                        row[REMOVED] = True
                    out.append(row)
                    if due:
                        delivered.add(raw_identity({k: row.get(k) for k in key}))
                state["checkpoint"] = batch.checkpoint
                if out:
                    yield out
            state["checkpoint"] = feed.checkpoint
            if due:
                # What the feed just delivered is newer than the copy this list was read from.
                gone = await feed.reconcile(known)
                removed = [{**known[i], REMOVED: True} for i in sorted(gone - delivered)]
                watched.removed += len(removed)
                if removed:
                    yield removed
        state["runs"] = runs

    return dlt.resource(
        rows,
        name=name,
        primary_key=list(key),
        write_disposition="merge",
        columns=columns_of(model),
    )


def _names(resources: Iterable[str] | None) -> list[str]:
    if resources is None:
        return list(MIRRORED)
    if isinstance(resources, str):
        raise InvalidTypeError(
            f"resources must be a list of names, not one string; did you mean [{resources!r}]?"
        )
    names = list(resources)
    for name in names:
        if name not in SYNCABLE:
            raise InvalidValueError(
                f"resources: no resource {name!r} with a changes feed (choose from: "
                f"{', '.join(MIRRORED)})"
            )
    return names


@dlt.source(name="bessa", section="bessa")  # dlt's secrets: [sources.bessa] token
def bessa_source(
    token: TSecretStrValue | None = None,
    base_url: str | None = None,
    *,
    resources: Sequence[str] | None = None,
    hard_delete: bool = False,
    reconcile_every: int | None = None,
    reconcile: bool = False,
    limit: int | None = None,
    watch: MirrorWatch | None = None,
) -> Any:
    """The tenant's resources as dlt resources, each merged on its key with its checkpoint in
    dlt's state: ``pipeline.run(bessa_source(resources=["receipts", "articles"]))``.

    Args:
        token: the API token; dlt masks it as a secret. None: dlt's secrets
            (``SOURCES__BESSA__TOKEN``), else ``BESSA_TOKEN``.
        base_url: the API's base URL; None: ``BESSA_BASE_URL``, else the real API.
        resources: the client attribute names to copy (default: every one with a feed).
        hard_delete: remove rows the API flags deleted instead of keeping them with
            ``deleted`` set.
        reconcile_every: every this many runs of a resource, list it whole once to remove the
            rows the API removed outright (None: only when ``reconcile`` is true).
        reconcile: reconcile on this run.
        limit: the page size (the API's default when None).
        watch: filled with what each resource did; setting its ``stop`` ends the run after
            the batch in flight, the checkpoints loaded with the rows.

    Raises:
        InvalidValueError, InvalidTypeError: an unknown resource name or a bad count (nothing
            is sent).
    """
    names = _names(resources)
    if reconcile_every is not None and (
        isinstance(reconcile_every, bool)
        or not isinstance(reconcile_every, int)
        or reconcile_every < 1
    ):
        raise InvalidValueError(
            f"reconcile_every must be a whole number of runs, 1 or more, got {reconcile_every!r}"
        )
    return [
        _resource(
            name,
            token=token,
            base_url=base_url,
            hard_delete=hard_delete,
            reconcile_every=reconcile_every,
            reconcile=reconcile,
            limit=limit,
            watch=watch,
        )
        for name in names
    ]
