"""The typed resources of the client: ``client.receipts.list(...)``, ``client.articles.get(id)``.

Each resource class declares its ``name`` and ``default_path`` (overridable, since the real paths
are inferred); its model is its type argument and its filters are the TypedDict its ``list``
unpacks. A misspelt filter is a ``TypeError`` at the call instead of a silently ignored query
parameter (DRF ignores unknown parameters and would answer the whole, unfiltered list).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from typing import (
    Any,
    ClassVar,
    Final,
    Generic,
    Literal,
    Protocol,
    TypeVar,
    Unpack,
    final,
    overload,
)

from .._base.config import USE_CLIENT_DEFAULT, TimeoutArg, call_timeout
from .._base.days import DEFAULT_TZ, business_day
from .._base.errors import InvalidTypeError, InvalidValueError
from .._base.options import ParamValue, check_extra_params, check_headers
from .._base.paths import check_path
from .._base.urls import encode_params
from .._base.validate import check_int, check_uuid
from .._instrument.hooks import Hooks
from .._listing.changes import DEFAULT_OVERLAP, ChangeFeed, plan_feed
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
from .._listing.pagination import ListingRequest, Paginator, page_request
from .._listing.sharding import raw_identity, shard_listing
from .._models.convert import decode, decode_many
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


class Requester(Protocol):
    """What a resource needs of the client: its public ``request`` (every request a resource
    sends goes through it), its hooks, and the clocks a changes feed checks and waits on."""

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: TimeoutArg = ...,
        raw: Literal[False] = ...,
    ) -> Any: ...
    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: TimeoutArg = ...,
        raw: Literal[True],
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

    def _listing(
        self,
        query: Mapping[str, Any],
        headers: Mapping[str, str],
        last: LastResponse,
        *,
        timeout: TimeoutArg,
        observed: bool = True,
    ) -> ListingRequest[T]:
        """This resource's listing of ``query``, each page sent with a call's ``extra_headers``
        and ``timeout`` through the client's ``request`` (each answer kept in ``last``)."""
        call_timeout(timeout)  # a bad one fails here, at the call, before anything is sent

        async def get(target: str, params: Mapping[str, Any] | None) -> RawResponse[Any]:
            return await self._client.request(
                "GET", target, params=params, headers=headers, timeout=timeout, raw=True
            )

        return page_request(
            get,
            self._path,
            query,
            self._decode_page,
            resource=self._name,
            hooks=self._client.hooks,
            clock=self._client._sender.clock,  # noqa: SLF001 - the client's own, lent to it
            last=last,
            observed=observed,
        )

    @property
    def with_raw_response(self) -> RawResource[T]:
        """This resource's ``get`` answering a :class:`RawResponse`: the item as ``data``,
        next to the answer's status, headers and request id. For a listing's headers, see
        :attr:`Paginator.last_response`."""
        return RawResource(self._path, self._read_one)

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
        request, sharded = shard_listing(
            self._listing(query, extra_headers or {}, last, timeout=timeout),
            self._windows,
            concurrency=concurrency,
            ordered=ordered,
        )
        return Paginator(request, prefetch=prefetch, sharded=sharded, last=last)

    @property
    def _windows(self) -> tuple[str, ...]:
        """The time windows a listing may be sharded by, in order of preference."""
        return self._filters.windows if self._filters is not None else ("updated",)

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
        query, headers, plan = plan_feed(
            self._filters,
            filters,
            owner=f"{type(self).__name__}.changes",
            resource=self._name,
            since=since,
            limit=limit,
            concurrency=concurrency,
            overlap=overlap,
            extra_params=extra_params,
            extra_headers=extra_headers,
            now=self._client._local_clock,  # noqa: SLF001 - the client's own, lent to it
        )
        last = LastResponse()  # the feed reads its pass's start from the answers' Date
        return ChangeFeed(
            self._listing(query, headers, last, timeout=timeout, observed=False),
            plan,
            last=last,
            sleep=self._client._sender.sleep,  # noqa: SLF001 - the client's own, lent to it
        )

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
        return (await self._read_one(id, extra_params, extra_headers, timeout)).data

    async def _read_one(
        self, id: IdLike, extra_params: object, extra_headers: object, timeout: TimeoutArg
    ) -> RawResponse[T]:
        """:meth:`get`'s request, checked, then sent through the client's ``request``; the
        answer with its item decoded (what ``with_raw_response.get`` hands over)."""
        owner = f"{type(self).__name__}.get"
        if not self._has_detail:
            raise InvalidTypeError(f"{self._name} has no detail endpoint; use list() with filters")
        target = f"{self._path}{check_uuid('id', id)}/"
        params = check_extra_params(extra_params, taken=frozenset(), owner=f"{owner}()")
        encode_params(params)
        headers = check_headers(extra_headers, where=f"{owner}(extra_headers=)")
        answer = await self._client.request(
            "GET", target, params=params, headers=headers, timeout=timeout, raw=True
        )
        return answer.with_data(self._decode_one(answer.data))


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
