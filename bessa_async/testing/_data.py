"""The seeded generator of a tenant's data: master data, receipts, closings and stock levels.

Everything is a pure function of the arguments (seed, receipt count, start date, number of days):
the same arguments give byte-identical data. Ids are UUIDs drawn from the seeded generator,
timestamps are UTC (``Z``; about half carry microseconds), amounts are two-decimal strings computed
with :class:`~decimal.Decimal` and ``ROUND_HALF_UP``, quantities carry up to three decimals.

The receipts contain, on purpose, what a client must get right (domain.md): voids
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
"""

from __future__ import annotations

import functools
import random
import uuid
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, TypeVar, final
from zoneinfo import ZoneInfo

import attrs

from ._cursor import Item
from ._filters import format_timestamp, micros

__all__ = ["VIENNA", "TenantData", "generate_tenant", "money", "quantity_text", "taxes_by_rate"]

_T = TypeVar("_T")
VIENNA: Final = ZoneInfo("Europe/Vienna")
CENT: Final = Decimal("0.01")
_MILLI: Final = Decimal("0.001")
_ZERO: Final = Decimal("0.00")
_REVENUE_TYPES: Final = frozenset({"invoice", "cancellation"})


def money(value: Decimal) -> str:
    """Two-decimal string of an amount, rounded half-up."""
    return f"{value.quantize(CENT, ROUND_HALF_UP):.2f}"


def quantity_text(value: Decimal) -> str:
    """A quantity as the API writes it: no trailing zeros (``"2"``, ``"0.425"``, ``"-1"``)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def net_of(gross: Decimal, rate: Decimal) -> Decimal:
    """Net amount of a gross amount at ``rate`` percent, rounded half-up to cents."""
    return (gross / (1 + rate / 100)).quantize(CENT, ROUND_HALF_UP)


@final
@attrs.frozen(kw_only=True, eq=False)
class TenantData:
    """One tenant's generated data, items pre-serialised as the API renders them.

    Treat it as read-only: the sandbox serves these very dicts. Every tuple is in the order the
    API lists it (receipts and closings by ``timestamp`` then ``id``; master data by ``id``;
    stock levels by ``article`` then ``location``).
    """

    name: str
    """The tenant's name in the request log, e.g. ``"tenant-a"``."""
    start: date
    """First local trading day."""
    days: int
    """Number of local trading days."""
    companies: tuple[Item, ...]
    locations: tuple[Item, ...]
    sales_points: tuple[Item, ...]
    tax_rates: tuple[Item, ...]
    article_groups: tuple[Item, ...]
    articles: tuple[Item, ...]
    article_options: tuple[Item, ...]
    payment_methods: tuple[Item, ...]
    tables: tuple[Item, ...]
    users: tuple[Item, ...]
    receipts: tuple[Item, ...]
    closings: tuple[Item, ...]
    stock_levels: tuple[Item, ...]
    day_starts: Mapping[str, time]
    """Business day start (local time) per main Sales Point id."""

    def resources(self) -> dict[str, tuple[Item, ...]]:
        """Items per list path, relative to the API base and without the trailing slash."""
        return {
            "companies": self.companies,
            "locations": self.locations,
            "sales-points": self.sales_points,
            "tax-rates": self.tax_rates,
            "article-groups": self.article_groups,
            "articles": self.articles,
            "article-options": self.article_options,
            "payment-methods": self.payment_methods,
            "tables": self.tables,
            "users": self.users,
            "receipts": self.receipts,
            "reports/closings": self.closings,
            "stock-levels": self.stock_levels,
        }

    def receipt(self, receipt_id: str) -> Item:
        """The receipt with this id (``KeyError`` if there is none)."""
        return self._receipts_by_id()[receipt_id]

    @functools.cache  # noqa: B019 - the instance is immutable and lives as long as the sandbox
    def _receipts_by_id(self) -> dict[str, Item]:
        return {item["id"]: item for item in self.receipts}


# --- layout ---------------------------------------------------------------------------------


@attrs.frozen
class _SalesPointPlan:
    name: str
    location: int | None
    main: int | None
    status: str
    day_start: int  # hour
    opening: tuple[float, float]  # local hours; close may exceed 24
    weight: float


@attrs.frozen
class _Layout:
    companies: tuple[tuple[str, str, str], ...]
    locations: tuple[tuple[int, str, str], ...]
    sales_points: tuple[_SalesPointPlan, ...]
    catalog_step: int  # take every n-th article of the catalog


_LAYOUT_A: Final = _Layout(
    companies=(
        ("Gasthaus Sonne GmbH", "ATU12345675", "Neubaugasse 12, 1070 Wien"),
        ("Bar Mond OG", "ATU87654328", "Praterstraße 40, 1020 Wien"),
    ),
    locations=(
        (0, "Sonne Neubau", "Neubaugasse 12, 1070 Wien"),
        (0, "Sonne Leopoldstadt", "Taborstraße 8, 1020 Wien"),
        (1, "Bar Mond", "Praterstraße 40, 1020 Wien"),
    ),
    sales_points=(
        _SalesPointPlan("Neubau Kasse 1", 0, None, "active", 0, (10.0, 23.0), 1.0),
        _SalesPointPlan("Neubau Terminal 2", 0, 0, "active", 0, (11.0, 22.5), 0.5),
        _SalesPointPlan("Leopoldstadt Kasse", 1, None, "active", 0, (9.0, 22.0), 0.8),
        _SalesPointPlan("Bar Mond Kasse", 2, None, "active", 6, (18.0, 26.5), 0.7),
        _SalesPointPlan("Mobil (Feste)", None, None, "active", 0, (10.0, 18.0), 0.2),
        _SalesPointPlan("Alte Kasse", 1, None, "inactive", 0, (0.0, 0.0), 0.0),
    ),
    catalog_step=1,
)

_LAYOUT_B: Final = _Layout(
    companies=(("Café Linde KG", "ATU11223344", "Lindengasse 3, 8010 Graz"),),
    locations=(
        (0, "Café Linde", "Lindengasse 3, 8010 Graz"),
        (0, "Linde am Markt", "Kaiser-Josef-Platz 1, 8010 Graz"),
    ),
    sales_points=(
        _SalesPointPlan("Linde Kasse", 0, None, "active", 0, (7.0, 19.0), 1.0),
        _SalesPointPlan("Markt Kasse", 1, None, "active", 0, (6.0, 13.0), 0.6),
        _SalesPointPlan("Linde Mobil", None, None, "active", 0, (9.0, 17.0), 0.2),
    ),
    catalog_step=2,
)

# key, name, account number, rate, discountable, online orders
_GROUPS: Final = (
    ("soft", "Alkoholfreie Getränke", "4000", "20.00", True, True),
    ("beer", "Bier & Wein", "4010", "20.00", True, False),
    ("coffee", "Kaffee & Tee", "4020", "20.00", True, True),
    ("food", "Speisen", "4100", "10.00", True, True),
    ("deli", "Feinkost (nach Gewicht)", "4110", "10.00", False, False),
    ("farm", "Ab-Hof-Wein", "4030", "13.00", False, False),
    ("voucher", "Gutscheine", "3600", "0.00", False, True),
    ("deposit", "Pfand", "4900", "20.00", False, False),
)

# name, type, price, group, explicit tax rate?, stock managed, active, bottled (EAN), options
_CATALOG: Final = (
    ("Cola 0.5", "standard", "4.50", "soft", False, True, True, True, ()),
    ("Cola 0.33", "standard", "3.60", "soft", True, True, True, True, ()),
    ("Almdudler 0.5", "standard", "4.50", "soft", False, True, True, True, ()),
    ("Mineral 0.5", "standard", "3.20", "soft", False, True, True, True, ()),
    ("Apfelsaft gespritzt 0.5", "standard", "4.20", "soft", True, False, True, False, ()),
    ("Orangensaft 0.25", "standard", "3.90", "soft", False, True, True, True, ()),
    ("Eistee 0.5", "standard", "4.30", "soft", False, True, True, True, ()),
    ("Energy Drink 0.25", "standard", "4.90", "soft", False, True, False, True, ()),
    ("Soda Zitron 0.5", "standard", "3.40", "soft", False, False, True, False, ()),
    ("Märzen 0.5", "standard", "5.20", "beer", True, True, True, False, ()),
    ("Goldbräu 0.3", "standard", "4.10", "beer", False, True, True, False, ()),
    ("Radler 0.5", "standard", "4.90", "beer", False, True, True, False, ()),
    ("Grüner Veltliner 1/8", "standard", "3.90", "beer", False, True, True, False, ()),
    ("Zweigelt 1/8", "standard", "4.20", "beer", True, True, True, False, ()),
    ("Spritzer weiß 0.25", "standard", "3.60", "beer", False, False, True, False, ()),
    ("Aperol Spritz", "standard", "7.50", "beer", False, False, True, False, ()),
    ("Melange", "standard", "4.20", "coffee", False, False, True, False, ("milk",)),
    ("Espresso", "standard", "2.90", "coffee", True, False, True, False, ()),
    ("Verlängerter", "standard", "3.80", "coffee", False, False, True, False, ("milk",)),
    ("Cappuccino", "standard", "4.30", "coffee", False, False, True, False, ("milk",)),
    ("Tee", "standard", "3.50", "coffee", False, False, True, False, ()),
    ("Heiße Schokolade", "standard", "4.40", "coffee", False, False, True, False, ("milk",)),
    ("Wiener Schnitzel", "standard", "16.90", "food", True, False, True, False, ("side", "extra")),
    ("Gulasch", "standard", "12.50", "food", False, False, True, False, ()),
    ("Käsespätzle", "standard", "13.90", "food", False, False, True, False, ()),
    ("Kaiserschmarrn", "standard", "11.50", "food", False, False, True, False, ()),
    ("Apfelstrudel", "standard", "5.90", "food", False, False, True, False, ()),
    ("Frankfurter", "standard", "6.20", "food", False, False, True, False, ()),
    ("Tagessuppe", "standard", "4.90", "food", True, False, True, False, ()),
    ("Salatteller", "standard", "10.90", "food", False, False, False, False, ()),
    ("Sachertorte", "standard", "5.50", "food", False, False, True, False, ()),
    ("Bergkäse per kg", "weight", "32.90", "deli", False, True, True, False, ()),
    ("Beinschinken per kg", "weight", "39.90", "deli", True, True, True, False, ()),
    ("Oliven per kg", "weight", "24.00", "deli", False, True, True, False, ()),
    ("Veltliner Ab-Hof 0.75", "standard", "12.00", "farm", True, True, True, True, ()),
    ("Diverses Speisen", "open_price", "0.00", "food", False, False, True, False, ()),
    ("Diverses Getränke", "open_price", "0.00", "soft", False, False, True, False, ()),
    ("Gutschein 10", "voucher", "10.00", "voucher", False, False, True, False, ()),
    ("Wertgutschein 25", "voucher", "25.00", "voucher", True, False, True, False, ()),
    ("Pfand Flasche", "deposit", "0.25", "deposit", False, False, True, False, ()),
    ("Pfand Becher", "deposit", "2.00", "deposit", False, False, False, False, ()),
)

_OPTIONS: Final = (
    ("milk", "Milch", (("Kuhmilch", "0.00"), ("Hafermilch", "0.50"), ("Sojamilch", "0.50")), 0, 1),
    ("side", "Beilage", (("Pommes", "0.00"), ("Reis", "0.00"), ("Erdäpfelsalat", "1.00")), 1, 1),
    ("extra", "Extras", (("Preiselbeeren", "0.80"), ("Sauce", "1.20")), 0, 2),
)

_PAYMENT_METHODS: Final = (
    ("Bar", "cash", True),
    ("Karte", "card", True),
    ("Gutschein", "voucher", True),
    ("Online", "online", True),
    ("Rechnung", "invoice", True),
    ("Hauskonto", "other", False),
)

_TAX_RATES: Final = (
    ("Normal", "20.00"),
    ("Ermäßigt 1", "10.00"),
    ("Ermäßigt 2", "13.00"),
    ("Null", "0.00"),
)

_USERS: Final = (("Anna", "manager"), ("Ben", "waiter"), ("Clara", "waiter"), ("Doris", "admin"))
_AREAS: Final = ("Gastgarten", "Stube", "Bar")
_RECIPIENTS: Final = (
    ("Kraus Consulting GmbH", "Mariahilfer Straße 1, 1060 Wien", "ATU55667788"),
    ("Wien Events e.U.", "Ringstraße 9, 1010 Wien", "ATU99887766"),
)


# --- generator ------------------------------------------------------------------------------


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


_QUANTITIES: Final = (Decimal(1), Decimal(2), Decimal(3), Decimal(4))


def _pick(rng: random.Random, values: Sequence[_T], cumulative: Sequence[int]) -> _T:
    """A weighted choice (``cumulative`` weights), cheaper than ``random.choices`` for one."""
    return values[bisect_right(cumulative, rng.random() * cumulative[-1])]


def _local(day: date, hours: float) -> datetime:
    """The UTC moment of a local wall-clock time ``hours`` after midnight of ``day``."""
    wall = datetime.combine(day, time()) + timedelta(seconds=round(hours * 3600))
    return wall.replace(tzinfo=VIENNA).astimezone(UTC)


@attrs.define
class _Draft:
    """A receipt before it is numbered (numbers follow signing order per main Sales Point)."""

    moment: datetime
    sales_point: int
    body: dict[str, Any]
    id: str = ""


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
    def __init__(self, *, name: str, seed: str, start: date, days: int, small: bool) -> None:
        if days < 1:
            raise ValueError("days must be at least 1")
        self.name = name
        self.rng = random.Random(f"bessa-sandbox:{seed}")
        self.new_id = _Ids(self.rng)
        self.start = start
        self.days = days
        self.layout = _LAYOUT_B if small else _LAYOUT_A
        self.epoch = _local(start, 0) - timedelta(days=400)
        self.period_end = _local(start + timedelta(days=days), 6)
        self.line_cache: dict[tuple[str, Decimal, Decimal, Decimal, Decimal], Any] = {}

    # -- master data --

    def _stamps(self, item: dict[str, Any], *, late: bool = False) -> dict[str, Any]:
        """Add ``created``/``updated``: before the period, or (``late``) updated inside it."""
        created = self.epoch + timedelta(seconds=self.rng.randrange(300 * 86_400))
        created = created.replace(microsecond=self.rng.choice((0, self.rng.randrange(1_000_000))))
        if late:
            span = int((self.period_end - _local(self.start, 0)).total_seconds())
            updated = _local(self.start, 0) + timedelta(seconds=self.rng.randrange(span))
        else:
            updated = created + timedelta(seconds=self.rng.randrange(30 * 86_400))
        item["created"] = format_timestamp(created)
        item["updated"] = format_timestamp(updated)
        return item

    def run(self, receipt_count: int) -> TenantData:
        rng, new_id, layout = self.rng, self.new_id, self.layout
        companies = [
            self._stamps({"id": new_id(), "name": n, "uid": uid, "address": address})
            for n, uid, address in layout.companies
        ]
        locations = [
            self._stamps(
                {
                    "id": new_id(),
                    "company": companies[c]["id"],
                    "name": n,
                    "address": address,
                    "timezone": "Europe/Vienna",
                }
            )
            for c, n, address in layout.locations
        ]
        sales_points: list[dict[str, Any]] = []
        for index, plan in enumerate(layout.sales_points):
            sales_points.append(
                self._stamps(
                    {
                        "id": new_id(),
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
        tax_rates = [
            self._stamps({"id": new_id(), "name": n, "rate": rate}) for n, rate in _TAX_RATES
        ]
        rate_id = {item["rate"]: item["id"] for item in tax_rates}
        groups: dict[str, dict[str, Any]] = {}
        for key, n, account, rate, discountable, online in _GROUPS:
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
        group_rate = {key: rate for key, _, _, rate, _, _ in _GROUPS}
        options: dict[str, dict[str, Any]] = {}
        for key, n, choices, low, high in _OPTIONS:
            options[key] = self._stamps(
                {
                    "id": new_id(),
                    "name": n,
                    "choices": [{"id": new_id(), "name": c, "price": p} for c, p in choices],
                    "min": low,
                    "max": high,
                }
            )
        articles: list[dict[str, Any]] = []
        self.article_rate: dict[str, Decimal] = {}
        self.article_group_key: dict[str, str] = {}
        for entry in _CATALOG[:: layout.catalog_step]:
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
            self.article_rate[item["id"]] = Decimal(group_rate[group])
            self.article_group_key[item["id"]] = group
        payment_methods = [
            self._stamps({"id": new_id(), "name": n, "type": kind, "active": active})
            for n, kind, active in _PAYMENT_METHODS
        ]
        tables: list[dict[str, Any]] = []
        users: list[dict[str, Any]] = []
        for location in locations:
            for number in range(1, 7 if self.layout is not _LAYOUT_B else 4):
                tables.append(
                    self._stamps(
                        {
                            "id": new_id(),
                            "name": str(number),
                            "area": _AREAS[number % len(_AREAS)],
                            "active": number != 5,
                            "location": location["id"],
                        }
                    )
                )
            for user_name, role in _USERS[: 3 if self.layout is _LAYOUT_B else 4]:
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

        self.locations = locations
        self.sales_points = sales_points
        self.tables = tables
        self.users = users
        self.payment_methods = payment_methods
        self.articles = articles
        self.methods = {m["type"]: m for m in payment_methods}
        self.sellable = [a for a in articles if a["active"] and a["type"] != "deposit"]
        self.deposit = next((a for a in articles if a["type"] == "deposit" and a["active"]), None)
        self.tables_at: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
        self.users_at: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
        for table in tables:
            self.tables_at[table["location"]].append(table)
        for user in users:
            self.users_at[user["location"]].append(user)
        receipts = self._receipts(receipt_count)
        closings = self._closings(receipts)
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
                for i, plan in enumerate(layout.sales_points)
                if plan.main is None
            },
        )

    # -- receipts --

    def _main_of(self, sp: int) -> int:
        main = self.layout.sales_points[sp].main
        return sp if main is None else main

    def _receipts(self, count: int) -> list[Item]:
        rng, plans = self.rng, self.layout.sales_points
        trading = [i for i, plan in enumerate(plans) if plan.status == "active"]
        mains = [i for i in trading if plans[i].main is None]
        days = [self.start + timedelta(days=d) for d in range(self.days)]
        drafts: list[_Draft] = []

        specials: list[tuple[str, int, datetime]] = []
        if count >= 40:
            for sp in mains:
                opening = plans[sp].opening
                specials.append(("start", sp, _local(days[0], opening[0] - 0.1)))
                specials.append(("null", sp, _local(days[-1], opening[1] - 0.05)))
            mobile = [sp for sp in mains if plans[sp].location is None]
            if mobile:
                specials.append(
                    ("closing", mobile[0], _local(days[-1], plans[mobile[0]].opening[1]))
                )
        rest = count - len(specials)
        training = rest // 100 if count >= 40 else 0
        cancellations = rest // 50 if count >= 40 else 0
        invoices = rest - training - cancellations

        slots: list[tuple[date, int]] = []
        weights: list[float] = []
        for day in days:
            busy = {4: 1.5, 5: 1.7, 6: 1.2}.get(day.weekday(), 1.0)
            for sp in trading:
                slots.append((day, sp))
                weights.append(plans[sp].weight * busy)
        chosen = rng.choices(slots, weights=weights, k=invoices + training)
        forced_late = any(plans[sp].day_start for sp in trading)
        for n, (day, sp) in enumerate(chosen):
            plan = plans[sp]
            if forced_late and plan.day_start and plan.opening[1] > 24:
                hours = 25.5  # 01:30 local the next morning: still this business day
                forced_late = False
            else:
                hours = rng.uniform(*plan.opening)
            moment = _local(day, hours)
            if rng.random() < 0.5:
                moment = moment.replace(microsecond=rng.randrange(1, 1_000_000))
            kind = "training" if n >= invoices else "invoice"
            drafts.append(_Draft(moment, sp, self._sale(kind, sp)))
        for kind, sp, moment in specials:
            drafts.append(_Draft(moment, sp, self._zero(kind, sp)))
        sales = [d for d in drafts if d.body["type"] == "invoice"]
        for original in rng.sample(sales, min(cancellations, len(sales))):
            moment = original.moment + timedelta(seconds=rng.randrange(60, 3600))
            drafts.append(_Draft(moment, original.sales_point, self._void(original)))

        for draft in drafts:
            draft.id = self.new_id()
        for draft in drafts:
            if draft.body["type"] == "cancellation":
                draft.body["cancels"] = draft.body["cancels"].id
        drafts.sort(key=lambda d: (d.moment, d.id))
        counters: dict[int, int] = defaultdict(int)
        receipts: list[Item] = []
        for draft in drafts:
            main = self._main_of(draft.sales_point)
            counters[main] += 1
            receipts.append(self._finish(draft, counters[main]))
        return receipts

    def _sale(self, kind: str, sp: int) -> dict[str, Any]:
        rng = self.rng
        sellable, deposit = self.sellable, self.deposit
        count = _pick(rng, (1, 2, 3, 4, 5, 6), (25, 55, 75, 87, 95, 100))
        lines: list[tuple[dict[str, Any], Decimal, Decimal, Decimal, Decimal]] = []
        for _ in range(count):
            article = rng.choice(sellable)
            rate = self.article_rate[article["id"]]
            price = Decimal(article["price"])
            if article["type"] == "weight":
                quantity = Decimal(rng.randrange(80, 1200)) / 1000
            elif article["type"] == "open_price":
                quantity = Decimal(1)
                price = Decimal(rng.randrange(150, 3000)) / 100
            elif article["type"] == "voucher":
                quantity = Decimal(1)
            else:
                quantity = _QUANTITIES[_pick(rng, (0, 1, 2, 3), (70, 90, 97, 100))]
            if article["type"] == "standard" and rng.random() < 0.04:
                # Another pricing level: another price and another tax rate (domain.md).
                price = (price * Decimal("0.8")).quantize(CENT, ROUND_HALF_UP)
                rate = Decimal("10.00") if rate == Decimal("20.00") else Decimal("20.00")
            discount = _ZERO
            if article["type"] == "standard" and rng.random() < 0.05:
                discount = (quantity * price * Decimal("0.1")).quantize(CENT, ROUND_HALF_UP)
            lines.append((article, quantity, price, discount, rate))
        subtotal = sum(
            ((q * p - d).quantize(CENT, ROUND_HALF_UP) for _, q, p, d, _ in lines), _ZERO
        )
        if deposit is not None and subtotal > Decimal(5) and rng.random() < 0.03:
            rate = self.article_rate[deposit["id"]]
            lines.append((deposit, Decimal(-1), Decimal(deposit["price"]), _ZERO, rate))
        return self._assemble(kind, sp, lines)

    def _assemble(
        self,
        kind: str,
        sp: int,
        lines: Sequence[tuple[dict[str, Any], Decimal, Decimal, Decimal, Decimal]],
    ) -> dict[str, Any]:
        rng = self.rng
        rendered: list[dict[str, Any]] = []
        by_rate: dict[Decimal, Decimal] = defaultdict(lambda: _ZERO)
        total = _ZERO
        cache = self.line_cache
        for article, quantity, price, discount, rate in lines:
            cache_key = (article["id"], quantity, price, discount, rate)
            if (cached := cache.get(cache_key)) is None:
                line_total = (quantity * price - discount).quantize(CENT, ROUND_HALF_UP)
                line = {
                    "article": article["id"],
                    "name": article["name"],
                    "quantity": quantity_text(quantity),
                    "unit_price": money(price),
                    "discount": money(discount),
                    "total": money(line_total),
                    "tax_rate": money(rate),
                }
                cache[cache_key] = cached = (line, line_total)
            total += cached[1]
            by_rate[rate] += cached[1]
            rendered.append(cached[0])
        methods = self.methods
        mobile = self.layout.sales_points[sp].location is None
        kind_of_payment = _pick(
            rng,
            ("cash", "card", "voucher", "online", "invoice"),
            (45, 90, 93, 98, 99) if mobile else (45, 90, 93, 94, 95),
        )
        tip = _ZERO
        if kind_of_payment in ("cash", "card") and rng.random() < 0.2:
            tip = Decimal(rng.randrange(30, 500)) / 100
        payments: list[dict[str, Any]] = []
        if kind_of_payment == "card" and total > Decimal(20) and rng.random() < 0.15:
            cash_part = (total / 2).quantize(CENT, ROUND_HALF_UP)
            payments.append(self._payment(methods["cash"], cash_part))
            payments.append(self._payment(methods["card"], total - cash_part + tip))
        else:
            payments.append(self._payment(methods[kind_of_payment], total + tip))
        location = self.layout.sales_points[sp].location
        location_id = None if location is None else self.locations[location]["id"]
        tables = self.tables_at[location_id]
        users = self.users_at[location_id] or self.users
        recipient = None
        if kind == "invoice" and rng.random() < 0.03:
            r_name, r_address, r_uid = rng.choice(_RECIPIENTS)
            recipient = {"name": r_name, "address": r_address, "uid": r_uid}
        return {
            "type": kind,
            "sales_point": self.sales_points[sp]["id"],
            "location": location_id,
            "user": rng.choice(users)["id"],
            "table": rng.choice(tables)["id"] if tables and rng.random() < 0.6 else None,
            "orders": [self.new_id() for _ in range(1 if rng.random() < 0.75 else 2)],
            "total": money(total),
            "tip": money(tip),
            "lines": rendered,
            "payments": payments,
            "taxes": taxes_by_rate(by_rate),
            "cancels": None,
            "recipient": recipient,
        }

    @staticmethod
    def _payment(method: dict[str, Any], amount: Decimal) -> dict[str, Any]:
        return {"payment_method": method["id"], "type": method["type"], "amount": money(amount)}

    def _zero(self, kind: str, sp: int) -> dict[str, Any]:
        location = self.layout.sales_points[sp].location
        location_id = None if location is None else self.locations[location]["id"]
        managers = [u for u in self.users if u["role"] in ("manager", "admin")]
        return {
            "type": kind,
            "sales_point": self.sales_points[sp]["id"],
            "location": location_id,
            "user": self.rng.choice(managers)["id"],
            "table": None,
            "orders": [],
            "total": "0.00",
            "tip": "0.00",
            "lines": [],
            "payments": [],
            "taxes": [],
            "cancels": None,
            "recipient": None,
        }

    @staticmethod
    def _void(original: _Draft) -> dict[str, Any]:
        body = original.body

        def negate(text: str) -> str:
            return money(-Decimal(text))

        return {
            **body,
            "type": "cancellation",
            "total": negate(body["total"]),
            "tip": negate(body["tip"]),
            "lines": [
                {
                    **line,
                    "quantity": quantity_text(-Decimal(line["quantity"])),
                    "discount": negate(line["discount"]),
                    "total": negate(line["total"]),
                }
                for line in body["lines"]
            ],
            "payments": [{**p, "amount": negate(p["amount"])} for p in body["payments"]],
            "taxes": [
                {key: value if key == "rate" else negate(value) for key, value in tax.items()}
                for tax in body["taxes"]
            ],
            "cancels": original,  # replaced by the original's id once ids are drawn
            "recipient": body["recipient"],
        }

    def _finish(self, draft: _Draft, counter: int) -> Item:
        rng = self.rng
        body = draft.body
        main = self._main_of(draft.sales_point)
        local = draft.moment.astimezone(VIENNA).replace(tzinfo=None, microsecond=0)
        number = f"{local.year}-{counter:06d}"
        fiscal_id = self.sales_points[main]["fiscal_id"]
        by_rate = {t["rate"]: t["gross"].replace(".", ",") for t in body["taxes"]}
        amounts = "_".join(by_rate.get(rate, "0,00") for rate in ("20.00", "10.00", "13.00"))
        signature = f"{rng.getrandbits(128):032x}"
        created = draft.moment + timedelta(seconds=rng.randrange(1, 30))
        updated = created
        if rng.random() < 0.02:
            updated = created + timedelta(days=rng.randrange(1, 5), seconds=rng.randrange(86_400))
        item: Item = {
            "id": draft.id,
            "number": number,
            "type": body["type"],
            "timestamp": format_timestamp(draft.moment),
            "sales_point": body["sales_point"],
            "location": body["location"],
            "user": body["user"],
            "table": body["table"],
            "orders": body["orders"],
            "total": body["total"],
            "tip": body["tip"],
            "lines": body["lines"],
            "payments": body["payments"],
            "taxes": body["taxes"],
            "cancels": body["cancels"],
            "recipient": body["recipient"],
            "signature": {
                "cash_register_id": fiscal_id,
                "qr": f"_R1-AT1_{fiscal_id}_{number}_{local.isoformat()}_{amounts}"
                f"_0,00_0,00_{signature}",
            },
            "created": format_timestamp(created),
            "updated": format_timestamp(updated),
        }
        return item

    # -- closings and stock --

    def _closings(self, receipts: Sequence[Item]) -> list[Item]:
        plans = self.layout.sales_points
        by_main: dict[str, list[int]] = defaultdict(list)
        receipts_of: dict[str, list[Item]] = defaultdict(list)
        main_of_id = {
            self.sales_points[i]["id"]: self.sales_points[self._main_of(i)]["id"]
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
            sp_id = self.sales_points[index]["id"]
            stamps, mine = by_main[sp_id], receipts_of[sp_id]

            def between(lo: datetime, hi: datetime) -> list[Item]:
                return mine[bisect_left(stamps, micros(lo)) : bisect_left(stamps, micros(hi))]  # noqa: B023

            number = 0
            for offset in range(self.days):
                day = self.start + timedelta(days=offset)
                begin = _local(day, plan.day_start)
                end = _local(day + timedelta(days=1), plan.day_start)
                inside = between(begin, end)
                if not inside:
                    continue
                number += 1
                last = datetime.fromisoformat(inside[-1]["timestamp"])
                moment = min(last + timedelta(minutes=self.rng.randrange(2, 20)), end)
                closings.append(self._closing(sp_id, "daily", number, moment, begin, end, inside))
                if (day + timedelta(days=1)).month != day.month:
                    month_begin = _local(day.replace(day=1), plan.day_start)
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
        gross = sum((Decimal(r["total"]) for r in receipts if r["type"] in _REVENUE_TYPES), _ZERO)
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


def taxes_by_rate(by_rate: Mapping[Decimal, Decimal]) -> list[dict[str, str]]:
    """A receipt's ``taxes``: per rate (highest first) the gross line sum, net half-up, tax."""
    taxes = []
    for rate in sorted(by_rate, reverse=True):
        gross = by_rate[rate]
        net = net_of(gross, rate)
        taxes.append(
            {
                "rate": money(rate),
                "net": money(net),
                "tax": money(gross - net),
                "gross": money(gross),
            }
        )
    return taxes
