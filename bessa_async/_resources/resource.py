"""The typed resources of the client: ``client.receipts.list(...)``, ``client.articles.get(id)``.

Each resource class declares its ``name`` and ``default_path`` (overridable, since the real paths
are inferred); its model is its type argument and its filters are the TypedDict its ``list``
unpacks. A misspelt filter is a ``TypeError`` at the call instead of a silently ignored query
parameter (DRF ignores unknown parameters and would answer the whole, unfiltered list).
"""

from __future__ import annotations

import functools
import logging
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, ClassVar, Final, Generic, Protocol, TypeVar, Unpack, final, overload

from .._base.config import USE_CLIENT_DEFAULT, Timeout, TimeoutArg, call_timeout
from .._base.days import DEFAULT_TZ, business_day
from .._base.errors import InvalidTypeError, InvalidValueError, ResumeTokenError
from .._base.options import ParamValue, check_extra_params, check_headers
from .._base.paths import check_path
from .._base.urls import encode_params
from .._base.validate import check_int, check_uuid
from .._instrument.hooks import Hooks
from .._listing.changes import DEFAULT_OVERLAP, ChangeFeed
from .._listing.checkpoint import Checkpoint, filters_of, read_checkpoint
from .._listing.filters import (
    LIST_DEFAULTS,
    ArticleFilters,
    ByLocationFilters,
    ClosingFilters,
    FilterSpec,
    IdLike,
    ListFilters,
    LocationFilters,
    ReceiptFilters,
    StockLevelFilters,
    check_timestamp,
    clean_query,
    declare_filters,
)
from .._listing.pagination import Fetch, Paginator, observe_pages
from .._listing.shard_token import identity_of, is_listing_token, read_token
from .._listing.sharding import ShardPlan, sharded_pages
from .._models.convert import decode, decode_many, instant
from .._models.records import (
    Article,
    ArticleGroup,
    ArticleOption,
    Closing,
    Company,
    Location,
    PaymentMethod,
    Receipt,
    ReceiptType,
    SalesPoint,
    SalesReport,
    StockLevel,
    Table,
    TaxRate,
    User,
)
from .._transport.raw import LastResponse, RawResponse
from .._transport.session import Sender
from .raw import RawResource

__all__ = [
    "AnyResource",
    "ArticleGroups",
    "ArticleOptions",
    "Articles",
    "Closings",
    "Companies",
    "Locations",
    "PaymentMethods",
    "Receipts",
    "Reports",
    "Resource",
    "SalesPoints",
    "StockLevels",
    "Tables",
    "TaxRates",
    "Users",
    "filter_spec_of",
    "model_of",
    "raw_identity",
]

T = TypeVar("T")
log = logging.getLogger("bessa_async")
DRF_PAGE_SIZE: Final = 25
"""The API's page size when ``limit`` is not given (documented)."""


def _raw_time(field: str) -> Callable[[Any], datetime | None]:
    """An item's business time from its raw JSON (None if absent or unreadable: the item's
    decoding then says what is wrong)."""

    def when(item: Any) -> datetime | None:
        return instant(item.get(field)) if isinstance(item, dict) else None

    return when


def raw_identity(item: Any) -> str:
    """An item's identity from its raw JSON, for the sharded listing's duplicate check."""
    if not isinstance(item, dict):
        return repr(item)
    ident = item.get("id")
    if ident is None:  # stock levels: no id of their own, one per article and location
        return f"{item.get('article')}/{item.get('location')}"
    return str(ident)


class Requester(Protocol):
    """What a resource needs of the client: one way to send a request."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
    ) -> Any: ...

    async def _request_raw(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | None = None,
    ) -> RawResponse[Any]: ...

    @property
    def hooks(self) -> Hooks | None:
        """The client's hooks, told of each page read."""
        ...

    @property
    def _local_clock(self) -> Callable[[], datetime]:
        """This machine's wall clock (the injected clock's), checked against the server's."""
        ...

    @property
    def _sender(self) -> Sender:
        """The client's sender: its ``sleep`` is the one every wait goes through."""
        ...

    async def _get_dated(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | None = None,
    ) -> tuple[Any, str | None]: ...


class Resource(Generic[T]):
    """A list endpoint and, where the API has one, its detail endpoint.

    ``client.resource("some/path/")`` gives one for any path (items as dicts, or typed with
    ``model=``); the typed resources (``client.receipts`` ...) add keyword filters.

    A typed resource declares its ``name`` (its key in ``paths=`` and its client attribute) and
    ``default_path``; its model is the type argument, e.g. ``Receipts(Resource[Receipt])``.
    """

    name: ClassVar[str]
    default_path: ClassVar[str]
    _declared_model: ClassVar[type[Any] | None] = None
    _has_detail = True
    _filters: ClassVar[FilterSpec | None] = None
    """What ``list`` takes, read from its ``**filters: Unpack[...]`` annotation."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in cls.__dict__.get("__orig_bases__", ()):
            args = typing.get_args(base)
            if args and isinstance(args[0], type):  # a TypeVar argument: no model yet
                cls._declared_model = args[0]
        listing = cls.__dict__.get("list")
        if listing is not None and "filters" in listing.__annotations__:
            cls._filters = declare_filters(listing)

    def __init__(self, client: Requester, path: str) -> None:
        self._client = client
        self._path = path
        self._model: type[T] | None = self._declared_model
        self._name: str = getattr(self, "name", path)  # an AnyResource is named by its path

    @property
    def path(self) -> str:
        """The path relative to the base URL."""
        return self._path

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._path!r}>"

    def _decode_one(self, data: object) -> T:
        if self._model is None:
            return data  # type: ignore[return-value]  # untyped resource: items stay JSON
        return decode(self._model, data, resource=self._name)

    def _decode_page(self, items: list[Any]) -> list[T]:
        if self._model is None:
            return items
        return decode_many(self._model, items, resource=self._name)

    async def _get_json(self, target: str, params: Mapping[str, Any] | None) -> Any:
        return await self._client.request("GET", target, params=params)

    def _fetcher(
        self, headers: Mapping[str, str], last: LastResponse, timeout: Timeout | None
    ) -> Fetch:
        """How this resource GETs a page, with a call's ``extra_headers`` and each page's
        ``timeout`` (None: the client's); each answer is kept in ``last`` (the listing's
        :attr:`~Paginator.last_response`)."""

        async def get_json(target: str, params: Mapping[str, Any] | None) -> Any:
            answer = await self._client._request_raw(
                "GET", target, params=params, headers=headers, timeout=timeout
            )
            last.value = answer
            return answer.data

        return get_json

    @property
    def with_raw_response(self) -> RawResource[T]:
        """This resource's ``get`` answering a :class:`RawResponse`: the item as ``data``,
        next to the answer's status, headers and request id. For a listing's headers, see
        :attr:`Paginator.last_response`."""
        return RawResource(self)

    def _filtered(self, filters: Mapping[str, Any]) -> Paginator[T]:
        """A typed ``list``: ``filters`` checked against the resource's own TypedDict."""
        assert self._filters is not None  # set for every list declared with Unpack
        query, options = self._filters.split(filters, owner=f"{type(self).__name__}.list")
        return self._list(query, **options)

    def _list(
        self,
        query: dict[str, Any],
        *,
        prefetch: int = LIST_DEFAULTS["prefetch"],
        concurrency: int = LIST_DEFAULTS["concurrency"],
        ordered: bool = LIST_DEFAULTS["ordered"],
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Paginator[T]:
        encode_params(query)  # bad values fail here, at the call, not at the first page
        check_int("concurrency", concurrency, minimum=1)
        last = LastResponse()
        fetcher = self._fetcher(extra_headers or {}, last, call_timeout(timeout))
        fetch = observe_pages(fetcher, self._client.hooks, self._name)
        sharded = None
        token = query.get("cursor") if is_listing_token(query.get("cursor")) else None
        if concurrency > 1 or token is not None:
            plan = self._plan(query, concurrency, ordered)
            resume = None
            if token is not None:
                # A sharded listing's resume token: read by the same call, at any concurrency.
                query = {k: v for k, v in query.items() if k != "cursor"}
                if plan is None:
                    raise ResumeTokenError(
                        "this cursor is a sharded listing's resume token: resume it with the "
                        "same window (both bounds) and filters (nothing was sent)"
                    )
                resume = read_token(
                    token,
                    identity_of(
                        self._name,
                        field=plan.field,
                        start=plan.start,
                        end=plan.end,
                        ordered=plan.ordered,
                        params=query,
                    ),
                )
            if plan is not None:
                if "cursor" in query:
                    raise InvalidValueError(
                        "cursor= and concurrency= cannot be combined: a cursor is a position "
                        "in one chain; a sharded listing resumes from its own resume_cursor"
                    )
                sharded = sharded_pages(
                    fetch,
                    self._path,
                    query,
                    self._decode_page,
                    resource=self._name,
                    plan=plan,
                    when=_raw_time(plan.field),
                    ident=raw_identity,
                    resume=resume,
                )
        return Paginator(
            fetch,
            self._path,
            query,
            self._decode_page,
            resource=self._name,
            prefetch=prefetch,
            sharded=sharded,
            hooks=self._client.hooks,
            clock=self._client._sender.clock,
            last=last,
        )

    def changes(
        self,
        since: str | datetime | None = None,
        *,
        limit: int | None = None,
        concurrency: int = 1,
        overlap: timedelta = DEFAULT_OVERLAP,
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
        extra_params: Mapping[str, ParamValue] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        **filters: Any,
    ) -> ChangeFeed[T]:
        """Everything new or changed since ``since``, as batches with checkpoints.

        Args:
            since: None for a full first load; the ``checkpoint`` str of an earlier run (a
                batch's or the exhausted feed's) to go on from there; or an aware datetime
                (items whose ``updated`` is at or after it).
            limit: the page size (the API's default when None).
            concurrency: cursor chains read at once; a pass is split by the business time
                (receipts, closings), which edits never change. Other resources use one chain.
            overlap: how late an item may become visible after its ``updated`` stamp (commit
                lag) and still be delivered; re-reading it repeats nothing. Default 60 s.
            timeout: the deadline of each page request, its retries included (seconds or a
                :class:`Timeout`); None for none; left out, the client's.
            extra_params: query parameters the library does not model, sent as given with
                every request (not the names of typed filters or the feed's own); part of
                the checkpoint, like the filters, so resume with the same ones.
            extra_headers: headers sent with every request (not the library's own).
            filters: the resource's own equality filters (``sales_point=``, ``active=`` ...);
                not its time windows, which the feed sets itself.

        Raises:
            ResumeTokenError: ``since`` is not a checkpoint, or one of another resource or
                other filters (nothing is sent).
            InvalidTypeError, InvalidValueError: a bad argument (nothing is sent).

        See :class:`ChangeFeed` for the guarantees.
        """
        owner = f"{type(self).__name__}.changes"
        spec = self._filters
        if spec is None:
            raise InvalidTypeError(f"{owner}: this resource has no typed filters to follow")
        windows = {f"{w}__{b}" for w in spec.windows for b in ("gte", "lt")}
        allowed = spec.keys - windows - {"cursor", "limit", *LIST_DEFAULTS}
        for name in filters:
            if name not in allowed:
                hint = (
                    " (a changes feed sets the time windows itself)"
                    if name in windows or name == "cursor"
                    else ""
                )
                raise InvalidTypeError(
                    f"{owner}() got an unexpected keyword argument {name!r}{hint}"
                )
        query, _ = spec.split(filters, owner=owner)
        query.update(spec.extra_params(extra_params, owner=owner))
        headers = check_headers(extra_headers, where=f"{owner}(extra_headers=)")
        limits = call_timeout(timeout)
        if limit is not None:
            check_int("limit", limit, minimum=1)
        check_int("concurrency", concurrency, minimum=1)
        if not isinstance(overlap, timedelta) or overlap < timedelta(0):
            raise InvalidValueError(f"overlap must be a timedelta of zero or more, got {overlap!r}")
        pairs = filters_of(query)
        start = Checkpoint(resource=self._name, filters=pairs)
        moment: datetime | None = None
        if isinstance(since, str):
            start = read_checkpoint(
                since,
                resource=self._name,
                filters=pairs,
                now=self._client._local_clock(),
                allowance=overlap,
            )
        elif isinstance(since, datetime):
            moment = check_timestamp("since", since).astimezone(UTC)
        elif since is not None:
            raise InvalidTypeError(
                f"since must be None, a checkpoint str or an aware datetime, got {since!r}"
            )
        return ChangeFeed(
            resource=self._name,
            path=self._path,
            params=query,
            start=start,
            since=moment,
            answer=functools.partial(self._client._get_dated, headers=headers, timeout=limits),
            decode=self._decode_page,
            ident=raw_identity,
            window="timestamp" if "timestamp" in spec.windows else None,
            limit=limit,
            concurrency=concurrency,
            overlap=overlap,
            hooks=self._client.hooks,
            now=self._client._local_clock,
            clock=self._client._sender.clock,
            sleep=self._client._sender.sleep,
        )

    def _plan(self, query: Mapping[str, Any], concurrency: int, ordered: bool) -> ShardPlan | None:
        """How to shard this listing, or None for a single chain (a bound is missing)."""
        page_size = query.get("limit", DRF_PAGE_SIZE)
        windows = self._filters.windows if self._filters is not None else ("updated",)
        for field in windows:
            adaptive = field != "updated"  # the business time; changes are too uneven to adapt
            start, end = query.get(f"{field}__gte"), query.get(f"{field}__lt")
            if isinstance(start, datetime) and isinstance(end, datetime):
                return ShardPlan(
                    field=field,
                    start=start.astimezone(UTC),
                    end=end.astimezone(UTC),
                    concurrency=concurrency,
                    ordered=ordered,
                    adaptive=adaptive,
                    page_size=page_size,
                )
        log.debug("%s: concurrency needs both bounds of a window; one chain", self._name)
        return None

    async def get(
        self,
        id: IdLike,  # "id": the API's own word
        *,
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
        extra_params: Mapping[str, ParamValue] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> T:
        """One item by id.

        Args:
            id: the item's id.
            timeout: this request's deadline, its retries included (seconds or a
                :class:`Timeout`); None for none; left out, the client's.
            extra_params: query parameters the library does not model, sent as given.
            extra_headers: headers sent with the request (not the library's own).

        Raises:
            InvalidValueError: ``id`` is not a UUID, or an extra header the library sets
                (nothing is sent).
            NotFoundError: no such item.
        """
        target, params, headers = self._detail(id, extra_params, extra_headers)
        item = await self._client.request(
            "GET", target, params=params, headers=headers, timeout=timeout
        )
        return self._decode_one(item)

    def _detail(
        self, id: IdLike, extra_params: object, extra_headers: object
    ) -> tuple[str, dict[str, Any], dict[str, str]]:
        """The checked request of :meth:`get`: path, extra parameters, extra headers."""
        owner = f"{type(self).__name__}.get"
        if not self._has_detail:
            raise InvalidTypeError(f"{self._name} has no detail endpoint; use list() with filters")
        target = f"{self._path}{check_uuid('id', id)}/"
        params = check_extra_params(extra_params, taken=frozenset(), owner=f"{owner}()")
        encode_params(params)
        return target, params, check_headers(extra_headers, where=f"{owner}(extra_headers=)")


@final
class AnyResource(Resource[T]):
    """A resource at any path: ``list(**params)`` passes parameters through unchecked."""

    def __init__(self, client: Requester, path: str, model: type[T] | None) -> None:
        super().__init__(client, path)
        self._model = model

    def list(
        self,
        *,
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Paginator[T]:
        """Every item, following ``next``; ``params`` are sent as query parameters, and
        ``extra_headers`` with each request (not the library's own headers). ``timeout`` is
        each page request's deadline (None: none; left out, the client's)."""
        headers = check_headers(extra_headers, where="resource().list(extra_headers=)")
        query = clean_query(params, strings=frozenset({"cursor"}))
        return self._list(query, timeout=timeout, extra_headers=headers)


class _MasterData(Resource[T]):
    def list(self, **filters: Unpack[ListFilters]) -> Paginator[T]:
        """Every item, ordered by id; ``updated__*`` select changes in a window."""
        return self._filtered(filters)


@final
class Companies(_MasterData[Company]):
    """``companies/``."""

    name = "companies"
    default_path = "companies/"


@final
class TaxRates(_MasterData[TaxRate]):
    """``tax-rates/``."""

    name = "tax_rates"
    default_path = "tax-rates/"


@final
class ArticleGroups(_MasterData[ArticleGroup]):
    """``article-groups/``."""

    name = "article_groups"
    default_path = "article-groups/"


@final
class ArticleOptions(_MasterData[ArticleOption]):
    """``article-options/``."""

    name = "article_options"
    default_path = "article-options/"


@final
class PaymentMethods(_MasterData[PaymentMethod]):
    """``payment-methods/``."""

    name = "payment_methods"
    default_path = "payment-methods/"


@final
class Locations(Resource[Location]):
    """``locations/``."""

    name = "locations"
    default_path = "locations/"

    def list(self, **filters: Unpack[LocationFilters]) -> Paginator[Location]:
        """Every location, optionally of one company."""
        return self._filtered(filters)


class _ByLocation(Resource[T]):
    def list(self, **filters: Unpack[ByLocationFilters]) -> Paginator[T]:
        """Every item, optionally of one location."""
        return self._filtered(filters)


@final
class SalesPoints(_ByLocation[SalesPoint]):
    """``sales-points/``."""

    name = "sales_points"
    default_path = "sales-points/"


@final
class Tables(_ByLocation[Table]):
    """``tables/``."""

    name = "tables"
    default_path = "tables/"


@final
class Users(_ByLocation[User]):
    """``users/``."""

    name = "users"
    default_path = "users/"


@final
class Articles(Resource[Article]):
    """``articles/``."""

    name = "articles"
    default_path = "articles/"

    def list(self, **filters: Unpack[ArticleFilters]) -> Paginator[Article]:
        """Every article, optionally by group, active flag or EAN."""
        return self._filtered(filters)


@final
class Receipts(Resource[Receipt]):
    """``receipts/``, ordered by timestamp, then id."""

    name = "receipts"
    default_path = "receipts/"

    def list(self, **filters: Unpack[ReceiptFilters]) -> Paginator[Receipt]:
        """Receipts in the half-open window ``[timestamp__gte, timestamp__lt)`` (aware datetimes).

        For a local day, use :meth:`for_day`, which gets DST and day starts right.
        """
        return self._filtered(filters)

    def for_day(
        self,
        day: date,
        tz: str | tzinfo = DEFAULT_TZ,
        *,
        day_start: time = time(0),
        sales_point: IdLike | None = None,
        location: IdLike | None = None,
        type: ReceiptType | str | None = None,  # "type": the API's filter name
        limit: int | None = None,
        prefetch: int = 1,
        concurrency: int = 1,
        ordered: bool = True,
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
        extra_params: Mapping[str, ParamValue] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Paginator[Receipt]:
        """The receipts of one local business day (see :func:`bessa_async.business_day`)."""
        start, end = business_day(day, tz, day_start=day_start)
        return self.list(
            timestamp__gte=start,
            timestamp__lt=end,
            sales_point=sales_point,
            location=location,
            type=type,
            limit=limit,
            prefetch=prefetch,
            concurrency=concurrency,
            ordered=ordered,
            timeout=timeout,
            extra_params=extra_params,
            extra_headers=extra_headers,
        )


@final
class Closings(Resource[Closing]):
    """``reports/closings/``: the Sales Points' Z reports."""

    name = "closings"
    default_path = "reports/closings/"

    def list(self, **filters: Unpack[ClosingFilters]) -> Paginator[Closing]:
        """Closings in ``[timestamp__gte, timestamp__lt)``, optionally of one Sales Point."""
        return self._filtered(filters)


@final
class StockLevels(Resource[StockLevel]):
    """``stock-levels/`` (a list only: stock levels have no detail endpoint)."""

    name = "stock_levels"
    default_path = "stock-levels/"

    _has_detail = False

    def list(self, **filters: Unpack[StockLevelFilters]) -> Paginator[StockLevel]:
        """Stock levels, optionally of one article or location."""
        return self._filtered(filters)


_SALES_PARAMS: Final = frozenset({"start", "end", "location", "sales_point"})


@final
class Reports:
    """``reports/``: the sales report (closings are :attr:`BessaClient.closings`)."""

    name: ClassVar[str] = "sales_report"
    default_path: ClassVar[str] = "reports/sales/"

    def __init__(self, client: Requester, sales_path: str) -> None:
        self._client = client
        self._sales_path = sales_path

    def __repr__(self) -> str:
        return f"<Reports {self._sales_path!r}>"

    async def sales(
        self,
        *,
        start: datetime,
        end: datetime,
        location: IdLike | None = None,
        sales_point: IdLike | None = None,
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
        extra_params: Mapping[str, ParamValue] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> SalesReport:
        """Revenue of ``[start, end)``: voids subtracted, training and zero receipts excluded.

        ``extra_params`` and ``extra_headers`` are sent as given (not the names above, nor the
        library's own headers). ``timeout`` is the request's deadline, its retries included
        (None: none; left out, the client's).
        """
        start, end = check_timestamp("start", start), check_timestamp("end", end)
        if end < start:
            raise InvalidValueError(
                f"end ({end.isoformat()}) is before start ({start.isoformat()})"
            )
        params = clean_query(
            {"start": start, "end": end, "location": location, "sales_point": sales_point},
            ids=frozenset({"location", "sales_point"}),
            strings=frozenset(),
        )
        owner = "Reports.sales"
        params.update(check_extra_params(extra_params, taken=_SALES_PARAMS, owner=f"{owner}()"))
        encode_params(params)
        headers = check_headers(extra_headers, where=f"{owner}(extra_headers=)")
        body = await self._client.request(
            "GET", self._sales_path, params=params, headers=headers, timeout=timeout
        )
        return decode(SalesReport, body, resource=self._sales_path)

    async def sales_for_day(
        self,
        day: date,
        tz: str | tzinfo = DEFAULT_TZ,
        *,
        day_start: time = time(0),
        location: IdLike | None = None,
        sales_point: IdLike | None = None,
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
        extra_params: Mapping[str, ParamValue] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> SalesReport:
        """The sales report of one local business day (see :func:`bessa_async.business_day`)."""
        start, end = business_day(day, tz, day_start=day_start)
        return await self.sales(
            start=start,
            end=end,
            location=location,
            sales_point=sales_point,
            timeout=timeout,
            extra_params=extra_params,
            extra_headers=extra_headers,
        )


@overload
def any_resource(client: Requester, path: str, model: None) -> AnyResource[dict[str, Any]]: ...
@overload
def any_resource(client: Requester, path: str, model: type[T]) -> AnyResource[T]: ...
def any_resource(client: Requester, path: str, model: type[Any] | None) -> AnyResource[Any]:
    """A resource at ``path``: typed when ``model`` is given, else items are dicts."""
    return AnyResource(client, check_path(path, label="resource(path)"), model)


def model_of(cls: type[Resource[Any]]) -> type[Any] | None:
    """The model a resource class names as its type argument (None: untyped)."""
    return cls._declared_model


def filter_spec_of(cls: type[Resource[Any]]) -> FilterSpec | None:
    """What a resource class's ``list`` takes (None: it has no typed filters, no changes feed)."""
    return cls._filters
