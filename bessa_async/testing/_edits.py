"""Changes to a tenant's data while the sandbox runs: inserts, edits, deletes, late uploads.

Every write is stamped by the sandbox's wall clock (``updated`` = now) and, with a commit lag,
becomes visible only ``lag`` after that stamp, the way a long transaction commits rows whose
``updated`` it took when it began. A commit takes elapsed time: a server clock set ahead or put
right meanwhile neither hastens nor delays it. Writes to one item become visible in the order
they were made. The generated data is shared between sandboxes, so a write never changes a dict
in place: it serves a new one.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final, final

import attrs

from ._amounts import money
from ._cursor import Collection, Item
from ._data import REVENUE_TYPES
from ._tenants import Tenant
from ._wall import WallClock

__all__ = ["Editor", "ServedPage", "identity"]

_STAMPS: Final = frozenset({"created", "updated", "deleted"})
_MAX_GAP: Final = timedelta(minutes=1)


def identity(item: Item) -> str:
    """An item's id; stock levels, which have none, are ``"<article>/<location>"``."""
    ident = item.get("id")
    return str(ident) if ident is not None else f"{item.get('article')}/{item.get('location')}"


@final
@attrs.frozen(kw_only=True)
class ServedPage:
    """A list page the sandbox answered, as ``Sandbox.after_page`` callbacks are told it."""

    resource: str
    """The list's path without the trailing slash, e.g. ``"receipts"``."""
    number: int
    """This resource's list pages answered since the callback was set, this one included."""
    first: bool
    """The page was asked for without a cursor (the start of a walk)."""
    items: tuple[Item, ...] = attrs.field(repr=False)
    """The items served, in list order."""


@attrs.frozen
class _Write:
    """One write waiting for its commit: the version to serve (None: removed)."""

    visible_at: datetime
    """On the offset-free clock (:meth:`WallClock.client_now`)."""
    resource: str
    ident: str
    item: Item | None


@final
class Editor:
    """One tenant's writes, applied to its served collections when they are due."""

    def __init__(
        self,
        tenant: Tenant,
        wall: WallClock,
        *,
        soft_deletes: bool,
        commit_lag: timedelta,
        rng: random.Random,
    ) -> None:
        self._tenant = tenant
        self._wall = wall
        self.soft_deletes = soft_deletes
        self.commit_lag = commit_lag
        self._rng = rng
        self._pending: list[_Write] = []
        self._latest: dict[tuple[str, str], Item | None] = {}
        """Each written item's newest version, committed or not (None: removed)."""

    @property
    def commit_lag(self) -> timedelta:
        """How long after its stamp a write made from now on becomes visible."""
        return self._commit_lag

    @commit_lag.setter
    def commit_lag(self, lag: timedelta) -> None:
        if lag < timedelta(0):
            raise ValueError("commit_lag must not be negative")
        self._commit_lag = lag

    @property
    def pending(self) -> int:
        """Writes not visible yet."""
        return len(self._pending)

    def commit(self) -> None:
        """Make every write that is due visible."""
        if not self._pending:
            return
        now = self._wall.client_now()
        due = [w for w in self._pending if w.visible_at <= now]
        self._pending = [w for w in self._pending if w.visible_at > now]
        for write in due:
            collection = self._collection(write.resource)
            old = self._served(collection, write.ident)
            if old is not None and write.item is not None:
                collection.replace(old, write.item)
            elif old is not None:
                collection.remove(old)
            elif write.item is not None:
                collection.add(write.item)

    def items(self, resource: str) -> list[Item]:
        """The items a list of ``resource`` serves now, in list order."""
        self.commit()
        return list(self._collection(resource).items)

    # -- writes ----------------------------------------------------------------------------

    def insert(self, resource: str, fields: Mapping[str, Any], lag: timedelta | None) -> Item:
        """A new item: a copy of one of the resource's items (for receipts, an invoice of
        the Sales Point named), with a new id, ``fields`` over it, created and updated now."""
        resource, fields = self._name(resource), self._rendered(fields)
        collection = self._collection(resource)
        now = self._wall.now()
        template = self._template(resource, collection, fields)
        item = dict(template)
        if "id" in template:
            item["id"] = self._new_id()
        if resource == "receipts":
            when = fields.get("timestamp") or self._wall.stamp(now)
            item.update(self._receipt_fields(item, when))
        item.update(fields)
        item["created"] = item["updated"] = self._wall.stamp(now)
        if self.soft_deletes:
            item["deleted"] = None
        ident = identity(item)
        if self._current(resource, ident) is not None:
            raise ValueError(f"{resource}: an item {ident!r} exists already")
        self._write(resource, ident, item, lag)
        return dict(item)

    def edit(
        self, resource: str, ident: str, fields: Mapping[str, Any], lag: timedelta | None
    ) -> Item:
        """The item with ``fields`` changed and ``updated`` now."""
        resource, fields = self._name(resource), self._rendered(fields)
        if "id" in fields:
            raise ValueError("an item's id cannot be edited")
        old = self._existing(resource, ident)
        now = self._wall.now()
        item = {**old, **fields, "updated": self._wall.stamp(now)}
        self._write(resource, ident, item, lag)
        return dict(item)

    def delete(
        self, resource: str, ident: str, lag: timedelta | None, soft: bool | None = None
    ) -> Item:
        """Soft deletes flag the item (``deleted`` and ``updated`` now); else it is removed.
        ``soft`` None: as the sandbox was made. Returns the flagged item, or the last version
        of the removed one."""
        resource = self._name(resource)
        old = self._existing(resource, ident)
        now = self._wall.now()
        if not (self.soft_deletes if soft is None else soft):
            self._write(resource, ident, None, lag)
            return dict(old)
        stamp = self._wall.stamp(now)
        item = {**old, "deleted": stamp, "updated": stamp}
        self._write(resource, ident, item, lag)
        return dict(item)

    def upload_late(
        self, sales_point: str | None, count: int, hours_ago: float, lag: timedelta | None
    ) -> list[Item]:
        """``count`` receipts of an offline till, timestamped from ``hours_ago`` on, a
        minute apart (closer if they would not fit), created and updated now."""
        if count < 1:
            raise ValueError("count must be at least 1")
        if not hours_ago > 0:
            raise ValueError("hours_ago must be more than 0")
        offline = timedelta(hours=hours_ago)
        gap = min(_MAX_GAP, offline / (count + 1))
        began = self._wall.now() - offline
        chosen = {} if sales_point is None else {"sales_point": sales_point}
        return [
            self.insert("receipts", {**chosen, "timestamp": began + gap * n}, lag)
            for n in range(count)
        ]

    def close_day(self, sales_point: str, lag: timedelta | None) -> Item:
        """A main Sales Point's daily closing, stamped now: its (and its sub-terminals')
        receipts since the end of its last closing (a day ago if it has none), numbered after
        that closing."""
        points = {str(p["id"]): p for p in self.items("sales-points")}
        point = points.get(sales_point)
        if point is None:
            raise KeyError(f"no Sales Point {sales_point!r} in tenant A")
        if point["main"] is not None:
            raise ValueError(
                f"Sales Point {sales_point!r} is a sub-terminal: close its main one, "
                f"{point['main']!r}"
            )
        now = self._wall.now()
        previous = [c for c in self.items("reports/closings") if c["sales_point"] == sales_point]
        begin = datetime.fromisoformat(previous[-1]["end"]) if previous else now - timedelta(days=1)
        till = {ident for ident, p in points.items() if sales_point in (ident, p["main"])}
        inside = [
            r
            for r in self.items("receipts")
            if r["sales_point"] in till and begin <= datetime.fromisoformat(r["timestamp"]) < now
        ]
        gross = sum((Decimal(r["total"]) for r in inside if r["type"] in REVENUE_TYPES), Decimal(0))
        fields = {
            "sales_point": sales_point,
            "type": "daily",
            "number": previous[-1]["number"] + 1 if previous else 1,
            "timestamp": now,
            "start": begin,
            "end": now,
            "gross": money(gross),
            "receipts": len(inside),
        }
        return self.insert("reports/closings", fields, lag)

    # -- helpers ---------------------------------------------------------------------------

    def _write(self, resource: str, ident: str, item: Item | None, lag: timedelta | None) -> None:
        wait = self.commit_lag if lag is None else lag
        if wait < timedelta(0):
            raise ValueError("lag must not be negative")
        # Elapsed time, not the server's clock, which a step would move.
        visible_at = self._wall.client_now() + wait
        for write in self._pending:  # one item's writes become visible in the order made
            if write.resource == resource and write.ident == ident:
                visible_at = max(visible_at, write.visible_at)
        self._latest[(resource, ident)] = item
        self._pending.append(_Write(visible_at, resource, ident, item))
        self.commit()

    def _name(self, resource: str) -> str:
        self._collection(resource)
        return resource.strip("/")

    def _collection(self, resource: str) -> Collection:
        collection = self._tenant.collections.get(resource.strip("/"))
        if collection is None or resource.startswith("requests/"):
            known = ", ".join(p for p in self._tenant.collections if not p.startswith("requests/"))
            raise ValueError(f"no resource {resource!r}; the sandbox's resources: {known}")
        return collection

    @staticmethod
    def _served(collection: Collection, ident: str) -> Item | None:
        if collection.by_id or "/" not in ident:
            return collection.by_id.get(ident)
        return next((item for item in collection.items if identity(item) == ident), None)

    def _current(self, resource: str, ident: str) -> Item | None:
        """The newest version of an item, including writes not visible yet."""
        key = (resource.strip("/"), ident)
        if key in self._latest:
            return self._latest[key]
        return self._served(self._collection(resource), ident)

    def _existing(self, resource: str, ident: str) -> Item:
        item = self._current(resource, str(ident))
        if item is None:
            raise KeyError(f"{resource}: no item {ident!r}")
        return item

    def _rendered(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``fields`` as the API renders them (datetimes as timestamps); stamps refused."""
        if stamped := sorted(_STAMPS & fields.keys()):
            raise ValueError(
                f"{', '.join(stamped)}: set by the sandbox's clock; move the clock instead"
            )
        rendered = dict(fields)
        for name, value in fields.items():
            if isinstance(value, datetime):
                if value.utcoffset() is None:
                    raise ValueError(f"{name}: a naive datetime; give it a tzinfo (e.g. UTC)")
                rendered[name] = self._wall.stamp(value)
        return rendered

    def _template(self, resource: str, collection: Collection, fields: Mapping[str, Any]) -> Item:
        if resource == "receipts":
            point = fields.get("sales_point")
            for item in collection.items:
                if item["type"] == "invoice" and point in (None, item["sales_point"]):
                    return item
            raise ValueError(f"receipts: no invoice of Sales Point {point!r} to copy")
        if not collection.items:
            raise ValueError(f"{resource}: no item to copy")
        return collection.items[0]

    def _receipt_fields(self, template: Item, when: str) -> dict[str, Any]:
        """A copied invoice's own number, timestamp and signature text."""
        moment = datetime.fromisoformat(when)
        number = self._tenant.jobs.next_number(template["sales_point"], moment)
        qr = template["signature"]["qr"].split("_")
        qr[3] = number
        return {
            "number": number,
            "timestamp": when,
            "signature": {**template["signature"], "qr": "_".join(qr)},
        }

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
