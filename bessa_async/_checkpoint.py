"""A changes feed's checkpoint: versioned plain JSON, pure.

A checkpoint names its resource and filters, the watermark the next pass starts from (the
server's time when the last completed pass began), the pass in progress if any (its bound, its
start, each cursor chain's position) and the versions already delivered inside the overlap, so
that re-reading the overlap repeats nothing. No secrets: ids, times and digests only. Its size
follows what changed during one run, never the tenant's size.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, final

import attrs

from ._errors import ResumeTokenError
from ._urls import encode_params

__all__ = [
    "CHECKPOINT_KIND",
    "CHECKPOINT_VERSION",
    "Chain",
    "Checkpoint",
    "Pass",
    "Version",
    "filters_of",
    "read_checkpoint",
]

CHECKPOINT_VERSION: Final = 1
CHECKPOINT_KIND: Final = "bessa.changes"

Version = tuple[str, str, str]
"""One delivered version of an item: ``(identity, updated, content digest)``."""


@final
@attrs.frozen(kw_only=True)
class Chain:
    """One cursor chain of a pass: a ``timestamp`` window (either bound may be open) or the
    whole list, and where it stands (``cursor`` None and not ``done``: from its start)."""

    lo: datetime | None = None
    hi: datetime | None = None
    cursor: str | None = None
    done: bool = False


@final
@attrs.frozen(kw_only=True)
class Pass:
    """A pass in progress: the ``updated__gte`` it sends (None: everything), the server time it
    began at (the next watermark) and its chains (empty until they are planned)."""

    bound: datetime | None
    start: datetime | None = None
    chains: tuple[Chain, ...] = ()


@final
@attrs.frozen(kw_only=True)
class Checkpoint:
    """Where a changes feed stands. ``watermark`` None and no pass: nothing read yet."""

    resource: str
    filters: tuple[tuple[str, str], ...]
    watermark: datetime | None = None
    current: Pass | None = None
    seen: frozenset[Version] = frozenset()

    def to_json(self) -> str:
        """The checkpoint as compact JSON (what ``batch.checkpoint`` is)."""
        body: dict[str, Any] = {
            "v": CHECKPOINT_VERSION,
            "kind": CHECKPOINT_KIND,
            "resource": self.resource,
            "filters": [list(pair) for pair in self.filters],
            "watermark": _text(self.watermark),
            "pass": None if self.current is None else _pass_json(self.current),
            "seen": sorted(list(version) for version in self.seen),
        }
        return json.dumps(body, separators=(",", ":"))


def filters_of(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """A feed's filters as they are sent, sorted: what a checkpoint must match."""
    return tuple(sorted(encode_params(params)))


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _pass_json(current: Pass) -> dict[str, Any]:
    return {
        "bound": _text(current.bound),
        "start": _text(current.start),
        "chains": [
            {"lo": _text(c.lo), "hi": _text(c.hi), "cursor": c.cursor, "done": c.done}
            for c in current.chains
        ],
    }


def _bad(why: str) -> ResumeTokenError:
    return ResumeTokenError(
        f"not a usable changes checkpoint: {why}. Pass the str of an earlier feed's "
        "batch.checkpoint or feed.checkpoint for the same resource and filters, a datetime, or "
        "None for a full load (nothing was sent)"
    )


def _moment(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"{name} is not a timestamp")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(f"{name} is not a timestamp") from None
    if moment.utcoffset() is None:
        raise _bad(f"{name} has no UTC offset")
    return moment.astimezone(UTC)


def _field(body: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(name)
    if not isinstance(value, kind):
        raise _bad(f"{name!r} is missing or malformed")
    return value


def _chains(entries: Iterable[object]) -> tuple[Chain, ...]:
    chains = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise _bad("a chain is not an object")
        cursor = entry.get("cursor")
        if cursor is not None and (not isinstance(cursor, str) or not cursor):
            raise _bad("a chain's cursor is not a string")
        done = entry.get("done")
        if not isinstance(done, bool):
            raise _bad("a chain's 'done' is not a boolean")
        chains.append(
            Chain(
                lo=_moment(entry.get("lo"), "lo"),
                hi=_moment(entry.get("hi"), "hi"),
                cursor=cursor,
                done=done,
            )
        )
    return tuple(chains)


def _seen(entries: Iterable[object]) -> frozenset[Version]:
    seen: set[Version] = set()
    for entry in entries:
        if not (
            isinstance(entry, list) and len(entry) == 3 and all(isinstance(v, str) for v in entry)
        ):
            raise _bad("a delivered version is not [id, updated, digest]")
        seen.add((entry[0], entry[1], entry[2]))
    return frozenset(seen)


def read_checkpoint(
    text: str, *, resource: str, filters: tuple[tuple[str, str], ...]
) -> Checkpoint:
    """Read a checkpoint made for ``resource`` with ``filters``.

    Raises:
        ResumeTokenError: not a checkpoint, a newer version, or one made for another resource
            or other filters.
    """
    try:
        body = json.loads(text)
    except ValueError:
        raise _bad("it is not JSON") from None
    if not isinstance(body, dict) or body.get("kind") != CHECKPOINT_KIND:
        raise _bad("it is not a changes checkpoint (a sharded listing's token or a cursor?)")
    if body.get("v") != CHECKPOINT_VERSION:
        raise _bad(f"version {body.get('v')!r} is not {CHECKPOINT_VERSION}")
    made_for = body.get("resource")
    if made_for != resource:
        raise ResumeTokenError(
            f"this checkpoint belongs to {made_for!r}, not {resource!r}: keep one checkpoint "
            "per resource and filter set (nothing was sent)"
        )
    pairs = tuple(tuple(pair) for pair in _field(body, "filters", list) if isinstance(pair, list))
    if pairs != filters:
        raise ResumeTokenError(
            f"this checkpoint was made with the filters {dict(pairs)!r}, not {dict(filters)!r}: "
            "a feed resumes only with the filters that made it (nothing was sent)"
        )
    current = body.get("pass")
    if current is not None:
        if not isinstance(current, dict):
            raise _bad("'pass' is not an object")
        current = Pass(
            bound=_moment(current.get("bound"), "bound"),
            start=_moment(current.get("start"), "start"),
            chains=_chains(_field(current, "chains", list)),
        )
    return Checkpoint(
        resource=resource,
        filters=filters,
        watermark=_moment(body.get("watermark"), "watermark"),
        current=current,
        seen=_seen(_field(body, "seen", list)),
    )
