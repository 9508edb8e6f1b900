"""BlockingClient: the async client run on a private event-loop thread, for sync code.

Nothing here implements API behaviour: every call is the async client's, awaited on the
client's own loop thread while the calling thread waits for the answer (the pattern of
anyio's blocking portal). Each blocking method is declared from the async method it runs, so
its parameters and return type are the async one's, for mypy as for ``help()``.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping
from types import TracebackType
from typing import (
    Any,
    Concatenate,
    Generic,
    Literal,
    ParamSpec,
    Self,
    TypeVar,
    cast,
    final,
    get_type_hints,
    overload,
)

from ._base.config import RetryPolicy, TimeoutArg
from ._base.errors import ClientClosedError, ConfigurationError, WrongEventLoopError
from ._client import BessaClient
from ._jobs.endpoints import Jobs, OrderJobs, PaymentJobs
from ._jobs.handle import JobHandle
from ._jobs.scheduler import PollStats
from ._listing.changes import ChangeBatch, ChangeFeed
from ._listing.pagination import ListingStats, Page, Paginator
from ._resources.resource import (
    ArticleGroups,
    ArticleOptions,
    Articles,
    Closings,
    Companies,
    Locations,
    PaymentMethods,
    Receipts,
    Reports,
    SalesPoints,
    StockLevels,
    Tables,
    TaxRates,
    Users,
)
from ._transport.raw import RawResponse
from ._transport.secret import Secret

__all__ = ["BlockingClient"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
S = TypeVar("S")


class _Portal:
    """One event-loop thread and the async client on it, for one process.

    Started by the first call; in a process forked from the one that started it, the first
    call builds a new loop thread and a new client (the parent's connections are never used).
    """

    def __init__(self, factory: Callable[[], BessaClient]) -> None:
        self._factory = factory
        self._client = factory()  # the options are checked here, before anything runs
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._inherited: list[object] = []
        """A parent's loop and client, kept (never closed, never collected) in a forked child:
        their sockets and tasks belong to the parent."""
        _PORTALS.add(self)

    @property
    def client(self) -> BessaClient:
        """The async client of this process (the parent's until a forked child's first call)."""
        return self._client

    def after_fork(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at the fork

    def _running(self) -> tuple[asyncio.AbstractEventLoop, BessaClient]:
        with self._lock:
            if self._closed:
                raise ClientClosedError("this BlockingClient is closed; create a new one")
            if self._pid != os.getpid():
                self._inherited.append((self._loop, self._thread, self._client))
                self._loop = self._thread = None
                self._client = self._factory()
                self._pid = os.getpid()
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="bessa-async-blocking", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop, self._client

    def _check_caller(self) -> None:
        if threading.current_thread() is self._thread:
            raise WrongEventLoopError(
                "a BlockingClient was called from its own loop thread (from a hook?): it would "
                "wait for itself; use the async client there"
            )
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        raise WrongEventLoopError(
            "a BlockingClient was called inside a running event loop, which it would block; "
            "use BessaClient there (await its methods)"
        )

    def run(self, step: Callable[[BessaClient], Awaitable[R]]) -> R:
        """Await ``step(client)`` on the loop thread; the calling thread waits for its result.

        An exception in the calling thread while it waits (Ctrl-C) cancels the step.
        """
        self._check_caller()
        loop, client = self._running()

        async def call() -> R:
            return await step(client)

        future = asyncio.run_coroutine_threadsafe(call(), loop)
        try:
            return future.result()
        except BaseException:
            # Ctrl-C (or any exception) in this thread while it waits: the step is cancelled
            # on the loop (a no-op once it has ended).
            future.cancel()
            raise

    def run_sync(self, step: Callable[[BessaClient], R]) -> R:
        """``step(client)`` on the loop thread (where the client's objects live)."""

        async def call(client: BessaClient) -> R:
            return step(client)

        return self.run(call)

    def close(self) -> None:
        """Close the client on its loop, close what was left open there, and end the thread."""
        self._check_caller()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
            owned = self._pid == os.getpid()
        if loop is None or thread is None or not owned:
            return
        client = self._client

        async def finish() -> None:
            try:
                await client.aclose()
            finally:
                await loop.shutdown_asyncgens()  # listings left open: their aclose()
                # Whatever is left (a call cancelled by Ctrl-C that was still unwinding) ends
                # here, as asyncio.run() ends its own.
                current = asyncio.current_task()
                rest = [task for task in asyncio.all_tasks() if task is not current]
                for task in rest:
                    task.cancel()
                await asyncio.gather(*rest, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(finish(), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()


_PORTALS: weakref.WeakSet[_Portal] = weakref.WeakSet()


def _reset_locks() -> None:
    for portal in list(_PORTALS):
        portal.after_fork()


os.register_at_fork(after_in_child=_reset_locks)


class _Shim:
    """A blocking view of one async object, found anew on the loop thread for every call (so
    a forked child uses its own client's)."""

    def __init__(self, portal: _Portal, find: Callable[[BessaClient], Any]) -> None:
        self._portal = portal
        self._find = find

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class _Method(Generic[P, R]):
    """A blocking method: the async object's method of the same name, run on the loop."""

    def __init__(
        self,
        method: Callable[..., Any],
        wrap: Callable[[_Portal, Any], Any] | None,
    ) -> None:
        self._name: str = method.__name__
        self._awaited = inspect.iscoroutinefunction(method)
        self._wrap = wrap
        self.__doc__ = method.__doc__
        self._signature = inspect.signature(method)

    @overload
    def __get__(self, shim: None, owner: type[_Shim]) -> Self: ...
    @overload
    def __get__(self, shim: _Shim, owner: type[_Shim] | None = None) -> Callable[P, R]: ...
    def __get__(self, shim: _Shim | None, owner: type[_Shim] | None = None) -> Any:
        if shim is None:
            return self
        name, awaited, wrap = self._name, self._awaited, self._wrap
        portal, find = shim._portal, shim._find  # noqa: SLF001 - the descriptor of its own shim

        def blocking(*args: P.args, **kwargs: P.kwargs) -> R:
            async def step(client: BessaClient) -> Any:
                result = getattr(find(client), name)(*args, **kwargs)
                return await result if awaited else result

            result = portal.run(step)
            return result if wrap is None else wrap(portal, result)  # type: ignore[no-any-return]

        blocking.__name__ = name
        blocking.__doc__ = self.__doc__
        blocking.__signature__ = self._signature.replace(  # type: ignore[attr-defined]
            parameters=list(self._signature.parameters.values())[1:]
        )
        return blocking


def _of(cls: type[S]) -> S:
    """``cls`` as mypy sees an instance, its methods bound (their parameters are the caller's);
    at run time the class itself, whose functions give the names and signatures."""
    return cast("S", cls)


def _awaited(method: Callable[P, Awaitable[R]]) -> _Method[P, R]:
    return _Method(method, None)


def _listing(method: Callable[P, Paginator[T]]) -> _Method[P, Listing[T]]:
    return _Method(method, Listing)


def _feed(method: Callable[P, ChangeFeed[T]]) -> _Method[P, Changes[T]]:
    return _Method(method, Changes)


def _handle(
    method: Callable[P, Awaitable[JobHandle] | JobHandle],
) -> _Method[P, BlockingJobHandle]:
    return _Method(method, BlockingJobHandle)


def _arguments_of(
    source: Callable[Concatenate[Any, P], Any],
) -> Callable[[Callable[..., R]], Callable[Concatenate[Any, P], R]]:
    """Give the decorated method ``source``'s parameters (for mypy and for ``help()``)."""

    def give(method: Callable[..., R]) -> Callable[Concatenate[Any, P], R]:
        method.__signature__ = inspect.signature(source).replace(  # type: ignore[attr-defined]
            return_annotation=inspect.signature(method).return_annotation
        )
        return method

    return give


class _Cursor(Generic[T]):
    """An async generator stepped from the calling thread; closed when closed or collected."""

    def __init__(self, portal: _Portal, start: Callable[[], AsyncGenerator[T]]) -> None:
        self._portal = portal
        self._start = start
        self._agen: AsyncGenerator[T] | None = None

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        async def step(client: BessaClient) -> tuple[bool, T | None]:
            if self._agen is None:
                self._agen = self._start()
            try:
                return True, await anext(self._agen)
            except StopAsyncIteration:
                return False, None

        more, item = self._portal.run(step)
        if not more:
            raise StopIteration
        return item  # type: ignore[return-value]

    def close(self) -> None:
        """Stop here: the async generator is closed on the loop (its ``aclose()``)."""
        agen, self._agen = self._agen, None
        if agen is not None:

            async def step(client: BessaClient) -> None:
                await agen.aclose()

            self._portal.run(step)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Collected without close(): the loop's own finaliser closes the generator there (asyncio
    # schedules its aclose()), and closing the client closes any still open.


@final
class Listing(Generic[T]):
    """A listing (:class:`Paginator`) for sync code: a plain iterator of items.

    Iterating it again starts afresh, as ``async for`` does; :attr:`stats`,
    :attr:`resume_cursor` and :attr:`last_response` are the async listing's. Leave a loop
    early with ``with listing:`` or :meth:`close` to close the request chain at once.
    """

    def __init__(self, portal: _Portal, paginator: Paginator[T]) -> None:
        self._portal = portal
        self.paginator = paginator
        """The async listing on the client's loop thread (its sync attributes may be read)."""
        self._items: _Cursor[T] | None = None

    def __repr__(self) -> str:
        return f"<Listing {self.paginator!r}>"

    def __iter__(self) -> Iterator[T]:
        self.close()
        self._items = _Cursor(self._portal, self.paginator.items)
        return self._items

    def pages(self) -> Iterator[Page[T]]:
        """Every page in order, items decoded (close the iterator to leave early)."""
        return _Cursor(self._portal, self.paginator.pages)

    def collect(self, max_items: int | None = None) -> list[T]:
        """Every item (at most ``max_items``), as :meth:`Paginator.collect`."""
        return self._portal.run(lambda client: self.paginator.collect(max_items))

    def count(self) -> int | None:
        """The total the API reports, as :meth:`Paginator.count`."""
        return self._portal.run(lambda client: self.paginator.count())

    def first(self) -> T | None:
        """The first item with one small request, as :meth:`Paginator.first`."""
        return self._portal.run(lambda client: self.paginator.first())

    @property
    def stats(self) -> ListingStats:
        """Counters of the latest (or running) iteration."""
        return self.paginator.stats

    @property
    def resume_cursor(self) -> str | None:
        """Where the latest iteration can be resumed (see :attr:`Paginator.resume_cursor`)."""
        return self._portal.run_sync(lambda client: self.paginator.resume_cursor)

    @property
    def last_response(self) -> RawResponse[Any] | None:
        """The answer of the most recent page request."""
        return self.paginator.last_response

    def close(self) -> None:
        """Close the running iteration, if any (the async generator's ``aclose()``)."""
        items, self._items = self._items, None
        if items is not None:
            items.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@final
class Changes(Generic[T]):
    """A changes feed (:class:`ChangeFeed`) for sync code: a plain iterator of batches."""

    def __init__(self, portal: _Portal, feed: ChangeFeed[T]) -> None:
        self._portal = portal
        self.feed = feed
        """The async feed on the client's loop thread."""
        self._batches: _Cursor[ChangeBatch[T]] = _Cursor(portal, self._iterate)

    async def _iterate(self) -> AsyncGenerator[ChangeBatch[T]]:
        async for batch in self.feed:
            yield batch

    def __repr__(self) -> str:
        return f"<Changes {self.feed!r}>"

    def __iter__(self) -> Iterator[ChangeBatch[T]]:
        return self._batches

    @property
    def checkpoint(self) -> str:
        """Where a later run goes on from (see :attr:`ChangeFeed.checkpoint`)."""
        return self._portal.run_sync(lambda client: self.feed.checkpoint)

    def reconcile(self, known_ids: Any) -> frozenset[str]:
        """As :meth:`ChangeFeed.reconcile`."""
        return self._portal.run(lambda client: self.feed.reconcile(known_ids))

    def close(self) -> None:
        """Stop the feed here (the async generator's ``aclose()``)."""
        self._batches.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@final
class BlockingJobHandle(_Shim):
    """A :class:`JobHandle` for sync code: :meth:`wait` and :meth:`refresh` block.

    ``handle`` is the async handle: its properties (``id``, ``status``, ``done``) and
    ``to_token()`` may be read from any thread.
    """

    def __init__(self, portal: _Portal, handle: JobHandle) -> None:
        super().__init__(portal, lambda client: handle)
        self.handle = handle

    def __repr__(self) -> str:
        return f"<BlockingJobHandle {self.handle!r}>"

    wait = _awaited(_of(JobHandle).wait)
    refresh = _awaited(_of(JobHandle).refresh)


class _Resource(_Shim):
    pass


@final
class BlockingCompanies(_Resource):
    """:class:`Companies`, blocking."""

    get = _awaited(_of(Companies).get)
    list = _listing(_of(Companies).list)
    changes = _feed(_of(Companies).changes)


@final
class BlockingLocations(_Resource):
    """:class:`Locations`, blocking."""

    get = _awaited(_of(Locations).get)
    list = _listing(_of(Locations).list)
    changes = _feed(_of(Locations).changes)


@final
class BlockingSalesPoints(_Resource):
    """:class:`SalesPoints`, blocking."""

    get = _awaited(_of(SalesPoints).get)
    list = _listing(_of(SalesPoints).list)
    changes = _feed(_of(SalesPoints).changes)


@final
class BlockingTaxRates(_Resource):
    """:class:`TaxRates`, blocking."""

    get = _awaited(_of(TaxRates).get)
    list = _listing(_of(TaxRates).list)
    changes = _feed(_of(TaxRates).changes)


@final
class BlockingArticleGroups(_Resource):
    """:class:`ArticleGroups`, blocking."""

    get = _awaited(_of(ArticleGroups).get)
    list = _listing(_of(ArticleGroups).list)
    changes = _feed(_of(ArticleGroups).changes)


@final
class BlockingArticles(_Resource):
    """:class:`Articles`, blocking."""

    get = _awaited(_of(Articles).get)
    list = _listing(_of(Articles).list)
    changes = _feed(_of(Articles).changes)


@final
class BlockingArticleOptions(_Resource):
    """:class:`ArticleOptions`, blocking."""

    get = _awaited(_of(ArticleOptions).get)
    list = _listing(_of(ArticleOptions).list)
    changes = _feed(_of(ArticleOptions).changes)


@final
class BlockingPaymentMethods(_Resource):
    """:class:`PaymentMethods`, blocking."""

    get = _awaited(_of(PaymentMethods).get)
    list = _listing(_of(PaymentMethods).list)
    changes = _feed(_of(PaymentMethods).changes)


@final
class BlockingTables(_Resource):
    """:class:`Tables`, blocking."""

    get = _awaited(_of(Tables).get)
    list = _listing(_of(Tables).list)
    changes = _feed(_of(Tables).changes)


@final
class BlockingUsers(_Resource):
    """:class:`Users`, blocking."""

    get = _awaited(_of(Users).get)
    list = _listing(_of(Users).list)
    changes = _feed(_of(Users).changes)


@final
class BlockingReceipts(_Resource):
    """:class:`Receipts`, blocking."""

    get = _awaited(_of(Receipts).get)
    list = _listing(_of(Receipts).list)
    for_day = _listing(_of(Receipts).for_day)
    changes = _feed(_of(Receipts).changes)


@final
class BlockingClosings(_Resource):
    """:class:`Closings`, blocking."""

    get = _awaited(_of(Closings).get)
    list = _listing(_of(Closings).list)
    changes = _feed(_of(Closings).changes)


@final
class BlockingStockLevels(_Resource):
    """:class:`StockLevels`, blocking."""

    get = _awaited(_of(StockLevels).get)
    list = _listing(_of(StockLevels).list)
    changes = _feed(_of(StockLevels).changes)


@final
class BlockingReports(_Resource):
    """:class:`Reports`, blocking."""

    sales = _awaited(_of(Reports).sales)
    sales_for_day = _awaited(_of(Reports).sales_for_day)


@final
class BlockingOrderJobs(_Resource):
    """:class:`OrderJobs`, blocking: ``submit()`` returns a :class:`BlockingJobHandle`."""

    submit = _handle(_of(OrderJobs).submit)
    job = _handle(_of(OrderJobs).job)
    list = _listing(_of(OrderJobs).list)


@final
class BlockingPaymentJobs(_Resource):
    """:class:`PaymentJobs`, blocking: ``submit()`` returns a :class:`BlockingJobHandle`."""

    submit = _handle(_of(PaymentJobs).submit)
    job = _handle(_of(PaymentJobs).job)
    list = _listing(_of(PaymentJobs).list)


@final
class BlockingJobs(_Resource):
    """:class:`Jobs`, blocking."""

    resume = _handle(_of(Jobs).resume)

    @property
    def stats(self) -> PollStats:
        """The poller's counters, as :attr:`Jobs.stats`."""
        find = self._find
        stats: PollStats = self._portal.run_sync(lambda client: find(client).stats)
        return stats


def _attribute(find: Callable[[BessaClient], Any], name: str) -> Callable[[BessaClient], Any]:
    return lambda client: getattr(find(client), name)


@final
class BlockingClient(_Shim):
    """A :class:`BessaClient` for sync code (Celery's default pool, Django views, scripts).

    It takes exactly :class:`BessaClient`'s arguments and has its surface, each call blocking
    until the async client's answer::

        with BlockingClient() as client:
            article = client.articles.get(article_id)
            for receipt in client.receipts.list(limit=100):
                ...

    The async client runs on one private event-loop thread per client, started by the first
    call; any number of threads may call at once. In a process forked from the one that used
    it (a Celery prefork child), the first call starts a new thread and a new client: the
    parent's connections are never used. Errors are the async client's. Ctrl-C while a call
    waits cancels that call. :meth:`close` (or leaving ``with``) closes the client, any listing
    left open, and ends the thread.

    Not for code inside an event loop (it would block it): use :class:`BessaClient` there.
    """

    # One line each, for static typing; set from these annotations.
    companies: BlockingCompanies
    locations: BlockingLocations
    sales_points: BlockingSalesPoints
    tax_rates: BlockingTaxRates
    article_groups: BlockingArticleGroups
    articles: BlockingArticles
    article_options: BlockingArticleOptions
    payment_methods: BlockingPaymentMethods
    tables: BlockingTables
    users: BlockingUsers
    receipts: BlockingReceipts
    closings: BlockingClosings
    stock_levels: BlockingStockLevels
    reports: BlockingReports
    orders: BlockingOrderJobs
    payments: BlockingPaymentJobs
    jobs: BlockingJobs

    @_arguments_of(BessaClient.__init__)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The arguments are BessaClient's own, checked by it now; a forked child builds its
        # client again from them (the token kept as a Secret, which never shows itself).
        options = inspect.signature(BessaClient).bind(*args, **kwargs).arguments
        if options.get("session") is not None:
            raise ConfigurationError(
                "BlockingClient(session=...) cannot work: an aiohttp.ClientSession belongs to "
                "the event loop it was made in, and a BlockingClient runs on its own; leave "
                "session out (trace_configs= instruments the session it makes)"
            )
        token = options.pop("token", None)
        kept = None if token is None or not isinstance(token, str) else Secret(token)
        if kept is None and token is not None:
            BessaClient(token, **options)  # refused there, with its message
        portal = _Portal(lambda: BessaClient(None if kept is None else kept.reveal(), **options))
        self._bind(portal, lambda client: client, view=False)

    def _bind(self, portal: _Portal, find: Callable[[BessaClient], Any], *, view: bool) -> None:
        super().__init__(portal, find)
        self._view = view
        for name, shim in _ATTRIBUTES.items():
            setattr(self, name, shim(portal, _attribute(find, name)))

    def __repr__(self) -> str:
        # The async client's own (it reads no state of the loop), so a repr never starts the
        # thread and works after close().
        shown = repr(self._find(self._portal.client))
        return shown.replace("<BessaClient", "<BlockingClient", 1)

    @_arguments_of(BessaClient.with_options)
    def with_options(self, **options: Any) -> BlockingClient:
        """A view with other defaults, as :meth:`BessaClient.with_options` (same arguments);
        it shares this client's thread, and its :meth:`close` does nothing."""
        find, portal = self._find, self._portal
        portal.run_sync(lambda client: find(client).with_options(**options))  # checked now
        views: dict[int, BessaClient] = {}

        def view(client: BessaClient) -> BessaClient:
            # One view per async client: a forked child's new client gets its own.
            if id(client) not in views:
                views.clear()
                views[id(client)] = find(client).with_options(**options)
            return views[id(client)]

        blocking = BlockingClient.__new__(BlockingClient)
        BlockingClient._bind(blocking, portal, view, view=True)
        return blocking

    @overload
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = ...,
        json: Any = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: TimeoutArg = ...,
        retry: RetryPolicy | None = ...,
        raw: Literal[False] = ...,
    ) -> Any: ...
    @overload
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = ...,
        json: Any = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: TimeoutArg = ...,
        retry: RetryPolicy | None = ...,
        raw: Literal[True],
    ) -> RawResponse[Any]: ...
    def request(self, method: str, path: str, **options: Any) -> Any:
        """As :meth:`BessaClient.request` (the same arguments, checked to stay the same)."""
        find = self._find
        return self._portal.run(lambda client: find(client).request(method, path, **options))

    doctor = _awaited(_of(BessaClient).doctor)

    def close(self) -> None:
        """Close the async client on its loop, close listings left open, end the thread.

        Idempotent; on a view (:meth:`with_options`) it does nothing.
        """
        if not self._view:
            self._portal.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_ATTRIBUTES: dict[str, type[_Shim]] = {
    name: hint
    for name, hint in get_type_hints(BlockingClient).items()
    if isinstance(hint, type) and issubclass(hint, _Shim)
}
"""Each resource attribute of the blocking client and its class, from the annotations."""
