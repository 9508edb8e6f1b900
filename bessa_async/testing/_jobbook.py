"""The sandbox's Sales Points: order and payment jobs, validated, deduplicated, processed later.

A job is created ``pending`` by a POST. Its Sales Point picks it up after a while
(``processing``) and finishes it later (``completed``, or ``failed`` with one of the codes a till
reports: ``sales_point_inactive``, ``table_inactive``, ``article_inactive``,
``payment_method_inactive``, ``order_not_found``, ``order_already_paid``, ``amount_mismatch``, or
any code forced with :meth:`JobBook.set_failure`). How long that takes is ``delay`` (picked up
after it, finished after twice it), or a per-job ``duration`` drawn from a seeded generator
(picked up halfway).

While a Sales Point is offline its jobs make no progress; when it comes back, a job that waited
for it starts afresh. A job not picked up within ``expiry`` seconds of its creation ends
``expired``. Statuses are advanced lazily, whenever a job is read, from the sandbox's clock; each
change is stamped with the moment it happened (not the moment it was read), so ``updated`` tells
when a job really finished. A test that passes a :class:`~bessa_async.testing.FakeClock` to both
the sandbox and the client controls job timing without real waiting.

A completed order becomes an *open order* (``result.order``); a completed payment settles one
and produces a signed invoice in ``receipts/`` (lines from the order, the payment with its tip,
taxes per rate the way the generated receipts have them), so the sales report stays consistent.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final, Literal, final

import attrs

from ._amounts import CENT, money, quantity_text, taxes_by_rate
from ._calendar import VIENNA
from ._cursor import Collection, Item
from ._query import format_timestamp, micros, parse_uuid
from ._tenant_data import TenantData
from .magic import behaviour

__all__ = ["Duration", "IdempotencyConflict", "JobBook", "JobKind", "draw_duration", "public"]

JobKind = Literal["order", "payment"]
Duration = float | tuple[float, float] | Callable[[random.Random], float]
"""Seconds, a ``(low, high)`` range drawn uniformly, or a function of the seeded generator."""

_REQUIRED: Final = "This field is required."
_NULL: Final = "This field may not be null."
_MONEY_DIGITS: Final = 2
_QUANTITY_DIGITS: Final = 3
_REFERENCE_MAX: Final = 100
_NOTE_MAX: Final = 500
_RUNNING: Final = frozenset({"pending", "processing"})
_EXPIRED: Final = "No Sales Point picked the job up before it expired."

_TILL_READS: Final = (
    "articles",
    "sales-points",
    "tables",
    "payment-methods",
    "article-options",
    "article-groups",
    "tax-rates",
)
"""The master data a till judges a job on."""


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with another body."""


def draw_duration(duration: Duration, rng: random.Random) -> float:
    """One job's duration in seconds from a :data:`Duration` (never negative)."""
    if callable(duration):
        value = float(duration(rng))
    elif isinstance(duration, tuple):
        low, high = duration
        value = rng.uniform(low, high)
    else:
        value = float(duration)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"a job duration must be a finite number >= 0, got {value!r}")
    return value


def _does_not_exist(value: object) -> str:
    return f'Invalid pk "{value}" - object does not exist.'


def _decimal_error(value: object, places: int, *, positive: bool) -> str | None:
    """DRF DecimalField's message for ``value``, or None when it is fine."""
    # DRF reads str(value): JSON numbers are accepted, while str(True) == "True" is no number.
    if value is None:
        return _NULL
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return "A valid number is required."
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return "A valid number is required."
    if not number.is_finite():
        return "A valid number is required."
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        return f"Ensure that there are no more than {places} decimal places."
    if positive and number <= 0:
        return "Ensure this value is greater than 0."
    return None


def _text_error(value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return "Not a valid string."
    if len(value) > limit:
        return f"Ensure this field has no more than {limit} characters."
    return None


@attrs.define
class _Timing:
    """When a job was born (sandbox clock and wall clock) and how long its stages take."""

    born: float
    created: datetime
    pickup: float
    done: float


@attrs.define
class _OpenOrder:
    """What a completed order job left on the till: lines to pay, once."""

    id: str
    job: str
    sales_point: str
    table: str | None
    lines: list[tuple[Item, Decimal, Decimal, Decimal]]
    """``(article, quantity, unit price, tax rate)`` per line."""
    total: Decimal
    paid_by: str | None = None


@final
class JobBook:
    """One tenant's jobs of both kinds, with the Sales Points' processing state."""

    def __init__(
        self,
        data: TenantData,
        *,
        clock: Callable[[], float],
        delay: float,
        expiry: float,
        duration: Duration | None = None,
        rng: random.Random | None = None,
        receipts: Collection | None = None,
        wall: Callable[[], datetime] | None = None,
        stamp: Callable[[datetime], str] = format_timestamp,
        served: Callable[[str], Mapping[str, Item]] | None = None,
    ) -> None:
        """``served``: a list path's items by id as the API serves them now (default: as
        generated); tills judge jobs on those, so an edit shows in the next job finished."""
        self._data = data
        self._clock = clock
        self._delay = delay
        self._expiry = expiry
        self._duration = duration
        self._rng = rng or random.Random(f"bessa-sandbox-jobs:{data.name}")
        self._receipts = receipts
        resources = data.resources()
        generated = {path: {str(i["id"]): i for i in resources[path]} for path in _TILL_READS}
        self._served = served or generated.__getitem__
        self._anchor = (datetime.now(UTC), clock())
        self._wall_clock = wall
        self._stamp = stamp
        self.jobs: dict[JobKind, Collection] = {
            "order": Collection((), key=_job_key),
            "payment": Collection((), key=_job_key),
        }
        self.orders: dict[str, _OpenOrder] = {}
        """Open (and paid) orders by order id."""
        self._order_of_job: dict[str, str] = {}
        self._timing: dict[str, _Timing] = {}
        self._offline_since: dict[str, float] = {}
        self._online_since: dict[str, float] = {}
        self._failures: dict[str | None, tuple[str, str]] = {}
        self._keys: dict[tuple[JobKind, str], tuple[str, str]] = {}
        self._numbers: dict[str, int] = defaultdict(int)
        for receipt in data.receipts:
            self._numbers[self._main_of(receipt["sales_point"])] += 1

    # -- the data the API shows now ---------------------------------------------------------

    def _live(self, path: str) -> dict[str, Item]:
        """The items of a list path the API serves now, by id; soft-deleted ones are gone."""
        return {i: item for i, item in self._served(path).items() if not item.get("deleted")}

    @property
    def _articles(self) -> dict[str, Item]:
        return self._live("articles")

    @property
    def _points(self) -> dict[str, Item]:
        return self._live("sales-points")

    @property
    def _tables(self) -> dict[str, Item]:
        return self._live("tables")

    @property
    def _methods(self) -> dict[str, Item]:
        return self._live("payment-methods")

    @property
    def _choice_price(self) -> dict[str, Decimal]:
        return {
            str(choice["id"]): Decimal(choice["price"])
            for option in self._live("article-options").values()
            for choice in option["choices"]
        }

    def _rate_of(self, article: Item) -> Decimal:
        """An article's tax rate: its own, else its group's."""
        rate = (
            article["tax_rate"]
            or self._live("article-groups")[article["article_group"]]["tax_rate"]
        )
        return Decimal(self._live("tax-rates")[rate]["rate"])

    # -- the Sales Points ------------------------------------------------------------------

    def set_online(self, sales_point: str | None, online: bool) -> None:
        """Take one Sales Point (or, with None, all of them) offline or back online."""
        points = list(self._points) if sales_point is None else [sales_point]
        now = self._clock()
        for point in points:
            if online:
                if self._offline_since.pop(point, None) is not None:
                    self._online_since[point] = now
            else:
                self._offline_since.setdefault(point, now)

    def set_failure(
        self, code: str | None, detail: str | None = None, *, sales_point: str | None = None
    ) -> None:
        """Make every job a Sales Point (None: any) finishes from now on fail with ``code``.

        ``code=None`` clears it. Codes the API uses: ``no_active_day``, ``not_fiscalised``,
        ``sales_point_offline`` ... or any word, since an unknown code is still a failure.
        """
        if code is None:
            self._failures.pop(sales_point, None)
        else:
            self._failures[sales_point] = (code, detail or f"The Sales Point reported {code}.")

    def set_status(self, job: Item, status: str) -> None:
        """Force a job's status word (a word the client does not know, say); the running words
        ``pending``/``processing`` hand the job back to the normal schedule."""
        self._set(job, self._clock(), status=status)

    def advance(self, job: Item) -> Item:
        """Bring a job's status up to the sandbox's clock; returns the same (mutated) dict."""
        if job["status"] not in _RUNNING:
            return job
        now = self._clock()
        timing = self._timing[job["id"]]
        point = job["sales_point"]
        expires = timing.born + self._expiry
        if point in self._offline_since:
            if job["status"] == "pending" and now >= expires:
                self._expire(job, expires)
            return job
        # A job that waited for an offline till starts when the till is back.
        start = max(timing.born, self._online_since.get(point, -math.inf))
        pickup, done = start + timing.pickup, start + timing.done
        if job["status"] == "pending" and pickup > expires:
            if now >= expires:
                self._expire(job, expires)
            return job
        if now >= done:
            self._complete(job, done)
        elif now >= pickup and job["status"] == "pending":
            self._set(job, pickup, status="processing")
        return job

    def _wall(self, job: Item, moment: float) -> datetime:
        """The wall-clock time of a sandbox-clock moment in a job's life."""
        timing = self._timing[job["id"]]
        return timing.created + timedelta(seconds=max(0.0, moment - timing.born))

    def now(self) -> datetime:
        """The wall-clock time the sandbox's clock stands at (what jobs are stamped with)."""
        if self._wall_clock is not None:
            return self._wall_clock()
        wall, at = self._anchor
        return wall + timedelta(seconds=self._clock() - at)

    def _set(self, job: Item, moment: float, **changes: Any) -> None:
        old = _job_key(job)
        job.update(changes)
        job["updated"] = self._stamp(self._wall(job, moment))
        self.jobs[job["type"]].rekey(job, old)  # listed by updated: a change moves it last

    def _expire(self, job: Item, moment: float) -> None:
        self._set(job, moment, status="expired", error={"code": "expired", "detail": _EXPIRED})

    def _fail(self, job: Item, moment: float, code: str, detail: str) -> None:
        self._set(job, moment, status="failed", error={"code": code, "detail": detail})

    def _complete(self, job: Item, moment: float) -> None:
        point = self._points.get(job["sales_point"])
        forced = self._failures.get(job["sales_point"]) or self._failures.get(None)
        magic = behaviour(job["reference"])
        if forced is not None:
            self._fail(job, moment, *forced)
        elif magic is not None and magic.fail is not None:
            self._fail(job, moment, magic.fail, f"The Sales Point reported {magic.fail}.")
        elif point is None or point["status"] != "active":
            name = job["sales_point"] if point is None else point["name"]
            detail = f"Sales Point '{name}' is not active."
            self._fail(job, moment, "sales_point_inactive", detail)
        elif job["type"] == "order":
            self._complete_order(job, moment)
        else:
            self._complete_payment(job, moment)

    def _complete_order(self, job: Item, moment: float) -> None:
        request = job["request"]
        table_id = parse_uuid(request.get("table") or "") or request.get("table")
        table = self._tables.get(table_id) if table_id else None
        if table_id and (table is None or not table["active"]):
            name = table_id if table is None else table["name"]
            self._fail(job, moment, "table_inactive", f"Table '{name}' is not active.")
            return
        articles, choices = self._articles, self._choice_price
        lines: list[tuple[Item, Decimal, Decimal, Decimal]] = []
        for line in request["lines"]:
            wanted = parse_uuid(line["article"]) or line["article"]
            article = articles.get(wanted)
            if article is None or not article["active"]:
                name = wanted if article is None else article["name"]
                self._fail(job, moment, "article_inactive", f"Article '{name}' is not available.")
                return
            price = line.get("unit_price")
            unit = Decimal(article["price"]) if price is None else Decimal(str(price))
            for option in line.get("options") or ():
                if isinstance(option, dict):
                    choice = choices.get(str(option.get("option")), Decimal(0))
                    unit += choice * Decimal(str(option.get("quantity", "1")))
            rate = self._rate_of(article)
            lines.append((article, Decimal(str(line["quantity"])), unit, rate))
        total = sum(((q * p).quantize(CENT, ROUND_HALF_UP) for _, q, p, _ in lines), Decimal(0))
        order = _OpenOrder(
            id=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            job=job["id"],
            sales_point=job["sales_point"],
            table=request.get("table"),
            lines=lines,
            total=total,
        )
        self.orders[order.id] = order
        self._order_of_job[job["id"]] = order.id
        self._set(
            job,
            moment,
            status="completed",
            result={"order": order.id, "receipt": None, "number": None},
        )

    def _find_order(self, reference: str) -> _OpenOrder | None:
        canonical = parse_uuid(reference) or reference
        if canonical in self.orders:
            return self.orders[canonical]
        order_job = self.jobs["order"].by_id.get(canonical)
        if order_job is not None:
            self.advance(order_job)
        order_id = self._order_of_job.get(canonical)
        return None if order_id is None else self.orders[order_id]

    def _complete_payment(self, job: Item, moment: float) -> None:
        request = job["request"]
        method_id = parse_uuid(request["payment_method"]) or ""
        method = self._methods.get(method_id)
        order = self._find_order(str(request["order"]))
        amount = Decimal(str(request["amount"]))
        tip = Decimal(str(request.get("tip") or "0"))
        if method is None or not method["active"]:
            name = method_id if method is None else method["name"]
            detail = f"Payment method '{name}' is not active."
            self._fail(job, moment, "payment_method_inactive", detail)
        elif order is None:
            detail = f"No open order {request['order']} on this till."
            self._fail(job, moment, "order_not_found", detail)
        elif order.paid_by is not None:
            self._fail(job, moment, "order_already_paid", "The order has been paid already.")
        elif amount != order.total:
            detail = f"Amount {money(amount)} does not match the open amount {money(order.total)}."
            self._fail(job, moment, "amount_mismatch", detail)
        else:
            order.paid_by = job["id"]
            receipt = self._invoice(job, order, method, amount, tip, self._wall(job, moment))
            result = {"receipt": receipt["id"], "number": receipt["number"], "order": order.id}
            self._set(job, moment, status="completed", result=result)

    def _main_of(self, sales_point: str) -> str:
        point = self._points.get(sales_point)
        return point["main"] or sales_point if point is not None else sales_point

    def next_number(self, sales_point: str, moment: datetime) -> str:
        """The next receipt number of a Sales Point's main one (signing order), e.g.
        ``"2026-000412"``."""
        main = self._main_of(sales_point)
        self._numbers[main] += 1
        year = moment.astimezone(VIENNA).year
        return f"{year}-{self._numbers[main]:06d}"

    def _invoice(
        self,
        job: Item,
        order: _OpenOrder,
        method: Item,
        amount: Decimal,
        tip: Decimal,
        moment: datetime,
    ) -> Item:
        """The signed invoice a payment produces, added to ``receipts/``."""
        point = self._points[job["sales_point"]]
        main = self._points[self._main_of(point["id"])]
        number = self.next_number(point["id"], moment)
        local = moment.astimezone(VIENNA).replace(tzinfo=None, microsecond=0)
        by_rate: dict[Decimal, Decimal] = defaultdict(Decimal)
        lines = []
        for article, quantity, unit, rate in order.lines:
            total = (quantity * unit).quantize(CENT, ROUND_HALF_UP)
            by_rate[rate] += total
            lines.append(
                {
                    "article": article["id"],
                    "name": article["name"],
                    "quantity": quantity_text(quantity),
                    "unit_price": money(unit),
                    "discount": "0.00",
                    "total": money(total),
                    "tax_rate": money(rate),
                }
            )
        taxes = taxes_by_rate(by_rate)
        gross = {t["rate"]: t["gross"].replace(".", ",") for t in taxes}
        amounts = "_".join(gross.get(rate, "0,00") for rate in ("20.00", "10.00", "13.00"))
        signature = f"{self._rng.getrandbits(128):032x}"
        stamp = self._stamp(moment)
        receipt: Item = {
            "id": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            "number": number,
            "type": "invoice",
            "timestamp": stamp,
            "sales_point": point["id"],
            "location": point["location"],
            "user": None,
            "table": order.table,
            "orders": [order.id],
            "total": money(amount),
            "tip": money(tip),
            "lines": lines,
            "payments": [
                {
                    "payment_method": method["id"],
                    "type": method["type"],
                    "amount": money(amount + tip),
                }
            ],
            "taxes": taxes,
            "cancels": None,
            "recipient": None,
            "signature": {
                "cash_register_id": main["fiscal_id"],
                "qr": f"_R1-AT1_{main['fiscal_id']}_{number}_{local.isoformat()}_{amounts}"
                f"_0,00_0,00_{signature}",
            },
            "created": stamp,
            "updated": stamp,
        }
        if self._receipts is not None:
            self._receipts.add(receipt)
        return receipt

    def cancel(self, job: Item) -> None:
        """Withdraw a job that no Sales Point has picked up yet."""
        self.advance(job)
        if job["status"] == "pending":
            self._set(
                job,
                self._clock(),
                status="cancelled",
                error={"code": "cancelled", "detail": "Withdrawn."},
            )

    def find(self, job_id: str) -> Item | None:
        """A job of either kind by id."""
        canonical = parse_uuid(job_id) or job_id
        for collection in self.jobs.values():
            if (job := collection.by_id.get(canonical)) is not None:
                return job
        return None

    # -- submitting ------------------------------------------------------------------------

    def submit(self, kind: JobKind, body: Mapping[str, Any], key: str | None) -> tuple[Item, bool]:
        """Create a job (or find the one this Idempotency-Key made); True when it is new.

        Raises:
            IdempotencyConflict: the key was used with another body.
        """
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if key is not None and (seen := self._keys.get((kind, key))) is not None:
            if seen[0] != digest:
                raise IdempotencyConflict
            return self.advance(self.jobs[kind].by_id[seen[1]]), False
        created = self.now()
        now = self._stamp(created)
        job: Item = {
            "id": str(uuid.uuid4()),
            "type": kind,
            "status": "pending",
            "reference": body.get("reference") or f"sandbox-{uuid.uuid4().hex[:12]}",
            "sales_point": parse_uuid(body["sales_point"]) or body["sales_point"],
            "created": now,
            "updated": now,
            "result": None,
            "error": None,
            "request": dict(body),
        }
        if self._duration is None:
            pickup, done = self._delay, 2 * self._delay
        else:
            done = draw_duration(self._duration, self._rng)
            pickup = done / 2
        if (magic := behaviour(job["reference"])) is not None:
            pickup = pickup if magic.pickup is None else magic.pickup
            done = done if magic.done is None else magic.done
        self._timing[job["id"]] = _Timing(self._clock(), created, pickup, done)
        self.jobs[kind].add(job)
        if key is not None:
            self._keys[(kind, key)] = (digest, job["id"])
        return job, True

    def validate(self, kind: JobKind, body: object) -> dict[str, Any]:
        """DRF's field map of what is wrong with a submitted body (empty when it is valid)."""
        if not isinstance(body, dict):
            kind_name = type(body).__name__
            return {
                "non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind_name}."]
            }
        errors: dict[str, Any] = {}
        self._check_ref(errors, body, "sales_point", self._points, required=True)
        for name, limit in (("reference", _REFERENCE_MAX), ("note", _NOTE_MAX)):
            if body.get(name) is not None and (problem := _text_error(body[name], limit)):
                errors[name] = [problem]
        if kind == "order":
            self._check_ref(errors, body, "table", self._tables, required=False)
            lines = body.get("lines")
            if "lines" not in body:
                errors["lines"] = [_REQUIRED]
            elif lines is None:
                errors["lines"] = [_NULL]
            elif not isinstance(lines, list):
                kind_name = type(lines).__name__
                errors["lines"] = [f'Expected a list of items but got type "{kind_name}".']
            elif not lines:
                errors["lines"] = ["This list may not be empty."]
            else:
                line_errors = [self._line_errors(line) for line in lines]
                if any(line_errors):
                    errors["lines"] = line_errors
        else:
            self._check_ref(errors, body, "payment_method", self._methods, required=True)
            if "order" not in body:
                errors["order"] = [_REQUIRED]
            elif body["order"] is None:
                errors["order"] = [_NULL]
            elif parse_uuid(str(body["order"])) is None:
                errors["order"] = ["Must be a valid UUID."]
            for name, required in (("amount", True), ("tip", False)):
                value = body.get(name)
                if name not in body:
                    if required:
                        errors[name] = [_REQUIRED]
                elif value is None:
                    if required:
                        errors[name] = [_NULL]
                elif problem := _decimal_error(value, _MONEY_DIGITS, positive=name == "amount"):
                    errors[name] = [problem]
        return errors

    def _line_errors(self, line: object) -> dict[str, Any]:
        if not isinstance(line, dict):
            kind_name = type(line).__name__
            return {
                "non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind_name}."]
            }
        errors: dict[str, Any] = {}
        self._check_ref(errors, line, "article", self._articles, required=True)
        if "quantity" not in line:
            errors["quantity"] = [_REQUIRED]
        elif problem := _decimal_error(line["quantity"], _QUANTITY_DIGITS, positive=True):
            errors["quantity"] = [problem]
        price = line.get("unit_price")
        if price is not None and (problem := _decimal_error(price, _MONEY_DIGITS, positive=False)):
            errors["unit_price"] = [problem]
        options = line.get("options")
        if options is not None:
            if not isinstance(options, list):
                kind_name = type(options).__name__
                errors["options"] = [f'Expected a list of items but got type "{kind_name}".']
            else:
                option_errors = [self._option_errors(option) for option in options]
                if any(option_errors):
                    errors["options"] = option_errors
        return errors

    def _option_errors(self, option: object) -> dict[str, Any]:
        if not isinstance(option, dict):
            kind_name = type(option).__name__
            return {
                "non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind_name}."]
            }
        errors: dict[str, Any] = {}
        known: dict[str, Item] = {choice: {} for choice in self._choice_price}
        self._check_ref(errors, option, "option", known, required=True)
        if "quantity" in option and (
            problem := _decimal_error(option["quantity"], _QUANTITY_DIGITS, positive=True)
        ):
            errors["quantity"] = [problem]
        return errors

    @staticmethod
    def _check_ref(
        errors: dict[str, Any],
        body: Mapping[str, Any],
        name: str,
        known: Mapping[str, Item],
        *,
        required: bool,
    ) -> None:
        if name not in body:
            if required:
                errors[name] = [_REQUIRED]
            return
        value = body[name]
        if value is None:
            if required:
                errors[name] = [_NULL]
            return
        canonical = parse_uuid(value) if isinstance(value, str) else None
        if canonical is None:
            errors[name] = ["Must be a valid UUID."]
        elif canonical not in known:
            errors[name] = [_does_not_exist(value)]


def _job_key(job: Item) -> tuple[int, str]:
    """Jobs are listed by ``updated`` (then id), so a changed job moves to the list's end."""
    return (micros(datetime.fromisoformat(job["updated"])), job["id"])


def public(job: Item) -> Item:
    """The job as the API shows it (without the sandbox's copy of the request)."""
    return {k: v for k, v in job.items() if k != "request"}
