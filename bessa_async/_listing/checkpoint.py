"""A changes feed's checkpoint: versioned plain JSON, pure.

A checkpoint names its resource and filters, the watermark the next pass starts from (the
server's time when the last completed pass began), the pass in progress if any (its bound, its
start, each cursor chain's position) and the versions already delivered inside the overlap, so
that re-reading the overlap repeats nothing. No secrets: ids, times and digests only. Its size
never follows the tenant's, nor a burst of changes: the feed bounds the versions it keeps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, final

import attrs

from .._base.errors import BessaError, ResumeTokenError
from .._base.tokens import TokenFormat
from .._base.urls import encode_params
from .._base.wire_time import InstantError, read_instant

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
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""No moment of a checkpoint is earlier (none the API stamps is)."""
_KEYS: Final = frozenset({"v", "kind", "resource", "filters", "watermark", "pass", "seen"})

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
            "kind": CHECKPOINT_KIND,
            "resource": self.resource,
            "filters": [list(pair) for pair in self.filters],
            "watermark": _text(self.watermark),
            "pass": None if self.current is None else _pass_json(self.current),
            "seen": sorted(list(version) for version in self.seen),
        }
        return _FORMAT.write(body)


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


_FORMAT: Final = TokenFormat(
    name="changes checkpoint",
    version=CHECKPOINT_VERSION,
    error=ResumeTokenError,
    template="not a usable changes checkpoint: {why}. Pass the str of an earlier feed's "
    "batch.checkpoint or feed.checkpoint for the same resource and filters, a datetime, or "
    "None for a full load (nothing was sent)",
    foreign="it is not a changes checkpoint (a sharded listing's token or a cursor?)",
)


def _bad(why: str) -> BessaError:
    return _FORMAT.bad(why)


def _instant(value: object, name: str) -> datetime:
    """An aware ISO 8601 timestamp, in UTC."""
    if not isinstance(value, str):
        raise _bad(f"{name} is not a timestamp")
    try:
        return read_instant(value)
    except InstantError as error:
        if error.problem == "no offset":
            raise _bad(f"{name} has no UTC offset") from None
        if error.problem == "out of range":
            raise _bad(f"{name} {value!r} is out of range") from None
        raise _bad(f"{name} is not a timestamp") from None


@attrs.frozen
class _Moments:
    """Where a checkpoint's own moments may lie: from :data:`EARLIEST` to this machine's
    clock plus an allowance (the feed's overlap). The feed never saves one later than its
    clock, so a later one was edited, or made against a clock that was ahead, and would read
    nothing new on every run."""

    now: datetime
    allowance: timedelta

    def read(self, value: object, name: str) -> datetime | None:
        if value is None:
            return None
        moment = _instant(value, name)
        if moment < EARLIEST:
            raise _bad(f"{name} {value!r} is before {EARLIEST.year}")
        if moment > self.now + self.allowance:
            raise _bad(
                f"{name} {value!r} is {moment - self.now} after this machine's clock, so every "
                "run would read nothing new (was it edited, or made against a clock that was "
                "ahead?). Go on with since= a moment you trust instead"
            )
        return moment


def _chains(entries: Iterable[object], moments: _Moments) -> tuple[Chain, ...]:
    chains = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"lo", "hi", "cursor", "done"}:
            raise _bad("a chain is not an object of lo, hi, cursor and done")
        cursor = entry["cursor"]
        if cursor is not None and (not isinstance(cursor, str) or not cursor):
            raise _bad("a chain's cursor is not a string")
        done = entry["done"]
        if not isinstance(done, bool):
            raise _bad("a chain's 'done' is not a boolean")
        lo, hi = moments.read(entry["lo"], "lo"), moments.read(entry["hi"], "hi")
        if lo is not None and hi is not None and lo >= hi:
            raise _bad("a chain's lo is not before its hi")
        chains.append(Chain(lo=lo, hi=hi, cursor=cursor, done=done))
    return tuple(chains)


def _pass(body: object, moments: _Moments) -> Pass:
    """A pass in progress: planned chains need its start, and one chain at least still open
    (a pass whose chains are all done is saved as its watermark instead)."""
    if not isinstance(body, dict) or set(body) != {"bound", "start", "chains"}:
        raise _bad("'pass' is not an object of bound, start and chains")
    if not isinstance(body["chains"], list):
        raise _bad("'chains' is not a list")
    chains = _chains(body["chains"], moments)
    start = moments.read(body["start"], "start")
    if chains and start is None:
        raise _bad("a pass with chains has no start")
    if chains and all(chain.done for chain in chains):
        raise _bad("a pass whose chains are all done is not in progress")
    return Pass(bound=moments.read(body["bound"], "bound"), start=start, chains=chains)


def _seen(entries: object) -> frozenset[Version]:
    if not isinstance(entries, list):
        raise _bad("'seen' is not a list")
    seen: set[Version] = set()
    for entry in entries:
        if not (
            isinstance(entry, list) and len(entry) == 3 and all(isinstance(v, str) for v in entry)
        ):
            raise _bad("a delivered version is not [id, updated, digest]")
        _instant(entry[1], "a delivered version's updated")  # compared as a time by the feed
        seen.add((entry[0], entry[1], entry[2]))
    return frozenset(seen)


def _filters(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair)
        for pair in value
    ):
        raise _bad("'filters' is not a list of [name, value]")
    return tuple((name, text) for name, text in value)


def read_checkpoint(
    text: str,
    *,
    resource: str,
    filters: tuple[tuple[str, str], ...],
    now: datetime,
    allowance: timedelta,
) -> Checkpoint:
    """Read a checkpoint made for ``resource`` with ``filters``, checked whole before the feed
    sends anything: the one place that says what a checkpoint may hold.

    ``now`` is this machine's clock: the feed never saves a moment later than it, so one more
    than ``allowance`` (the feed's overlap) after it is refused, as is one before 1970.

    Raises:
        ResumeTokenError: not a checkpoint, a newer version, one made for another resource or
            other filters, or one whose fields or moments cannot be what a feed saved.
    """
    body = _FORMAT.read(text)
    if body.get("kind") != CHECKPOINT_KIND:
        raise _bad(_FORMAT.foreign)
    if set(body) != _KEYS:
        raise _bad(f"its fields are {sorted(body)}, not {sorted(_KEYS)}")
    made_for = body["resource"]
    if made_for != resource:
        raise ResumeTokenError(
            f"this checkpoint belongs to {made_for!r}, not {resource!r}: keep one checkpoint "
            "per resource and filter set (nothing was sent)"
        )
    pairs = _filters(body["filters"])
    if pairs != filters:
        raise ResumeTokenError(
            f"this checkpoint was made with the filters {dict(pairs)!r}, not {dict(filters)!r}: "
            "a feed resumes only with the filters that made it (nothing was sent)"
        )
    moments = _Moments(now.astimezone(UTC), allowance)
    current = body["pass"]
    return Checkpoint(
        resource=resource,
        filters=filters,
        watermark=moments.read(body["watermark"], "watermark"),
        current=None if current is None else _pass(current, moments),
        seen=_seen(body["seen"]),
    )
