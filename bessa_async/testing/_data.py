"""The seeded generator of a tenant's data: master data, receipts, closings and stock levels.

Everything is a pure function of the arguments (seed, receipt count, start date, number of days):
the same arguments give byte-identical data. Ids are UUIDs drawn from the seeded generator,
timestamps are UTC (``Z``; about half carry microseconds), amounts are two-decimal strings computed
with :class:`~decimal.Decimal` and ``ROUND_HALF_UP``, quantities carry up to three decimals.

The receipts contain, on purpose, what a client must get right: voids
(``"cancellation"``, negative amounts, ``cancels`` naming an earlier invoice of the same main Sales
Point), training receipts, zero receipts (``"start"``, ``"null"``, ``"closing"``), tips, a bar whose
business day starts at 06:00 (sales at 01:30 local time belong to the day before), lines whose tax
rate differs from their article's (pricing levels), weight articles with decimal quantities and
deposit returns as negative-quantity lines. A start date and day count spanning a DST switch give
23 h and 25 h business days, since opening hours are local (Europe/Vienna) wall-clock times.

Sums hold exactly: a line's ``total`` is ``quantity * unit_price - discount`` rounded half-up to
cents; a receipt's ``total`` is the sum of its lines; ``taxes`` group the lines by rate with
``gross`` the rate's line sum, ``net = gross / (1 + rate)`` rounded half-up and ``tax = gross -
net``; payments sum to ``total + tip``.

The tables drawn from are in :mod:`._catalogue`; the receipts are drawn in :mod:`._receipts`.
"""

from __future__ import annotations

import functools
import random
import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final

from ._amounts import ZERO, money
from ._calendar import local_moment, period_end
from ._catalogue import (
    AREAS,
    CATALOG,
    GROUPS,
    LAYOUT_A,
    LAYOUT_B,
    OPTIONS,
    PAYMENT_METHODS,
    TAX_RATES,
    USERS,
    Layout,
)
from ._cursor import Item
from ._query import format_timestamp, micros
from ._receipts import ReceiptWriter, Shop
from ._tenant_data import TenantData

__all__ = ["REVENUE_TYPES", "TenantData", "generate_tenant"]

_MILLI: Final = Decimal("0.001")
REVENUE_TYPES: Final = frozenset({"invoice", "cancellation"})
_Items = list[dict[str, Any]]


class _Ids:
    """Deterministic UUIDs drawn from one generator."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def __call__(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


def _ean(rng: random.Random) -> str:
    digits = [9, 0] + [rng.randrange(10) for _ in range(10)]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return "".join(map(str, digits)) + str(check)


@functools.lru_cache(maxsize=8)
def generate_tenant(
    *, name: str, seed: str, receipts: int, start: date, days: int, small: bool = False
) -> TenantData:
    """Generate one tenant's data; results are cached, so the same arguments return one object.

    Args:
        name: the tenant's log name, e.g. ``"tenant-a"``.
        seed: seeds every random choice.
        receipts: exact number of receipts to generate.
        start: first local trading day.
        days: number of trading days.
        small: use the small layout (one company, two locations) of tenant B.
    """
    return _Generator(name=name, seed=seed, start=start, days=days, small=small).run(receipts)


class _Generator:
    """One run of the generator: the master data, then receipts, closings and stock levels.

    Every step draws from the same seeded generator, in a fixed order: reordering the steps (or
    the draws inside one) changes the data of every seed.
    """

    def __init__(self, *, name: str, seed: str, start: date, days: int, small: bool) -> None:
        if days < 1:
            raise ValueError("days must be at least 1")
        self.name = name
        self.rng = random.Random(f"bessa-sandbox:{seed}")
        self.new_id = _Ids(self.rng)
        self.start = start
        self.days = days
        self.layout = LAYOUT_B if small else LAYOUT_A
        self.epoch = local_moment(start, 0) - timedelta(days=400)
        self.period_end = period_end(start, days)

    def run(self, receipt_count: int) -> TenantData:
        companies = self._companies()
        locations = self._locations(companies)
        sales_points = self._sales_points(locations)
        tax_rates = self._tax_rates()
        rate_id = {item["rate"]: item["id"] for item in tax_rates}
        groups = self._article_groups(rate_id)
        options = self._article_options()
        articles, article_rate = self._articles(groups, options, rate_id)
        payment_methods = self._payment_methods()
        tables, users = self._tables_and_users(locations)
        shop = _shop(
            self.layout,
            locations,
            sales_points,
            users,
            tables,
            articles,
            article_rate,
            payment_methods,
        )
        receipts = ReceiptWriter(
            shop, rng=self.rng, new_id=self.new_id, start=self.start, days=self.days
        ).write(receipt_count)
        closings = self._closings(sales_points, receipts)
        stock_levels = self._stock_levels(articles, locations)

        def by_id(items: Sequence[dict[str, Any]]) -> tuple[Item, ...]:
            return tuple(sorted(items, key=lambda item: item["id"]))

        return TenantData(
            name=self.name,
            start=self.start,
            days=self.days,
            companies=by_id(companies),
            locations=by_id(locations),
            sales_points=by_id(sales_points),
            tax_rates=by_id(tax_rates),
            article_groups=by_id(list(groups.values())),
            articles=by_id(articles),
            article_options=by_id(list(options.values())),
            payment_methods=by_id(payment_methods),
            tables=by_id(tables),
            users=by_id(users),
            receipts=tuple(receipts),
            closings=tuple(closings),
            stock_levels=tuple(stock_levels),
            day_starts={
                sales_points[i]["id"]: time(plan.day_start)
                for i, plan in enumerate(self.layout.sales_points)
                if plan.main is None
            },
        )

    # -- master data --

    def _stamps(self, item: dict[str, Any], *, late: bool = False) -> dict[str, Any]:
        """Add ``created``/``updated``: before the period, or (``late``) updated inside it."""
        created = self.epoch + timedelta(seconds=self.rng.randrange(300 * 86_400))
        created = created.replace(microsecond=self.rng.choice((0, self.rng.randrange(1_000_000))))
        if late:
            span = int((self.period_end - local_moment(self.start, 0)).total_seconds())
            updated = local_moment(self.start, 0) + timedelta(seconds=self.rng.randrange(span))
        else:
            updated = created + timedelta(seconds=self.rng.randrange(30 * 86_400))
        item["created"] = format_timestamp(created)
        item["updated"] = format_timestamp(updated)
        return item

    def _companies(self) -> _Items:
        new_id = self.new_id
        return [
            self._stamps({"id": new_id(), "name": n, "uid": uid, "address": address})
            for n, uid, address in self.layout.companies
        ]

    def _locations(self, companies: _Items) -> _Items:
        new_id = self.new_id
        return [
            self._stamps(
                {
                    "id": new_id(),
                    "company": companies[c]["id"],
                    "name": n,
                    "address": address,
                    "timezone": "Europe/Vienna",
                }
            )
            for c, n, address in self.layout.locations
        ]

    def _sales_points(self, locations: _Items) -> _Items:
        """Sales Points in layout order; a terminal names its main Sales Point, drawn before it."""
        sales_points: _Items = []
        for index, plan in enumerate(self.layout.sales_points):
            sales_points.append(
                self._stamps(
                    {
                        "id": self.new_id(),
                        "location": None
                        if plan.location is None
                        else locations[plan.location]["id"],
                        "name": plan.name,
                        "fiscal_id": f"BESSA-{self.name[-1].upper()}{index + 1:03d}",
                        "main": None if plan.main is None else sales_points[plan.main]["id"],
                        "status": plan.status,
                    },
                    late=plan.status == "inactive",
                )
            )
        return sales_points

    def _tax_rates(self) -> _Items:
        return [
            self._stamps({"id": self.new_id(), "name": n, "rate": rate}) for n, rate in TAX_RATES
        ]

    def _article_groups(self, rate_id: dict[str, str]) -> dict[str, dict[str, Any]]:
        """Article groups by catalogue key."""
        new_id = self.new_id
        groups: dict[str, dict[str, Any]] = {}
        for key, n, account, rate, discountable, online in GROUPS:
            groups[key] = self._stamps(
                {
                    "id": new_id(),
                    "name": n,
                    "account_number": account,
                    "tax_rate": rate_id[rate],
                    "discountable": discountable,
                    "online_orders": online,
                    "printing_group": None if key in ("voucher", "deposit") else new_id(),
                }
            )
        return groups

    def _article_options(self) -> dict[str, dict[str, Any]]:
        """Article options by catalogue key."""
        new_id = self.new_id
        options: dict[str, dict[str, Any]] = {}
        for key, n, choices, low, high in OPTIONS:
            options[key] = self._stamps(
                {
                    "id": new_id(),
                    "name": n,
                    "choices": [{"id": new_id(), "name": c, "price": p} for c, p in choices],
                    "min": low,
                    "max": high,
                }
            )
        return options

    def _articles(
        self,
        groups: dict[str, dict[str, Any]],
        options: dict[str, dict[str, Any]],
        rate_id: dict[str, str],
    ) -> tuple[_Items, dict[str, Decimal]]:
        """The layout's share of the catalogue, and each article's group tax rate by id."""
        rng, new_id = self.rng, self.new_id
        group_rate = {key: rate for key, _, _, rate, _, _ in GROUPS}
        articles: _Items = []
        article_rate: dict[str, Decimal] = {}
        for entry in CATALOG[:: self.layout.catalog_step]:
            n, kind, price, group, explicit, stock, active, bottled, opts = entry
            price_d = Decimal(price)
            cost = (
                None
                if kind in ("open_price", "voucher", "deposit")
                else money(price_d / Decimal("1.2") * Decimal(rng.choice(("0.25", "0.3", "0.35"))))
            )
            item = self._stamps(
                {
                    "id": new_id(),
                    "name": n,
                    "type": kind,
                    "product_number": _ean(rng) if bottled else None,
                    "article_group": groups[group]["id"],
                    "tax_rate": rate_id[group_rate[group]] if explicit else None,
                    "price": price,
                    "cost": cost,
                    "active": active,
                    "stock_managed": stock,
                    "options": [options[o]["id"] for o in opts],
                },
                late=not active,
            )
            articles.append(item)
            article_rate[item["id"]] = Decimal(group_rate[group])
        return articles, article_rate

    def _payment_methods(self) -> _Items:
        return [
            self._stamps({"id": self.new_id(), "name": n, "type": kind, "active": active})
            for n, kind, active in PAYMENT_METHODS
        ]

    def _tables_and_users(self, locations: _Items) -> tuple[_Items, _Items]:
        """Per location its tables and staff (drawn location by location), then a former user."""
        new_id = self.new_id
        small = self.layout is LAYOUT_B
        tables: _Items = []
        users: _Items = []
        for location in locations:
            for number in range(1, 4 if small else 7):
                tables.append(
                    self._stamps(
                        {
                            "id": new_id(),
                            "name": str(number),
                            "area": AREAS[number % len(AREAS)],
                            "active": number != 5,
                            "location": location["id"],
                        }
                    )
                )
            for user_name, role in USERS[: 3 if small else 4]:
                users.append(
                    self._stamps(
                        {
                            "id": new_id(),
                            "name": f"{user_name} ({location['name']})",
                            "active": True,
                            "role": role,
                            "location": location["id"],
                        }
                    )
                )
        users.append(
            self._stamps(
                {"id": new_id(), "name": "Ehemalig", "active": False, "role": "waiter"},
                late=True,
            )
        )
        users[-1]["location"] = None
        return tables, users

    # -- closings and stock --

    def _closings(self, sales_points: _Items, receipts: Sequence[Item]) -> list[Item]:
        """Per main Sales Point a daily closing of each day it sold, and a monthly (in December
        a yearly) one on a month's last day, each numbered like the daily closing before it."""
        plans = self.layout.sales_points
        by_main: dict[str, list[int]] = defaultdict(list)
        receipts_of: dict[str, list[Item]] = defaultdict(list)
        main_of_id = {
            sales_points[i]["id"]: sales_points[self.layout.main_of(i)]["id"]
            for i in range(len(plans))
        }
        for receipt in receipts:
            stamp = micros(datetime.fromisoformat(receipt["timestamp"]))
            main = main_of_id[receipt["sales_point"]]
            by_main[main].append(stamp)
            receipts_of[main].append(receipt)
        closings: list[Item] = []
        for index, plan in enumerate(plans):
            if plan.main is not None or plan.status != "active":
                continue
            sp_id = sales_points[index]["id"]
            stamps, mine = by_main[sp_id], receipts_of[sp_id]

            def between(lo: datetime, hi: datetime) -> list[Item]:
                return mine[bisect_left(stamps, micros(lo)) : bisect_left(stamps, micros(hi))]  # noqa: B023

            number = 0
            for offset in range(self.days):
                day = self.start + timedelta(days=offset)
                begin = local_moment(day, plan.day_start)
                end = local_moment(day + timedelta(days=1), plan.day_start)
                inside = between(begin, end)
                if not inside:
                    continue
                number += 1
                last = datetime.fromisoformat(inside[-1]["timestamp"])
                moment = min(last + timedelta(minutes=self.rng.randrange(2, 20)), end)
                closings.append(self._closing(sp_id, "daily", number, moment, begin, end, inside))
                if (day + timedelta(days=1)).month != day.month:
                    month_begin = local_moment(day.replace(day=1), plan.day_start)
                    month = between(month_begin, end)
                    kind = "yearly" if day.month == 12 else "monthly"
                    closings.append(
                        self._closing(
                            sp_id,
                            kind,
                            number,
                            moment + timedelta(seconds=1),
                            month_begin,
                            end,
                            month,
                        )
                    )
        closings.sort(key=lambda c: (datetime.fromisoformat(c["timestamp"]), c["id"]))
        return closings

    def _closing(
        self,
        sp_id: str,
        kind: str,
        number: int,
        moment: datetime,
        begin: datetime,
        end: datetime,
        receipts: Sequence[Item],
    ) -> Item:
        gross = sum((Decimal(r["total"]) for r in receipts if r["type"] in REVENUE_TYPES), ZERO)
        return {
            "id": self.new_id(),
            "sales_point": sp_id,
            "type": kind,
            "number": number,
            "timestamp": format_timestamp(moment),
            "start": format_timestamp(begin),
            "end": format_timestamp(end),
            "gross": money(gross),
            "receipts": len(receipts),
            "created": format_timestamp(moment + timedelta(seconds=5)),
            "updated": format_timestamp(moment + timedelta(seconds=5)),
        }

    def _stock_levels(
        self, articles: Sequence[dict[str, Any]], locations: Sequence[dict[str, Any]]
    ) -> list[Item]:
        rng = self.rng
        levels: list[Item] = []
        for article in articles:
            if not article["stock_managed"]:
                continue
            for location in locations:
                if article["type"] == "weight":
                    quantity, unit = Decimal(rng.randrange(0, 20_000)) / 1000, "kg"
                elif "1/8" in article["name"]:
                    quantity, unit = Decimal(rng.randrange(0, 60_000)) / 1000, "l"
                else:
                    quantity, unit = Decimal(rng.randrange(-3, 240)), "pcs"
                updated = self.period_end - timedelta(seconds=rng.randrange(40 * 86_400))
                levels.append(
                    {
                        "article": article["id"],
                        "location": location["id"],
                        "quantity": f"{quantity.quantize(_MILLI):.3f}",
                        "unit": unit,
                        "updated": format_timestamp(updated),
                    }
                )
        levels.sort(key=lambda level: (level["article"], level["location"]))
        return levels


def _shop(
    layout: Layout,
    locations: _Items,
    sales_points: _Items,
    users: _Items,
    tables: _Items,
    articles: _Items,
    article_rate: dict[str, Decimal],
    payment_methods: _Items,
) -> Shop:
    """What the receipts draw from: the master data, with lookups by type and location."""
    tables_at: dict[str | None, _Items] = defaultdict(list)
    users_at: dict[str | None, _Items] = defaultdict(list)
    for table in tables:
        tables_at[table["location"]].append(table)
    for user in users:
        users_at[user["location"]].append(user)
    return Shop(
        layout=layout,
        locations=locations,
        sales_points=sales_points,
        users=users,
        article_rate=article_rate,
        methods={m["type"]: m for m in payment_methods},
        sellable=[a for a in articles if a["active"] and a["type"] != "deposit"],
        deposit=next((a for a in articles if a["type"] == "deposit" and a["active"]), None),
        tables_at=tables_at,
        users_at=users_at,
    )
