"""The resume token of a time-sharded listing: versioned JSON, pure.

A sharded listing that fails (or is left) part-way says what is still to read as the shards
still open: each with its query window ``[start, end)``, the part it owns ``[start, cutoff)``,
the cursor of the first page not handed over and the latest time handed over (so that a split
never falls before it); a shard nothing was handed over from is just its owned window. With
them goes what names the listing (resource, time field, window, ordering, the other filters), so
that a token is only ever used for the call that made it. No secrets: ids and times only.

``list(..., cursor=token)`` reads it back (:func:`read_token`); the token is told from a plain
cursor by its first character (an API cursor is never a JSON object).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, final

import attrs

from ._errors import ResumeTokenError
from ._urls import encode_params

__all__ = [
    "TOKEN_VERSION",
    "ListingIdentity",
    "OpenShard",
    "identity_of",
    "is_listing_token",
    "make_token",
    "read_token",
]

TOKEN_VERSION: Final = 1
_KIND: Final = "sharded listing"
_NOT_COMPARED: Final = frozenset({"cursor", "limit"})
"""Parameters that say how to read, not what: a resumed listing may change them."""


@final
@attrs.frozen(kw_only=True)
class ListingIdentity:
    """What a token must match: the same resource, window, ordering and filters."""

    resource: str
    field: str
    start: datetime
    end: datetime
    ordered: bool
    query: tuple[tuple[str, str], ...]
    """The other filters as sent (sorted ``(name, text)`` pairs)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "field": self.field,
            "window": [_time(self.start), _time(self.end)],
            "ordered": self.ordered,
            "query": [list(pair) for pair in self.query],
        }


@final
@attrs.frozen(kw_only=True)
class OpenShard:
    """A shard still to read: ``cursor`` None means from the start of ``[start, cutoff)``."""

    start: datetime
    end: datetime
    cutoff: datetime
    cursor: str | None = None
    after: datetime | None = None
    """The latest time already handed over from this shard."""
    ascending: bool = True


def identity_of(
    resource: str,
    *,
    field: str,
    start: datetime,
    end: datetime,
    ordered: bool,
    params: Mapping[str, Any],
) -> ListingIdentity:
    """The identity of a sharded listing of ``params`` (its window bounds are ``start``/``end``)."""
    skip = _NOT_COMPARED | {f"{field}__gte", f"{field}__lt"}
    pairs = sorted(pair for pair in encode_params(params) if pair[0] not in skip)
    return ListingIdentity(
        resource=resource,
        field=field,
        start=start.astimezone(UTC),
        end=end.astimezone(UTC),
        ordered=ordered,
        query=tuple(pairs),
    )


def is_listing_token(cursor: object) -> bool:
    """Whether a ``cursor=`` value is a sharded listing's token rather than an API cursor."""
    return isinstance(cursor, str) and cursor.lstrip().startswith("{")


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def make_token(identity: ListingIdentity, shards: list[OpenShard]) -> str:
    """The token of a listing with these shards still open, compact JSON."""
    entries: list[dict[str, Any]] = []
    for shard in shards:
        entry: dict[str, Any] = {"start": _time(shard.start), "end": _time(shard.end)}
        if shard.cursor is not None:
            entry["cutoff"] = _time(shard.cutoff)
            entry["cursor"] = shard.cursor
            if shard.after is not None:
                entry["after"] = _time(shard.after)
            if not shard.ascending:
                entry["ascending"] = False
        entries.append(entry)
    body = {"v": TOKEN_VERSION, "kind": _KIND, **identity.to_json(), "shards": entries}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _bad(why: str) -> ResumeTokenError:
    return ResumeTokenError(
        f"not a usable resume token: {why} (pass the resume_cursor of the failed listing, "
        "unchanged; nothing was sent)"
    )


def _read_time(value: object, what: str) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                return moment.astimezone(UTC)
    raise _bad(f"{what} is not an aware ISO time: {value!r:.60}")


def _read_shard(entry: object, identity: ListingIdentity) -> OpenShard:
    if not isinstance(entry, dict):
        raise _bad("a shard is not a JSON object")
    start = _read_time(entry.get("start"), "a shard's start")
    end = _read_time(entry.get("end"), "a shard's end")
    cursor = entry.get("cursor")
    if cursor is None:
        cutoff, after, ascending = end, None, True
    else:
        if not isinstance(cursor, str) or not cursor:
            raise _bad("a shard's cursor is not a non-empty string")
        cutoff = _read_time(entry.get("cutoff"), "a shard's cutoff")
        after = entry.get("after")
        after = None if after is None else _read_time(after, "a shard's latest time")
        ascending = entry.get("ascending", True)
        if not isinstance(ascending, bool):
            raise _bad("a shard's 'ascending' is not true or false")
    if not identity.start <= start < cutoff <= end <= identity.end:
        raise _bad("a shard lies outside the listing's window")
    if after is not None and not start <= after < cutoff:
        raise _bad("a shard's latest time lies outside it")
    return OpenShard(
        start=start, end=end, cutoff=cutoff, cursor=cursor, after=after, ascending=ascending
    )


def _mismatch(data: Mapping[str, Any], identity: ListingIdentity) -> str | None:
    """What differs between the token's listing and this call, or None."""
    if data.get("resource") != identity.resource:
        return f"it is for {data.get('resource')!r}, this call lists {identity.resource!r}"
    if data.get("field") != identity.field:
        return f"it shards by {data.get('field')!r}, this call by {identity.field!r}"
    window = data.get("window")
    if not isinstance(window, list) or len(window) != 2:
        return "it names no window"
    if [_read_time(w, "the window") for w in window] != [identity.start, identity.end]:
        return (
            f"it is for the window [{window[0]}, {window[1]}), this call lists "
            f"[{_time(identity.start)}, {_time(identity.end)})"
        )
    if data.get("ordered") != identity.ordered:
        return f"it was made with ordered={data.get('ordered')!r}, this call has {identity.ordered}"
    query = data.get("query")
    if not isinstance(query, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in query
    ):
        return "its filters are unreadable"
    theirs = {tuple(pair) for pair in query}
    ours = set(identity.query)
    if theirs != ours:
        names = sorted({name for name, _ in theirs ^ ours})
        return f"its filters differ from this call's in {', '.join(names)}"
    return None


def read_token(token: str, identity: ListingIdentity) -> list[OpenShard]:
    """The open shards of ``token``, checked against the call that resumes it.

    Raises:
        ResumeTokenError: not a token, from a newer library, damaged, or made by another listing.
    """
    try:
        data = json.loads(token)
    except ValueError:
        raise _bad("it is not JSON") from None
    if not isinstance(data, dict) or "v" not in data:
        raise _bad("expected a JSON object with a version 'v'")
    if data["v"] != TOKEN_VERSION:
        raise ResumeTokenError(
            f"resume token version {data['v']!r} is not readable by this version of "
            f"bessa_async (it reads version {TOKEN_VERSION}); upgrade the library"
        )
    if data.get("kind") != _KIND:
        raise _bad(f"unknown kind {data.get('kind')!r}")
    different = _mismatch(data, identity)
    if different is not None:
        raise ResumeTokenError(
            f"this resume token belongs to another listing: {different}; resume with the same "
            "resource, window, filters and ordered= (nothing was sent)"
        )
    entries = data.get("shards")
    if not isinstance(entries, list):
        raise _bad("no list of shards")
    shards = [_read_shard(entry, identity) for entry in entries]
    for before, after in itertools.pairwise(shards):
        if after.start < before.cutoff:
            raise _bad("its shards overlap or are out of order")
    return shards
