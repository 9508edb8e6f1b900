"""The resume token of a time-sharded listing: versioned JSON, pure.

A sharded listing that fails (or is left) part-way says what is still to read as the shards
still open: each with its query window ``[start, end)``, the part it owns ``[start, cutoff)``,
the cursor of the first page not handed over (or of the page the caller left part-way through,
with how many of its items were handed over: ``skip``) and the latest time handed over (so that
a split never falls before it); a shard nothing was handed over from is just its owned window. With
them goes what names the listing (resource, time field, window, ordering, the other filters), so
that a token is only ever used for the call that made it. No secrets: ids and times only.

A single chain left part-way through a page says where it stands with a smaller token, the
page's cursor and ``skip`` (:func:`make_chain_token`); between pages its position is the API's
own cursor.

``list(..., cursor=token)`` reads it back (:func:`read_token`, :func:`read_chain_token`); a
token is told from a plain cursor by its first character (an API cursor is never a JSON object).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, final

import attrs

from .._base.errors import BessaError, ResumeTokenError
from .._base.jsontext import parse_json
from .._base.tokens import TokenFormat
from .._base.urls import encode_params
from .._base.wire_time import instant

__all__ = [
    "TOKEN_VERSION",
    "ChainPosition",
    "ListingIdentity",
    "OpenShard",
    "identity_of",
    "is_listing_token",
    "make_chain_token",
    "make_token",
    "read_chain_token",
    "read_token",
]

_FORMAT: Final = TokenFormat(
    name="resume token",
    version=1,
    error=ResumeTokenError,
    template="not a usable resume token: {why} (pass the resume_cursor of the listing, "
    "unchanged; nothing was sent)",
)
TOKEN_VERSION: Final = _FORMAT.version
_KIND: Final = "sharded listing"
_CHAIN_KIND: Final = "listing position"
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
    """A shard still to read: ``cursor`` None means from the start of its query window
    ``[start, end)``; with neither a cursor nor ``skip``, just its owned window, read afresh."""

    start: datetime
    end: datetime
    cutoff: datetime
    cursor: str | None = None
    skip: int = 0
    """Items of the page at ``cursor`` (or the first page) already handed over: the caller
    left part-way through it."""
    after: datetime | None = None
    """The latest time already handed over from this shard."""
    ascending: bool = True

    @property
    def fresh(self) -> bool:
        """Whether nothing was handed over from it (its owned window can be cut afresh)."""
        return self.cursor is None and not self.skip


@final
@attrs.frozen(kw_only=True)
class ChainPosition:
    """Where one cursor chain resumes: the page at ``cursor`` (None: the first page), less its
    first ``skip`` items, which were handed over already."""

    cursor: str | None
    skip: int


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
    """Whether a ``cursor=`` value is a sharded listing's token rather than an API cursor (or
    a chain's position, which :func:`read_chain_token` reads)."""
    return (
        isinstance(cursor, str) and cursor.lstrip().startswith("{") and not _is_chain_token(cursor)
    )


def _is_chain_token(cursor: str) -> bool:
    try:
        data = parse_json(cursor)
    except ValueError:
        return False  # the sharded reader says what is wrong with it
    return isinstance(data, dict) and data.get("kind") == _CHAIN_KIND


def make_chain_token(position: ChainPosition) -> str:
    """The token of a single chain left part-way through a page (compact JSON)."""
    return _FORMAT.write({"kind": _CHAIN_KIND, "cursor": position.cursor, "skip": position.skip})


def read_chain_token(cursor: str) -> ChainPosition | None:
    """The position a single chain's ``cursor=`` names, or None for an API cursor.

    Raises:
        ResumeTokenError: a chain token that is damaged or from a newer library.
    """
    if not cursor.lstrip().startswith("{") or not _is_chain_token(cursor):
        return None
    data = _FORMAT.read(cursor)
    if data.get("kind") != _CHAIN_KIND or set(data) != {"v", "kind", "cursor", "skip"}:
        raise _bad("not a listing position")
    start, skip = data["cursor"], data["skip"]
    if start is not None and (not isinstance(start, str) or not start):
        raise _bad("its cursor is not a non-empty string")
    if type(skip) is not int or skip < 1:
        raise _bad("its 'skip' is not a positive integer")
    return ChainPosition(cursor=start, skip=skip)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def make_token(identity: ListingIdentity, shards: list[OpenShard]) -> str:
    """The token of a listing with these shards still open, compact JSON."""
    entries: list[dict[str, Any]] = []
    for shard in shards:
        entry: dict[str, Any] = {"start": _time(shard.start), "end": _time(shard.end)}
        if not shard.fresh:
            entry["cutoff"] = _time(shard.cutoff)
            if shard.cursor is not None:
                entry["cursor"] = shard.cursor
            if shard.skip:
                entry["skip"] = shard.skip
            if shard.after is not None:
                entry["after"] = _time(shard.after)
            if not shard.ascending:
                entry["ascending"] = False
        entries.append(entry)
    return _FORMAT.write({"kind": _KIND, **identity.to_json(), "shards": entries})


def _bad(why: str) -> BessaError:
    return _FORMAT.bad(why)


def _read_time(value: object, what: str) -> datetime:
    if isinstance(value, str) and (moment := instant(value)) is not None:
        return moment
    raise _bad(f"{what} is not an aware ISO time: {value!r:.60}")


_SHARD_KEYS: Final = frozenset({"start", "end", "cutoff", "cursor", "skip", "after", "ascending"})
_TOKEN_KEYS: Final = frozenset(
    {"v", "kind", "resource", "field", "window", "ordered", "query", "shards"}
)


def _read_shard(entry: object, identity: ListingIdentity) -> OpenShard:
    if not isinstance(entry, dict):
        raise _bad("a shard is not a JSON object")
    if not entry.keys() <= _SHARD_KEYS:
        raise _bad(f"a shard has unknown fields {sorted(entry.keys() - _SHARD_KEYS)!r:.80}")
    start = _read_time(entry.get("start"), "a shard's start")
    end = _read_time(entry.get("end"), "a shard's end")
    cursor = entry.get("cursor")
    skip = entry.get("skip", 0)
    if cursor is not None and (not isinstance(cursor, str) or not cursor):
        raise _bad("a shard's cursor is not a non-empty string")
    if type(skip) is not int or skip < 0:
        raise _bad("a shard's 'skip' is not a positive integer")
    if cursor is None and not skip:
        if entry.keys() != {"start", "end"}:
            raise _bad("a shard read afresh has more than its start and end")
        cutoff, after, ascending = end, None, True
    else:
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
        start=start,
        end=end,
        cutoff=cutoff,
        cursor=cursor,
        skip=skip,
        after=after,
        ascending=ascending,
    )


def _mismatch(data: Mapping[str, Any], identity: ListingIdentity) -> str | None:
    """What differs between the token's listing and this call, or None."""
    if data.get("resource") != identity.resource:
        return f"it is for {data.get('resource')!r:.60}, this call lists {identity.resource!r}"
    if data.get("field") != identity.field:
        return f"it shards by {data.get('field')!r:.60}, this call by {identity.field!r}"
    window = data.get("window")
    if not isinstance(window, list) or len(window) != 2:
        return "it names no window"
    if [_read_time(w, "the window") for w in window] != [identity.start, identity.end]:
        return (
            f"it is for the window [{window[0]}, {window[1]}), this call lists "
            f"[{_time(identity.start)}, {_time(identity.end)})"
        )
    ordered = data.get("ordered")
    if not isinstance(ordered, bool) or ordered != identity.ordered:
        return f"it was made with ordered={ordered!r:.20}, this call has {identity.ordered}"
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
    """The open shards of ``token``, checked against the call that resumes it: the one place
    a sharded token is judged, before anything is sent.

    Raises:
        ResumeTokenError: not a token, from a newer library, damaged, or made by another listing.
    """
    data = _FORMAT.read(token)
    if data.get("kind") != _KIND:
        raise _bad(f"unknown kind {data.get('kind')!r:.60}")
    if not data.keys() <= _TOKEN_KEYS:
        raise _bad(f"unknown fields {sorted(data.keys() - _TOKEN_KEYS)!r:.80}")
    different = _mismatch(data, identity)
    if different is not None:
        raise ResumeTokenError(
            f"this resume token belongs to another listing: {different}; resume with the same "
            "resource, window, filters and ordered= (nothing was sent)"
        )
    entries = data.get("shards")
    if not isinstance(entries, list) or not entries:
        # A token is only made while something is left to read.
        raise _bad("no shards left to read")
    shards = [_read_shard(entry, identity) for entry in entries]
    for before, after in itertools.pairwise(shards):
        if after.start < before.cutoff:
            raise _bad("its shards overlap or are out of order")
    return shards
