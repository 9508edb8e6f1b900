"""Receipts drawn from a tenant's master data: sales, training, zero receipts and voids.

Sales are spread over the trading days by weight; their lines carry what a client must get
right (weight articles, open prices, another pricing level's price and tax rate, discounts,
deposit returns); voids negate an invoice of the same main Sales Point. Numbers follow the
signing order per main Sales Point, and each receipt carries its RKSV-style signature QR text.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, TypeVar, final

import attrs

from ._amounts import CENT, ZERO, money, quantity_text, taxes_by_rate
from ._calendar import VIENNA, local_moment, period_end
from ._catalogue import RECIPIENTS, Layout
from ._cursor import Item
from ._query import format_timestamp

__all__ = ["ReceiptWriter", "Shop"]

_T = TypeVar("_T")
_QUANTITIES: Final = (Decimal(1), Decimal(2), Decimal(3), Decimal(4))
_Line = tuple[dict[str, Any], Decimal, Decimal, Decimal, Decimal]
"""(article, quantity, unit price, discount, tax rate) of a line before it is rendered."""


def _pick(rng: random.Random, values: Sequence[_T], cumulative: Sequence[int]) -> _T:
    """A weighted choice (``cumulative`` weights), cheaper than ``random.choices`` for one."""
    return values[bisect_right(cumulative, rng.random() * cumulative[-1])]


@attrs.define
class _Draft:
    """A receipt before it is numbered (numbers follow signing order per main Sales Point)."""

    moment: datetime
    sales_point: int
    body: dict[str, Any]
    id: str = ""


@final
@attrs.frozen(kw_only=True)
class Shop:
    """The master data receipts are drawn from, as the generator made it."""

    layout: Layout
    locations: Sequence[dict[str, Any]]
    sales_points: Sequence[dict[str, Any]]
    users: Sequence[dict[str, Any]]
    article_rate: Mapping[str, Decimal]
    """The tax rate of each article's group, by article id."""
    methods: Mapping[str, dict[str, Any]]
    """Payment methods by type."""
    sellable: Sequence[dict[str, Any]]
    deposit: dict[str, Any] | None
    tables_at: Mapping[str | None, Sequence[dict[str, Any]]]
    users_at: Mapping[str | None, Sequence[dict[str, Any]]]


@final
class ReceiptWriter:
    """Draws one tenant's receipts from the generator's random stream."""

    def __init__(
        self,
        shop: Shop,
        *,
        rng: random.Random,
        new_id: Callable[[], str],
        start: date,
        days: int,
    ) -> None:
        self.shop = shop
        self.layout = shop.layout
        self.rng = rng
        self.new_id = new_id
        self.start = start
        self.days = days
        self.end = period_end(start, days)
        # Most lines repeat (same article, quantity and price): render each combination once.
        self.line_cache: dict[tuple[str, Decimal, Decimal, Decimal, Decimal], Any] = {}

    def write(self, count: int) -> list[Item]:
        """Exactly ``count`` receipts, in list order (timestamp, then id)."""
        plans = self.layout.sales_points
        trading = [i for i, plan in enumerate(plans) if plan.status == "active"]
        mains = [i for i in trading if plans[i].main is None]
        days = [self.start + timedelta(days=d) for d in range(self.days)]
        specials = self._specials(count, mains, days) if count >= 40 else []
        rest = count - len(specials)
        training = rest // 100 if count >= 40 else 0
        cancellations = rest // 50 if count >= 40 else 0
        invoices = rest - training - cancellations
        drafts = self._sales(invoices, training, trading, days)
        for kind, sp, moment in specials:
            drafts.append(_Draft(moment, sp, self._zero(kind, sp)))
        drafts += self._voids(drafts, cancellations)
        return self._numbered(drafts)

    def _specials(
        self, count: int, mains: Sequence[int], days: Sequence[date]
    ) -> list[tuple[str, int, datetime]]:
        """The zero receipts: a start receipt and a null receipt per main Sales Point, and a
        closing receipt of the mobile one."""
        plans = self.layout.sales_points
        specials: list[tuple[str, int, datetime]] = []
        for sp in mains:
            opening = plans[sp].opening
            specials.append(("start", sp, local_moment(days[0], opening[0] - 0.1)))
            specials.append(("null", sp, local_moment(days[-1], opening[1] - 0.05)))
        mobile = [sp for sp in mains if plans[sp].location is None]
        if mobile:
            specials.append(
                ("closing", mobile[0], local_moment(days[-1], plans[mobile[0]].opening[1]))
            )
        return specials

    def _sales(
        self, invoices: int, training: int, trading: Sequence[int], days: Sequence[date]
    ) -> list[_Draft]:
        """Invoices then training receipts, spread over the days and Sales Points by weight
        (busier on Friday to Sunday) within their opening hours."""
        rng, plans = self.rng, self.layout.sales_points
        slots: list[tuple[date, int]] = []
        weights: list[float] = []
        for day in days:
            busy = {4: 1.5, 5: 1.7, 6: 1.2}.get(day.weekday(), 1.0)
            for sp in trading:
                slots.append((day, sp))
                weights.append(plans[sp].weight * busy)
        chosen = rng.choices(slots, weights=weights, k=invoices + training)
        forced_late = any(plans[sp].day_start for sp in trading)
        drafts: list[_Draft] = []
        for n, (day, sp) in enumerate(chosen):
            plan = plans[sp]
            if forced_late and plan.day_start and plan.opening[1] > 24:
                hours = 25.5  # 01:30 local the next morning: still this business day
                forced_late = False
            else:
                hours = rng.uniform(*plan.opening)
            moment = local_moment(day, hours)
            if rng.random() < 0.5:
                moment = moment.replace(microsecond=rng.randrange(1, 1_000_000))
            kind = "training" if n >= invoices else "invoice"
            drafts.append(_Draft(moment, sp, self._sale(kind, sp)))
        return drafts

    def _voids(self, drafts: Sequence[_Draft], cancellations: int) -> list[_Draft]:
        """Cancellations of randomly chosen invoices, a minute to an hour after each."""
        rng = self.rng
        sales = [d for d in drafts if d.body["type"] == "invoice"]
        return [
            _Draft(
                original.moment + timedelta(seconds=rng.randrange(60, 3600)),
                original.sales_point,
                self._void(original),
            )
            for original in rng.sample(sales, min(cancellations, len(sales)))
        ]

    def _numbered(self, drafts: list[_Draft]) -> list[Item]:
        """Ids drawn, voids pointed at their originals, numbers per main Sales Point in order."""
        for draft in drafts:
            draft.id = self.new_id()
        for draft in drafts:
            if draft.body["type"] == "cancellation":
                draft.body["cancels"] = draft.body["cancels"].id
        drafts.sort(key=lambda d: (d.moment, d.id))
        counters: dict[int, int] = defaultdict(int)
        receipts: list[Item] = []
        for draft in drafts:
            main = self.layout.main_of(draft.sales_point)
            counters[main] += 1
            receipts.append(self._finish(draft, counters[main]))
        return receipts

    def _sale(self, kind: str, sp: int) -> dict[str, Any]:
        rng = self.rng
        sellable, deposit = self.shop.sellable, self.shop.deposit
        count = _pick(rng, (1, 2, 3, 4, 5, 6), (25, 55, 75, 87, 95, 100))
        lines: list[_Line] = []
        for _ in range(count):
            article = rng.choice(sellable)
            rate = self.shop.article_rate[article["id"]]
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
                # Another pricing level: another price and another tax rate.
                price = (price * Decimal("0.8")).quantize(CENT, ROUND_HALF_UP)
                rate = Decimal("10.00") if rate == Decimal("20.00") else Decimal("20.00")
            discount = ZERO
            if article["type"] == "standard" and rng.random() < 0.05:
                discount = (quantity * price * Decimal("0.1")).quantize(CENT, ROUND_HALF_UP)
            lines.append((article, quantity, price, discount, rate))
        subtotal = sum(((q * p - d).quantize(CENT, ROUND_HALF_UP) for _, q, p, d, _ in lines), ZERO)
        if deposit is not None and subtotal > Decimal(5) and rng.random() < 0.03:
            rate = self.shop.article_rate[deposit["id"]]
            lines.append((deposit, Decimal(-1), Decimal(deposit["price"]), ZERO, rate))
        return self._assemble(kind, sp, lines)

    def _assemble(
        self,
        kind: str,
        sp: int,
        lines: Sequence[_Line],
    ) -> dict[str, Any]:
        rng = self.rng
        rendered: list[dict[str, Any]] = []
        by_rate: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
        total = ZERO
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
        methods = self.shop.methods
        mobile = self.layout.sales_points[sp].location is None
        kind_of_payment = _pick(
            rng,
            ("cash", "card", "voucher", "online", "invoice"),
            (45, 90, 93, 98, 99) if mobile else (45, 90, 93, 94, 95),
        )
        tip = ZERO
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
        location_id = None if location is None else self.shop.locations[location]["id"]
        tables = self.shop.tables_at[location_id]
        users = self.shop.users_at[location_id] or self.shop.users
        recipient = None
        if kind == "invoice" and rng.random() < 0.03:
            r_name, r_address, r_uid = rng.choice(RECIPIENTS)
            recipient = {"name": r_name, "address": r_address, "uid": r_uid}
        return {
            "type": kind,
            "sales_point": self.shop.sales_points[sp]["id"],
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
        location_id = None if location is None else self.shop.locations[location]["id"]
        managers = [u for u in self.shop.users if u["role"] in ("manager", "admin")]
        return {
            "type": kind,
            "sales_point": self.shop.sales_points[sp]["id"],
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
        main = self.layout.main_of(draft.sales_point)
        local = draft.moment.astimezone(VIENNA).replace(tzinfo=None, microsecond=0)
        number = f"{local.year}-{counter:06d}"
        fiscal_id = self.shop.sales_points[main]["fiscal_id"]
        by_rate = {t["rate"]: t["gross"].replace(".", ",") for t in body["taxes"]}
        amounts = "_".join(by_rate.get(rate, "0,00") for rate in ("20.00", "10.00", "13.00"))
        signature = f"{rng.getrandbits(128):032x}"
        created = draft.moment + timedelta(seconds=rng.randrange(1, 30))
        updated = created
        if rng.random() < 0.02:
            updated = created + timedelta(days=rng.randrange(1, 5), seconds=rng.randrange(86_400))
            # A correction after the period would be stamped after the standalone sandbox's
            # now: it would look like a server clock running ahead.
            updated = min(updated, max(created, self.end))
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
