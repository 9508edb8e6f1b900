"""The list endpoints' keyword filters: one ``TypedDict`` per resource is their only declaration.

A ``list(self, **filters: Unpack[ReceiptFilters])`` gets from its TypedDict: the check that
refuses a misspelt keyword (DRF ignores unknown parameters and would answer the whole,
unfiltered list), which filters are ids, which are time windows, and the signature ``help()``
and IDEs show (``Unpack`` alone would show only ``**filters``).
"""

from __future__ import annotations

import inspect
import re
import typing
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, Final, TypedDict

import attrs

from .._base.config import USE_CLIENT_DEFAULT, TimeoutArg
from .._base.errors import InvalidTypeError, InvalidValueError
from .._base.options import ParamValue, check_extra_params, check_headers
from .._base.urls import encode_params
from .._base.validate import check_int, check_uuid
from .._models.records import ClosingType, ReceiptType

__all__ = [
    "LIST_DEFAULTS",
    "ArticleFilters",
    "ByLocationFilters",
    "CallTimeout",
    "ClosingFilters",
    "FilterSpec",
    "IdLike",
    "ListFilters",
    "ListOptions",
    "LocationFilters",
    "ReceiptFilters",
    "RequestOptions",
    "StockLevelFilters",
    "Window",
    "check_timestamp",
    "check_windows",
    "clean_query",
    "declare_filters",
]

IdLike = uuid.UUID | str
"""An id filter: a UUID or its text (checked and sent as text)."""


class Window(TypedDict, total=False):
    """The change window and the paging keys every list endpoint takes."""

    updated__gte: datetime | None
    updated__lt: datetime | None
    limit: int | None
    cursor: str | None


class CallTimeout(TypedDict, total=False):
    """A listing's ``timeout=`` (never sent): the deadline of each page request, its retries
    included; None for none; left out, the client's."""

    timeout: TimeoutArg


class ListOptions(CallTimeout, total=False):
    """How the client lists (never sent): pages read ahead, parallel shards, shard order, and
    each page request's deadline."""

    prefetch: int
    concurrency: int
    ordered: bool


LIST_DEFAULTS: Final[ListOptions] = {
    "prefetch": 1,
    "concurrency": 1,
    "ordered": True,
    "timeout": USE_CLIENT_DEFAULT,
}


class RequestOptions(TypedDict, total=False):
    """The escape hatches of a call, for what the library does not model yet: query
    parameters and headers sent as given with each of its requests. A name the library or a
    typed filter sets is refused (pass that filter itself)."""

    extra_params: Mapping[str, ParamValue] | None
    extra_headers: Mapping[str, str] | None


class ListFilters(Window, ListOptions, RequestOptions, total=False):
    """What every typed ``list`` takes (the master data, companies, tax rates ..., just
    these): the change window, paging, listing options and the escape hatches. Build one to
    reuse it, ``june = ReceiptFilters(timestamp__gte=..., limit=100)``, then ``list(**june)``."""


class LocationFilters(ListFilters, total=False):
    """What ``client.locations.list`` takes."""

    company: IdLike | None


class ByLocationFilters(ListFilters, total=False):
    """What ``list`` of sales points, tables and users takes."""

    location: IdLike | None


class ArticleFilters(ListFilters, total=False):
    """What ``client.articles.list`` takes."""

    article_group: IdLike | None
    active: bool | None
    product_number: str | None


class ReceiptFilters(ListFilters, total=False):
    """What ``client.receipts.list`` takes."""

    timestamp__gte: datetime | None
    timestamp__lt: datetime | None
    sales_point: IdLike | None
    location: IdLike | None
    type: ReceiptType | str | None  # "type": the API's filter name


class ClosingFilters(ListFilters, total=False):
    """What ``client.closings.list`` takes."""

    timestamp__gte: datetime | None
    timestamp__lt: datetime | None
    sales_point: IdLike | None
    type: ClosingType | str | None  # "type": the API's filter name


class StockLevelFilters(ListFilters, total=False):
    """What ``client.stock_levels.list`` takes."""

    article: IdLike | None
    location: IdLike | None


_LOWER: Final = frozenset({"gte", "gt"})
_UPPER: Final = frozenset({"lt", "lte"})
_ISO_TEXT: Final = re.compile(r"\d{4}-\d{2}-\d{2}")  # how ISO 8601 dates and times start


def check_timestamp(name: str, value: object) -> datetime:
    """``value`` as the aware datetime a timestamp argument takes; text is refused, because
    text without an offset is read by the API as UTC, not as the local day a user means."""
    if isinstance(value, date):
        encode_params({name: value})  # refuses a naive datetime or a bare date, saying why
        if isinstance(value, datetime):
            return value
    if isinstance(value, str):
        raise InvalidTypeError(
            f"{name} is a string ({value!r}); pass an aware datetime: text without an offset "
            "would be read as UTC, not as the local day you mean. For a local day use "
            "bessa_async.business_day(day) (or receipts.for_day(day)); for ISO text with an "
            "offset, datetime.fromisoformat(text)"
        )
    raise InvalidTypeError(f"{name} must be an aware datetime, got {value!r}")


def _moment(name: str, value: object) -> datetime | None:
    """The instant a window bound stands for, or None when it is not a timestamp (a number; a
    naive datetime, which ``encode_params`` refuses). ISO text must carry its offset."""
    if isinstance(value, datetime):
        return None if value.utcoffset() is None else value
    if not isinstance(value, str) or not _ISO_TEXT.match(value):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.utcoffset() is None:
        raise InvalidValueError(
            f"{name}={value!r} has no UTC offset, so the API would read it as UTC, not as the "
            "local time you mean; add the offset (2026-06-01T00:00:00+02:00), or use "
            "bessa_async.business_day(day) for a local day's UTC window"
        )
    return moment


def check_windows(query: Mapping[str, Any]) -> None:
    """Refuse a window (``x__gte`` with ``x__lt``, ...) whose start is after its end: the API
    would answer an empty list, and the bounds were most likely swapped."""
    lower: dict[str, tuple[str, object, datetime]] = {}
    upper: dict[str, tuple[str, object, datetime]] = {}
    for name, value in query.items():
        if not isinstance(name, str):  # it would reach the query as a bare error
            raise InvalidTypeError(
                f"parameter names must be str, got {type(name).__name__} {name!r}; nothing was sent"
            )
        field, _, bound = name.rpartition("__")
        if field and bound in _LOWER | _UPPER and (moment := _moment(name, value)) is not None:
            (lower if bound in _LOWER else upper).setdefault(field, (name, value, moment))
    for field, (low_name, low_value, low) in lower.items():
        if field in upper and low > upper[field][2]:
            high_name, high_value, _ = upper[field]
            raise InvalidValueError(
                f"{low_name} ({_shown(low_value)}) is after {high_name} ({_shown(high_value)}): "
                "the window is empty; swap the bounds"
            )


def _shown(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def clean_query(
    filters: Mapping[str, Any], *, ids: frozenset[str] = frozenset(), strings: frozenset[str]
) -> dict[str, Any]:
    """Drop unset filters, check the ones ``encode_params`` cannot judge, and the windows."""
    query: dict[str, Any] = {}
    for name, value in filters.items():
        if value is None:
            continue
        if name in ids:
            value = str(check_uuid(name, value))
        elif name == "limit":
            check_int("limit", value, minimum=1)
        elif name in strings and (not isinstance(value, str) or not value):
            raise InvalidValueError(f"{name} must be a non-empty string, got {value!r}")
        query[name] = value
    check_windows(query)
    return query


@attrs.frozen
class FilterSpec:
    """What one ``list`` accepts, read from its TypedDict."""

    keys: frozenset[str]
    ids: frozenset[str]
    """The filters annotated with a UUID: checked, sent as text."""
    strings: frozenset[str]
    """The filters that must be non-empty strings when given."""
    windows: tuple[str, ...]
    """The fields with a datetime ``__gte`` bound, in declaration order (``updated`` last)."""
    timestamps: frozenset[str] = frozenset()
    """The filters annotated with a datetime: an aware datetime only, never text."""

    def split(
        self, given: Mapping[str, Any], *, owner: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The checked query (``extra_params`` included) and the listing options of a call
        (``extra_headers`` among them, checked).

        Raises:
            InvalidTypeError: a keyword ``owner`` does not take, as Python's own message says
                it, or text for a timestamp.
            InvalidValueError: a bad id, limit or window; an extra parameter that a typed
                filter or the library sets; a header the library sets.
        """
        for name in given:
            if name not in self.keys:
                raise InvalidTypeError(f"{owner}() got an unexpected keyword argument {name!r}")
        for name in self.timestamps & given.keys():
            if given[name] is not None:
                check_timestamp(name, given[name])
        options = {k: v for k, v in given.items() if k in ListOptions.__annotations__}
        sent = {k: v for k, v in given.items() if k not in options and k not in _REQUEST_OPTIONS}
        query = clean_query(sent, ids=self.ids, strings=self.strings)
        query.update(self.extra_params(given.get("extra_params"), owner=owner))
        options["extra_headers"] = check_headers(
            given.get("extra_headers"), where=f"{owner}(extra_headers=)"
        )
        return query, options

    def extra_params(self, extra: object, *, owner: str) -> dict[str, Any]:
        """``extra_params`` of a call, refusing the names of this spec (filters, ``cursor``,
        ``limit``, options): one name, one meaning."""
        return check_extra_params(extra, taken=self.keys, owner=f"{owner}()")


_REQUEST_OPTIONS: Final = frozenset(RequestOptions.__annotations__)


def _group(name: str) -> int:
    """Own filters first, then the window and paging, then the options, then the escape
    hatches (as ``help()`` lists)."""
    if name in _REQUEST_OPTIONS:
        return 3
    return 2 if name in ListOptions.__annotations__ else int(name in Window.__annotations__)


def declare_filters(
    method: Callable[..., Any], *, strings: frozenset[str] = frozenset({"cursor"})
) -> FilterSpec:
    """The spec of ``method``'s ``**filters: Unpack[SomeFilters]``; sets its ``__signature__``.

    The signature names every filter as a keyword-only parameter (default None, the options
    their defaults), so ``help()`` and ``inspect.signature`` show them.
    """
    hints = typing.get_type_hints(method)
    (filters,) = typing.get_args(hints["filters"])
    fields = typing.get_type_hints(filters)
    names = sorted(fields, key=_group)
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=LIST_DEFAULTS.get(name),
            annotation=fields[name],
        )
        for name in names
    ]
    method.__dict__["__signature__"] = inspect.Signature(
        parameters, return_annotation=hints.get("return", inspect.Signature.empty)
    )
    return FilterSpec(
        keys=frozenset(names),
        ids=frozenset(name for name in names if uuid.UUID in typing.get_args(fields[name])),
        strings=strings,
        windows=tuple(
            name.removesuffix("__gte")
            for name in names
            if name.endswith("__gte") and datetime in typing.get_args(fields[name])
        ),
        timestamps=frozenset(name for name in names if datetime in typing.get_args(fields[name])),
    )
