"""Sorted item storage and DRF-style cursor pagination for the sandbox.

A :class:`Collection` keeps one resource's items sorted by a key ``(int, str)``: for resources with
a business time (receipts, closings, jobs) the int is that time in microseconds since the epoch and
the str the id, so ``timestamp__gte``/``__lt`` windows are two bisections; master data uses
``(0, id)``, i.e. it is ordered by id. Filtered selections are cached per filter and collection
version, so walking a long filtered list costs one scan, then a bisection per page.

A cursor names the key of the last item seen (or the first, for ``previous``), never a position:
it stays valid, and pages neither repeat nor skip, when items are added later.
"""

from __future__ import annotations

import base64
import binascii
import json
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from ._query import micros

__all__ = ["Collection", "Cursor", "Item", "Key", "Page", "Selection", "paginate"]

Item = dict[str, Any]
"""One resource object, pre-serialised to JSON-ready values."""

Key = tuple[int, str]
"""Sort key of an item: ``(time in microseconds or 0, tie-breaker)``."""

_CACHE_SIZE = 32


@attrs.frozen
class Cursor:
    """A position between items: after ``key`` (or before it when ``reverse``); ``None`` = start."""

    key: Key | None
    reverse: bool = False

    def encode(self) -> str:
        """The opaque token: urlsafe base64 of a small JSON object, without padding."""
        payload = {"k": list(self.key) if self.key is not None else None, "r": int(self.reverse)}
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor | None:
        """Read a token made by :meth:`encode`; ``None`` when it is not one."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            payload = json.loads(raw)
        except (binascii.Error, ValueError):
            return None
        if not isinstance(payload, dict) or payload.keys() != {"k", "r"}:
            return None
        key, reverse = payload["k"], payload["r"]
        if reverse not in (0, 1):
            return None
        if key is None:
            return cls(None, bool(reverse))
        if (
            isinstance(key, list)
            and len(key) == 2
            and isinstance(key[0], int)
            and isinstance(key[1], str)
        ):
            return cls((key[0], key[1]), bool(reverse))
        return None


@attrs.frozen
class Selection:
    """A filter over a collection: a key-time window, an ``updated`` window, equalities."""

    time_gte: int | None = None
    time_lt: int | None = None
    updated_gte: int | None = None
    updated_lt: int | None = None
    equals: tuple[tuple[str, object], ...] = ()


def _stamp(value: str) -> int:
    return micros(datetime.fromisoformat(value))


class Collection:
    """One resource's items, sorted by key, addressable by id, with cached filtered views."""

    def __init__(
        self,
        items: Iterable[Item],
        *,
        key: Callable[[Item], Key],
        id_field: str | None = "id",
    ) -> None:
        pairs = sorted(((key(item), item) for item in items), key=lambda pair: pair[0])
        self._key = key
        self._id_field = id_field
        self.keys: list[Key] = [pair[0] for pair in pairs]
        self.items: list[Item] = [pair[1] for pair in pairs]
        self.updated: list[int] = [_stamp(item["updated"]) for item in self.items]
        self.by_id: dict[str, Item] = (
            {item[id_field]: item for item in self.items} if id_field else {}
        )
        self.version = 0
        self._cache: dict[tuple[int, Selection], Sequence[int]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: Item) -> None:
        """Insert an item at its key's place."""
        key = self._key(item)
        index = bisect_right(self.keys, key)
        insort(self.keys, key)
        self.items.insert(index, item)
        self.updated.insert(index, _stamp(item["updated"]))
        if self._id_field:
            self.by_id[item[self._id_field]] = item
        self._changed()

    def touch(self, item: Item) -> None:
        """Re-read an item's ``updated`` after it was changed in place (its key must not change)."""
        index = bisect_left(self.keys, self._key(item))
        self.updated[index] = _stamp(item["updated"])
        self._changed()

    def rekey(self, item: Item, old: Key) -> None:
        """Move an item whose key was ``old`` to its key's place now (its key changed)."""
        index = bisect_left(self.keys, old)
        del self.keys[index], self.items[index], self.updated[index]
        key = self._key(item)
        at = bisect_right(self.keys, key)
        self.keys.insert(at, key)
        self.items.insert(at, item)
        self.updated.insert(at, _stamp(item["updated"]))
        self._changed()

    def remove(self, item: Item) -> None:
        """Take an item out (it must be stored under its current key)."""
        index = bisect_left(self.keys, self._key(item))
        if index >= len(self.items) or self.items[index] is not item:
            raise KeyError("the item is not in this collection")
        del self.keys[index], self.items[index], self.updated[index]
        if self._id_field:
            self.by_id.pop(item[self._id_field], None)
        self._changed()

    def replace(self, old: Item, new: Item) -> None:
        """Serve ``new`` instead of ``old`` (at the place of its own key)."""
        self.remove(old)
        self.add(new)

    def _changed(self) -> None:
        self.version += 1
        self._cache.clear()

    def select(self, selection: Selection) -> Sequence[int]:
        """Indices of the matching items, in key order."""
        cache_key = (self.version, selection)
        if (cached := self._cache.get(cache_key)) is not None:
            return cached
        lo = 0 if selection.time_gte is None else bisect_left(self.keys, (selection.time_gte, ""))
        hi = (
            len(self.keys)
            if selection.time_lt is None
            else bisect_left(self.keys, (selection.time_lt, ""))
        )
        window = range(lo, max(lo, hi))
        result: Sequence[int]
        if selection.updated_gte is None and selection.updated_lt is None and not selection.equals:
            result = window
        else:
            u_gte, u_lt, equals = selection.updated_gte, selection.updated_lt, selection.equals
            updated, items = self.updated, self.items
            result = [
                i
                for i in window
                if (u_gte is None or updated[i] >= u_gte)
                and (u_lt is None or updated[i] < u_lt)
                and all(items[i].get(field) == value for field, value in equals)
            ]
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[cache_key] = result
        return result


@attrs.frozen
class Page:
    """One page of a list answer, before rendering ``next``/``previous``."""

    items: list[Item]
    count: int
    next: Cursor | None
    previous: Cursor | None


def paginate(
    collection: Collection, matches: Sequence[int], cursor: Cursor | None, limit: int
) -> Page:
    """Cut the page that ``cursor`` names out of ``matches`` (indices in key order)."""
    keys = collection.keys

    def key_of(index: int) -> Key:
        return keys[index]

    if cursor is None or cursor.key is None:
        start = 0
        end = min(len(matches), limit)
    elif cursor.reverse:
        end = bisect_left(matches, cursor.key, key=key_of)
        start = max(0, end - limit)
    else:
        start = bisect_right(matches, cursor.key, key=key_of)
        end = min(len(matches), start + limit)
    chosen = [collection.items[i] for i in matches[start:end]]
    next_cursor = Cursor(keys[matches[end - 1]]) if end < len(matches) and chosen else None
    previous = Cursor(keys[matches[start]], reverse=True) if start > 0 and chosen else None
    return Page(items=chosen, count=len(matches), next=next_cursor, previous=previous)
