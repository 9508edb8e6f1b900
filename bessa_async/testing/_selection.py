"""What a list request selects: each endpoint's filters, and the query read into a Selection.

Filter values are read the way django-filter does (the last of a repeated name wins, an empty
value is no filter) and refused with its field-map messages; the page size and cursor the way
DRF's ``CursorPagination`` reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final, Literal

import attrs

from ._cursor import Item, Selection
from ._query import (
    INVALID_BOOLEAN,
    INVALID_DATETIME,
    FieldErrors,
    invalid_uuid,
    micros,
    parse_bool,
    parse_timestamp,
    parse_uuid,
)

__all__ = [
    "DEFAULT_LIMIT",
    "SPECS",
    "OneOf",
    "Spec",
    "WindowPrecision",
    "Within",
    "key_for",
    "page_limit",
    "sales_window",
    "selection",
]

DEFAULT_LIMIT: Final = 25
_RECEIPT_TYPES: Final = ("invoice", "cancellation", "start", "null", "closing", "training")
_CLOSING_TYPES: Final = ("daily", "monthly", "yearly")
_JOB_STATUSES: Final = ("pending", "processing", "completed", "failed", "expired", "cancelled")
_SECOND: Final = 1_000_000  # in micros()

WindowPrecision = Literal["seconds", "microseconds"]
"""How precise the ``__gte``/``__lt`` time filters are: ``"seconds"`` floors both bounds to the
whole second, as an API whose filter compares whole seconds would."""


@attrs.frozen
class Spec:
    """The filters of one list endpoint.

    ``multi`` are choices that take one or more values (django-filter's
    ``MultipleChoiceFilter``: ``status=pending&status=processing``); ``scans`` are time fields
    other than the list's order with ``__gte``/``__lt`` windows.
    """

    time: str | None = None
    uuids: tuple[str, ...] = ()
    bools: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    choices: tuple[tuple[str, tuple[str, ...]], ...] = ()
    multi: tuple[tuple[str, tuple[str, ...]], ...] = ()
    scans: tuple[str, ...] = ()


@attrs.frozen(eq=False)
class OneOf:
    """An equality filter's value that any of ``values`` matches (compared with ``==``)."""

    values: frozenset[str]

    def __eq__(self, other: object) -> bool:
        return other in self.values

    def __hash__(self) -> int:
        return hash(self.values)


@attrs.frozen(eq=False)
class Within:
    """An equality filter's value that a timestamp in ``[gte, lt)`` (microseconds) matches."""

    gte: int | None
    lt: int | None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return False
        moment = micros(datetime.fromisoformat(other))
        return (self.gte is None or moment >= self.gte) and (self.lt is None or moment < self.lt)

    def __hash__(self) -> int:
        return hash((self.gte, self.lt))


SPECS: Final[dict[str, Spec]] = {
    "companies": Spec(),
    "locations": Spec(uuids=("company",)),
    "sales-points": Spec(uuids=("location",)),
    "tax-rates": Spec(),
    "article-groups": Spec(),
    "articles": Spec(uuids=("article_group",), bools=("active",), texts=("product_number",)),
    "article-options": Spec(),
    "payment-methods": Spec(),
    "tables": Spec(uuids=("location",)),
    "users": Spec(uuids=("location",)),
    "receipts": Spec(
        time="timestamp", uuids=("sales_point", "location"), choices=(("type", _RECEIPT_TYPES),)
    ),
    "reports/closings": Spec(
        time="timestamp", uuids=("sales_point",), choices=(("type", _CLOSING_TYPES),)
    ),
    "stock-levels": Spec(uuids=("article", "location")),
    # Jobs are listed by ``updated``: a job that changed moves to the end of the list.
    "requests/orders": Spec(
        time="updated",
        uuids=("sales_point",),
        texts=("reference",),
        multi=(("status", _JOB_STATUSES),),
        scans=("created",),
    ),
}
SPECS["requests/payments"] = SPECS["requests/orders"]


def key_for(spec: Spec) -> Callable[[Item], tuple[int, str]]:
    """The order an endpoint lists in: its time field then id, or the id alone."""
    if spec.time is not None:
        field = spec.time
        return lambda item: (micros(datetime.fromisoformat(item[field])), item["id"])
    return lambda item: (0, item.get("id") or f"{item.get('article')}/{item.get('location')}")


def _uuid_equals(
    values: dict[str, str], names: tuple[str, ...], errors: FieldErrors
) -> list[tuple[str, object]]:
    """The UUID filters among ``names`` that were given; a malformed one goes to ``errors``."""
    equals: list[tuple[str, object]] = []
    for name in names:
        if values.get(name):
            canonical = parse_uuid(values[name])
            if canonical is None:
                errors[name] = [invalid_uuid(values[name])]
            else:
                equals.append((name, canonical))
    return equals


def selection(
    spec: Spec, query: list[tuple[str, str]], *, precision: WindowPrecision = "microseconds"
) -> Selection | FieldErrors:
    """The items a list request filters for, or the field errors of its bad values; the time
    windows' bounds as precise as ``precision``."""
    values = dict(query)  # Django's QueryDict.get: the last value wins.
    errors: FieldErrors = {}
    stamps: dict[str, int | None] = {}
    names = ["updated__gte", "updated__lt"]
    for field in (spec.time, *spec.scans):
        if field is not None and field != "updated":
            names += [f"{field}__gte", f"{field}__lt"]
    for name in names:
        stamps[name] = None
        if name in values and values[name] != "":
            parsed = parse_timestamp(values[name])
            if parsed is None:
                errors[name] = [INVALID_DATETIME]
            else:
                stamp = micros(parsed)
                stamps[name] = stamp - stamp % _SECOND if precision == "seconds" else stamp
    equals = _uuid_equals(values, spec.uuids, errors)
    for name in spec.bools:
        if values.get(name):
            flag = parse_bool(values[name])
            if flag is None:
                errors[name] = [INVALID_BOOLEAN]
            else:
                equals.append((name, flag))
    for name in spec.texts:
        if values.get(name):
            equals.append((name, values[name]))
    for name, options in spec.choices:
        if values.get(name):
            if values[name] not in options:
                choice = values[name]
                errors[name] = [
                    f"Select a valid choice. {choice} is not one of the available choices."
                ]
            else:
                equals.append((name, values[name]))
    for name, options in spec.multi:
        chosen = [value for key, value in query if key == name and value]
        for choice in chosen:
            if choice not in options:
                errors[name] = [
                    f"Select a valid choice. {choice} is not one of the available choices."
                ]
        if chosen and name not in errors:
            equals.append((name, chosen[0] if len(chosen) == 1 else OneOf(frozenset(chosen))))
    for field in spec.scans:
        low, high = stamps.get(f"{field}__gte"), stamps.get(f"{field}__lt")
        if low is not None or high is not None:
            equals.append((field, Within(low, high)))
    if errors:
        return errors
    return Selection(
        time_gte=stamps.get(f"{spec.time}__gte"),
        time_lt=stamps.get(f"{spec.time}__lt"),
        updated_gte=stamps["updated__gte"],
        updated_lt=stamps["updated__lt"],
        equals=tuple(equals),
    )


def page_limit(query: list[tuple[str, str]], max_limit: int) -> int:
    """The page size asked for, clamped to ``max_limit``; the default if missing or invalid."""
    try:
        asked = int(dict(query).get("limit", ""))
    except ValueError:
        asked = 0
    return min(asked, max_limit) if asked > 0 else DEFAULT_LIMIT


def sales_window(
    query: list[tuple[str, str]],
) -> tuple[datetime, datetime, Selection] | FieldErrors:
    """``reports/sales``: the required window and the receipts it covers, or field errors."""
    values = dict(query)
    errors: FieldErrors = {}
    bounds = {}
    for name in ("start", "end"):
        if not values.get(name):
            errors[name] = ["This field is required."]
        elif (parsed := parse_timestamp(values[name])) is None:
            errors[name] = [INVALID_DATETIME]
        else:
            bounds[name] = parsed
    equals = _uuid_equals(values, ("location", "sales_point"), errors)
    if not errors and bounds["end"] < bounds["start"]:
        errors["non_field_errors"] = ["end must not be before start."]
    if errors:
        return errors
    chosen = Selection(
        time_gte=micros(bounds["start"]), time_lt=micros(bounds["end"]), equals=tuple(equals)
    )
    return bounds["start"], bounds["end"], chosen
