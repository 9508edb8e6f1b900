"""The sandbox's Sales Points: order and payment jobs, validated, deduplicated, processed later.

A job is created ``pending`` by a POST; the Sales Point picks it up ``job_delay`` seconds later
(``processing``) and finishes it another ``job_delay`` later (``completed``, or ``failed`` when
an article turned out to be inactive, as a till would report). While a Sales Point is offline its
jobs stay ``pending``; one left pending longer than ``job_expiry`` ends ``expired``. Statuses are
advanced lazily, whenever a job is read, from the sandbox's clock, so a test that passes a
:class:`~bessa_async.testing.FakeClock` to both the sandbox and the client controls job timing
without real waiting.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, final

from ._cursor import Collection, Item
from ._data import TenantData
from ._filters import format_timestamp, micros, parse_uuid

__all__ = ["IdempotencyConflict", "JobBook", "JobKind"]

JobKind = Literal["order", "payment"]

_REQUIRED: Final = "This field is required."
_NULL: Final = "This field may not be null."
_MONEY_DIGITS: Final = 2
_QUANTITY_DIGITS: Final = 3
_REFERENCE_MAX: Final = 100
_NOTE_MAX: Final = 500


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with another body."""


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
    ) -> None:
        self._data = data
        self._clock = clock
        self._delay = delay
        self._expiry = expiry
        self._articles = {a["id"]: a for a in data.articles}
        self._points = {p["id"]: p for p in data.sales_points}
        self._tables = {t["id"]: t for t in data.tables}
        self._methods = {m["id"]: m for m in data.payment_methods}
        self.jobs: dict[JobKind, Collection] = {
            "order": Collection((), key=_job_key),
            "payment": Collection((), key=_job_key),
        }
        self._born: dict[str, float] = {}
        self._offline_since: dict[str, float] = {}
        self._keys: dict[tuple[JobKind, str], tuple[str, str]] = {}

    # -- the Sales Points ------------------------------------------------------------------

    def set_online(self, sales_point: str | None, online: bool) -> None:
        """Take one Sales Point (or, with None, all of them) offline or back online."""
        points = list(self._points) if sales_point is None else [sales_point]
        now = self._clock()
        for point in points:
            if online:
                self._offline_since.pop(point, None)
            else:
                self._offline_since.setdefault(point, now)

    def advance(self, job: Item) -> Item:
        """Bring a job's status up to the sandbox's clock; returns the same (mutated) dict."""
        if job["status"] not in ("pending", "processing"):
            return job
        now = self._clock()
        born = self._born[job["id"]]
        if job["sales_point"] in self._offline_since:
            if job["status"] == "pending" and now - born >= self._expiry:
                self._finish(job, "expired", error={"code": "expired", "detail": _EXPIRED})
            return job
        if now - born >= 2 * self._delay:
            self._complete(job)
        elif now - born >= self._delay and job["status"] == "pending":
            self._set(job, status="processing")
        return job

    def _set(self, job: Item, **changes: Any) -> None:
        job.update(changes)
        job["updated"] = format_timestamp(datetime.now(UTC))
        self.jobs[job["type"]].touch(job)

    def _finish(self, job: Item, status: str, *, error: Mapping[str, str]) -> None:
        self._set(job, status=status, error=dict(error))

    def _complete(self, job: Item) -> None:
        if job["type"] == "order":
            for line in job["request"]["lines"]:
                article = self._articles[line["article"]]
                if not article["active"]:
                    detail = f"Article '{article['name']}' is not available."
                    self._finish(
                        job, "failed", error={"code": "article_inactive", "detail": detail}
                    )
                    return
            result: dict[str, Any] = {"order": str(uuid.uuid4()), "receipt": None, "number": None}
        else:
            result = {"receipt": None, "number": None}
        self._set(job, status="completed", result=result)

    def cancel(self, job: Item) -> None:
        """Withdraw a job that no Sales Point has picked up yet."""
        if job["status"] == "pending":
            self._finish(job, "cancelled", error={"code": "cancelled", "detail": "Withdrawn."})

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
        now = format_timestamp(datetime.now(UTC))
        job: Item = {
            "id": str(uuid.uuid4()),
            "type": kind,
            "status": "pending",
            "reference": body.get("reference") or f"sandbox-{uuid.uuid4().hex[:12]}",
            "sales_point": body["sales_point"],
            "created": now,
            "updated": now,
            "result": None,
            "error": None,
            "request": dict(body),
        }
        self._born[job["id"]] = self._clock()
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


_EXPIRED: Final = "No Sales Point picked the job up before it expired."


def _job_key(job: Item) -> tuple[int, str]:
    return (micros(datetime.fromisoformat(job["created"])), job["id"])


def public(job: Item) -> Item:
    """The job as the API shows it (without the sandbox's copy of the request)."""
    return {k: v for k, v in job.items() if k != "request"}
