"""DRF's own cursors, for ``Sandbox(drf_cursor=True)``: a position plus an offset.

Django REST Framework's ``CursorPagination`` remembers only the value of the list's first
ordering field (the *position*: a receipt's ``timestamp``, a master-data item's id), and, where
the next page starts inside a group of items sharing one position, how many of that group this
page already showed (the *offset*). The next page is "position greater than P, skip the offset".

So a row that enters or leaves such a group behind the cursor during a walk shifts what the offset
skips: a row leaving makes the next page skip a row nobody read, a row entering makes it show one
again. The sandbox's default cursor (:mod:`._cursor`) names a whole key and cannot do this; this
one reproduces it, to test a client against the real thing. It serves no ``previous`` links.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from bisect import bisect_right
from collections.abc import Sequence

import attrs

from ._cursor import Collection, Item

__all__ = ["OffsetCursor", "OffsetPage", "paginate_offset"]

Position = int | str
"""A time in microseconds (lists ordered by a time field) or an id."""


@attrs.frozen
class OffsetCursor:
    """DRF's cursor: after ``position`` (None: from the start), skipping ``offset`` items."""

    position: Position | None
    offset: int = 0

    def encode(self) -> str:
        """DRF's token: base64 of ``o=<offset>&r=0&p=<position>`` (``p`` left out if none)."""
        pairs = [("o", str(self.offset)), ("r", "0")]
        if self.position is not None:
            pairs.append(("p", str(self.position)))
        raw = urllib.parse.urlencode(pairs).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, *, timed: bool) -> OffsetCursor | None:
        """Read a token made by :meth:`encode`; None when it is not one."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            values = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True, strict_parsing=True))
            offset = int(values["o"])
            position: Position | None = values.get("p")
            if position is not None and timed:
                position = int(position)
        except (binascii.Error, UnicodeDecodeError, ValueError, KeyError):
            return None
        if offset < 0 or values.get("r") != "0":
            return None
        return cls(position, offset)


@attrs.frozen
class OffsetPage:
    """One page cut by :func:`paginate_offset`."""

    items: list[Item]
    count: int
    next: OffsetCursor | None


def paginate_offset(
    collection: Collection,
    matches: Sequence[int],
    cursor: OffsetCursor | None,
    limit: int,
    *,
    timed: bool,
) -> OffsetPage:
    """The page ``cursor`` names among ``matches`` (indices in key order), as DRF cuts it."""
    keys = collection.keys

    def position(index: int) -> Position:
        key = keys[index]
        return key[0] if timed else key[1]

    start = 0
    if cursor is not None and cursor.position is not None:
        start = bisect_right(matches, cursor.position, key=position)
    start += 0 if cursor is None else cursor.offset
    chosen = matches[start : start + limit]
    items = [collection.items[i] for i in chosen]
    if start + limit >= len(matches) or not chosen:
        return OffsetPage(items=items, count=len(matches), next=None)
    # DRF's get_next_link: the last position on the page that differs from the next item's,
    # and how many items at the page's end share the next item's position.
    following = position(matches[start + limit])
    for offset, index in enumerate(reversed(chosen)):
        if position(index) != following:
            return OffsetPage(
                items=items, count=len(matches), next=OffsetCursor(position(index), offset)
            )
    # The whole page shares one position: go on from the same position, further in.
    if cursor is None or (cursor.position is None and cursor.offset == 0):
        return OffsetPage(items=items, count=len(matches), next=OffsetCursor(None, limit))
    return OffsetPage(
        items=items,
        count=len(matches),
        next=OffsetCursor(cursor.position, cursor.offset + limit),
    )
