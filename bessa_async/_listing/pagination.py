"""Cursor-paginated lists as async iterators, with bounded prefetch and resumable failures.

The pure part reads a page body (:func:`read_page`) and works out the request for ``next``
(:func:`follow`), whether the API sends a bare cursor or DRF's absolute URL. A
:class:`Paginator` walks the chain:

- every cursor it has followed is remembered, and one that comes back raises
  :class:`~bessa_async.PaginationLoopError` instead of reading forever; a ``next`` URL on another
  origin is refused by the client before anything is sent (it would carry the token);
- with ``prefetch=n`` (default 1) up to ``n`` pages are requested ahead of the page the caller is
  working on, so decoding and the caller's own work overlap with the server's; leaving the loop
  early cancels the request in flight;
- a failure part-way carries ``resume_cursor``: ``list(..., cursor=exc.resume_cursor)`` continues
  with the page that failed (for a sharded listing: a token naming the shards still open);
  :attr:`Paginator.resume_cursor` says where to go on after leaving a loop, even part-way
  through a page: it stands for exactly the items the caller was handed (a page left part-way
  resumes at that page, less the items already handed over);
- lists with a business time can be read by several concurrent cursor chains over time shards
  (``concurrency=``; see :mod:`bessa_async._listing.sharding`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import Any, Generic, Protocol, TypeVar, final
from urllib.parse import parse_qsl, urlsplit

import attrs

from .._base.errors import BessaError, DecodeError, InvalidValueError, PaginationLoopError
from .._base.validate import check_int, is_int
from .._instrument.events import PageEvent
from .._instrument.hooks import Hooks, emit, observed
from .._transport.raw import LastResponse, RawResponse
from .._transport.retry import current_read, shared_budget
from .shard_token import ChainPosition, make_chain_token, read_chain_token

__all__ = [
    "ListingRequest",
    "ListingStats",
    "Page",
    "Paginator",
    "Resumable",
    "follow",
    "observe_pages",
    "page_request",
    "read_page",
]

T = TypeVar("T")
Fetch = Callable[[str, Mapping[str, Any] | None], Awaitable[Any]]
"""GET a path (or same-origin URL) with optional query parameters; returns decoded JSON."""
Decode = Callable[[list[Any]], list[T]]
GetRaw = Callable[[str, Mapping[str, Any] | None], Awaitable[RawResponse[Any]]]
"""GET a path (or same-origin URL) with optional query parameters; returns the whole answer."""


@final
@attrs.frozen(kw_only=True)
class ListingRequest(Generic[T]):
    """What one listing reads, as one value: how a page is fetched, from where, with which
    query, how its items are decoded, and who is told (``hooks``, timed by ``clock``)."""

    fetch: Fetch
    path: str
    params: Mapping[str, Any]
    decode: Decode[T]
    resource: str
    """The name in errors, logs and events."""
    clock: Callable[[], float]
    """The client's monotonic clock: what the listing's operation event is timed on."""
    hooks: Hooks | None = None

    def with_params(self, params: Mapping[str, Any]) -> ListingRequest[T]:
        """The same listing with another query."""
        return attrs.evolve(self, params=params)


def page_request(
    get: GetRaw,
    path: str,
    params: Mapping[str, Any],
    decode: Decode[T],
    *,
    resource: str,
    hooks: Hooks | None,
    clock: Callable[[], float],
    last: LastResponse,
    observed: bool = True,
) -> ListingRequest[T]:
    """The listing of ``path`` read through ``get``: each answer kept in ``last`` (the
    paginator's :attr:`~Paginator.last_response`); ``observed``: each page told to ``hooks``
    and all its pages on one retry budget (:func:`observe_pages`), else left to the reader
    (a changes feed observes its own). The one wiring every list uses."""

    async def get_json(target: str, query: Mapping[str, Any] | None) -> Any:
        answer = await get(target, query)
        last.value = answer
        return answer.data

    fetch = observe_pages(get_json, hooks, resource) if observed else get_json
    return ListingRequest(
        fetch=fetch,
        path=path,
        params=params,
        decode=decode,
        resource=resource,
        hooks=hooks,
        clock=clock,
    )


@final
@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a list: its items, the total ``count`` if the API gave one, and the links."""

    results: tuple[T, ...]
    count: int | None
    next: str | None
    previous: str | None


@final
@attrs.define(kw_only=True)
class ListingStats:
    """What the last iteration of a :class:`Paginator` did (updated as it runs)."""

    pages: int = 0
    items: int = 0
    shards: int = 1
    """Cursor chains used (1 unless sharded by time)."""
    splits: int = 0
    """Shards split because they turned out dense."""
    duplicates: int = 0
    """Items skipped because their id had just been yielded (the safety net; should stay 0)."""
    out_of_window: int = 0
    """Items the server sent outside the requested window (skipped; should stay 0)."""
    peak_buffered: int = 0
    """Most items held at once, read but not yet handed over (ordered sharded output; at most
    the shard plan's ``max_buffered``, or one page when a page is larger)."""


class Resumable(Protocol[T]):
    """A page source that can say where to resume it (the sharded listing)."""

    def pages(self) -> AsyncGenerator[Page[T]]: ...

    def resume_token(self, cut: int | None) -> str | None:
        """Where to resume; ``cut``: how many items of the page handed over last the caller
        took, when fewer than all."""
        ...


@attrs.define
class _Position:
    """Where a single chain stands once a page is handed over."""

    cursor: str | None = None
    """The cursor of the page after it (None: the chain ended, or nothing handed over yet and
    the listing started from its beginning)."""
    pending: int = 0
    """Items of the page at ``cursor`` to leave out still (a resumed position's ``skip`` can
    reach past the page it names when the page size changed)."""
    page: str | None = None
    """The cursor of the page handed over last (None: the first page)."""
    skipped: int = 0
    """Items of that page left out before it was handed over."""

    def token(self, cut: int | None) -> str | None:
        """Where to resume when the caller took ``cut`` items of the page (None: all)."""
        if cut is not None:
            return make_chain_token(ChainPosition(cursor=self.page, skip=self.skipped + cut))
        if self.pending:
            return make_chain_token(ChainPosition(cursor=self.cursor, skip=self.pending))
        return self.cursor


def _resume_at(cursor: str | None, skip: int) -> str | None:
    """A failure's resume_cursor for the page at ``cursor``, ``skip`` items of it handed over."""
    if skip:
        return make_chain_token(ChainPosition(cursor=cursor, skip=skip))
    return cursor


def read_page(body: object, *, resource: str) -> Page[Any]:
    """Check a list answer's shape; ``results`` stay raw JSON here.

    Tolerates a missing or null ``count`` (spec: tolerance).

    Raises:
        DecodeError: the body is not a page.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("results"), list):
        raise DecodeError(f"{resource}: expected a page with a 'results' list, got {body!r:.120}")
    count = body.get("count")
    if count is not None and not is_int(count):
        raise DecodeError(f"{resource}: page 'count' is not an integer: {count!r}")
    links = {}
    for name in ("next", "previous"):
        link = body.get(name)
        if link is not None and (not isinstance(link, str) or not link):
            raise DecodeError(f"{resource}: page {name!r} is neither null nor a string: {link!r}")
        links[name] = link
    return Page(
        results=tuple(body["results"]), count=count, next=links["next"], previous=links["previous"]
    )


def is_url(link: str) -> bool:
    """Whether a ``next`` value is a URL (followed as is) rather than a bare cursor."""
    return "://" in link or link.startswith(("/", "?"))


def follow(
    link: str, *, path: str, params: Mapping[str, Any]
) -> tuple[str, Mapping[str, Any] | None, str]:
    """The request that reads the page ``link`` names.

    Returns:
        ``(target, params, identity)``: a URL is followed as is (the client checks its origin),
        a bare cursor is sent back as ``cursor=`` with the list's own parameters; ``identity``
        is what makes two links name the same page (the cursor value where there is one), and
        what ``list(cursor=...)`` accepts to resume there.
    """
    if is_url(link):
        cursors = [v for k, v in parse_qsl(urlsplit(link).query) if k == "cursor"]
        return link, None, cursors[-1] if cursors else link
    return path, {**params, "cursor": link}, link


def observe_pages(fetch: Fetch, hooks: Hooks | None, resource: str) -> Fetch:
    """``fetch`` with one retry budget for all its pages, telling ``hooks.on_page`` (if set) of
    each page it reads within the deadline of that page's request.

    Wrapping the fetch covers every reader of pages alike: a chain, a sharded listing, ``first``.
    """
    if hooks is None or hooks.on_page is None:
        return shared_budget(fetch)
    on_page = hooks.on_page

    async def fetched(target: str, params: Mapping[str, Any] | None) -> Any:
        body = await fetch(target, params)
        # A body that is not a page is read_page's to refuse; it is no page event.
        if isinstance(body, Mapping) and isinstance(body.get("results"), list):
            page = PageEvent(
                resource=resource, items=len(body["results"]), has_next=bool(body.get("next"))
            )
            read = current_read()
            await emit(on_page, page, within=None if read is None else read.left())
        return body

    return shared_budget(fetched)


async def walk(
    fetch: Fetch,
    path: str,
    params: Mapping[str, Any],
    *,
    resource: str,
    stats: ListingStats,
) -> AsyncGenerator[tuple[Page[Any], str | None, str | None]]:
    """One cursor chain, page by page (items still raw JSON), with the loop guard.

    Yields each page with the cursor that names it (None for the first), so a failure reading
    it can say where to resume, and the cursor of the page after it (None at the end).
    """
    base = {k: v for k, v in params.items() if k != "cursor"}
    start = params.get("cursor")
    identity: str | None = None
    target: str = path
    query: Mapping[str, Any] | None = base
    seen: set[str] = set()
    if start is not None:
        target, query, identity = follow(start, path=path, params=base)
        seen.add(identity)
    while True:
        try:
            raw = read_page(await fetch(target, query), resource=resource)
        except BessaError as exc:
            exc.resume_cursor = identity
            raise
        stats.pages += 1
        if raw.next is None:
            yield raw, identity, None
            return
        target, query, following = follow(raw.next, path=path, params=base)
        yield raw, identity, following
        identity = following
        if identity in seen:
            raise PaginationLoopError(path=path, cursor=identity, pages=stats.pages)
        seen.add(identity)


async def decoded(
    source: AsyncGenerator[tuple[Page[Any], str | None, str | None]],
    decode: Decode[T],
    stats: ListingStats,
    position: _Position,
    skip: int = 0,
) -> AsyncGenerator[Page[T]]:
    """Decode raw pages as the caller takes them, so that with prefetch the next request is
    already on the wire while this page's items are being built. The first ``skip`` items
    (handed over before a resume) are left out."""
    pending = skip
    async with aclosing(source):
        pages = aiter(source)
        while True:
            try:
                raw, identity, following = await anext(pages)
            except StopAsyncIteration:
                return
            except BessaError as exc:
                exc.resume_cursor = _resume_at(exc.resume_cursor, pending)
                raise
            dropped = min(pending, len(raw.results))
            try:
                results = tuple(decode(list(raw.results[dropped:])))
            except BessaError as exc:
                exc.resume_cursor = _resume_at(identity, pending)
                raise
            pending -= dropped
            stats.items += len(results)
            position.cursor, position.pending = following, pending
            position.page, position.skipped = identity, dropped
            if results or not dropped:
                yield Page(results=results, count=raw.count, next=raw.next, previous=raw.previous)


async def prefetched(source: AsyncGenerator[T], ahead: int) -> AsyncGenerator[T]:
    """Read ``source`` in a task that stays at most ``ahead`` items (pages) ahead of the
    consumer."""
    # One slot for the page in the caller's hands, ``ahead`` for pages fetched or in flight.
    slots = asyncio.Semaphore(ahead + 1)
    queue: asyncio.Queue[T | BaseException | None] = asyncio.Queue()

    async def produce() -> None:
        try:
            async with aclosing(source):
                async for page in source:
                    queue.put_nowait(page)
                    await slots.acquire()
            queue.put_nowait(None)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the consumer, raised there
            queue.put_nowait(exc)

    await slots.acquire()
    producer = asyncio.create_task(produce(), name="bessa_async prefetch")
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            slots.release()
    finally:
        if not producer.done():
            producer.cancel()
        await asyncio.gather(producer, return_exceptions=True)


@final
class Paginator(Generic[T]):
    """An async iterable over a list's items, page by page (``async for item in ...``).

    Also: :meth:`pages` for whole pages, :meth:`collect` for a list, :meth:`first` for one item
    with a single small request. Each iteration starts afresh from the beginning (or from the
    ``cursor`` given to ``list()``); :attr:`stats` describes the latest one.
    """

    def __init__(
        self,
        request: ListingRequest[T],
        *,
        prefetch: int = 1,
        sharded: Callable[[ListingStats], Resumable[T]] | None = None,
        last: LastResponse | None = None,
    ) -> None:
        check_int("prefetch", prefetch, minimum=0)
        self._last = last
        self._fetch = request.fetch
        self._path = request.path
        self._params = dict(request.params)
        self._decode = request.decode
        self._resource = request.resource
        self._prefetch = prefetch
        self._sharded = sharded
        hooks = request.hooks
        self._hooks = hooks if hooks is not None and hooks.on_operation is not None else None
        self._clock = request.clock
        self._source: Resumable[T] | None = None
        cursor = self._params.get("cursor")
        self._start = read_chain_token(cursor) if isinstance(cursor, str) else None
        if self._start is not None:  # a chain left part-way through a page
            self._params.pop("cursor")
            if self._start.cursor is not None:
                self._params["cursor"] = self._start.cursor
        self._position = _Position(cursor)
        self._cut: int | None = None
        """Items of the page handed over last that the caller took, when fewer than all."""
        self.stats = ListingStats()
        """Counters of the latest (or running) iteration."""

    @property
    def resume_cursor(self) -> str | None:
        """Where the latest iteration can be resumed: what ``BessaError.resume_cursor`` says
        after a failure, and after leaving a loop (between pages or part-way through one)
        exactly what the caller was not handed yet (pass it as ``list(..., cursor=...)`` with
        the same filters). None before anything was handed over (start again) and once
        everything was."""
        if self._source is not None:
            return self._source.resume_token(self._cut)
        if self._sharded is not None:  # not iterated yet: where it was told to start
            return self._sharded(ListingStats()).resume_token(None)
        return self._position.token(self._cut)

    @property
    def last_response(self) -> RawResponse[Any] | None:
        """The answer of the most recent page request (``first()`` and ``count()`` included):
        status, headers (``Date``, the request id ...) and the page's JSON as ``data``. None
        before the first page. With ``prefetch`` or ``concurrency``, the latest page read,
        which may be ahead of the page in your hands."""
        return None if self._last is None else self._last.value

    def __repr__(self) -> str:
        return f"<Paginator {self._resource} {self._params!r}>"

    def pages(self) -> AsyncGenerator[Page[T]]:
        """Every page in order, items decoded.

        Use ``contextlib.aclosing`` to close it promptly when leaving a loop early.

        Raises:
            PaginationLoopError: a ``next`` names a page already read.
            BessaError: any request failure, with ``resume_cursor`` set.
        """
        self.stats = ListingStats()
        self._cut = None
        if self._sharded is not None:
            self._source = self._sharded(self.stats)
            pages = self._source.pages()
        else:
            chain = walk(
                self._fetch, self._path, self._params, resource=self._resource, stats=self.stats
            )
            ahead = prefetched(chain, self._prefetch) if self._prefetch else chain
            skip = 0 if self._start is None else self._start.skip
            self._position = _Position(self._params.get("cursor"), pending=skip)
            pages = decoded(ahead, self._decode, self.stats, self._position, skip)
        if self._hooks is None:
            return pages
        hooks, counts = self._hooks, ("pages", "items", "shards")
        return observed(pages, hooks, "list", self._resource, self.stats, counts, clock=self._clock)

    async def items(self) -> AsyncGenerator[T]:
        """Every item in order (what ``async for item in paginator`` iterates)."""
        async with aclosing(self.pages()) as pages:
            async for page in pages:
                last = len(page.results) - 1
                for index, item in enumerate(page.results):
                    # Set before the item leaves: a caller that stops after it has it.
                    self._cut = index + 1 if index < last else None
                    yield item

    def __aiter__(self) -> AsyncGenerator[T]:
        return self.items()

    async def collect(self, max_items: int | None = None) -> list[T]:
        """All items (or the first ``max_items``) as a list."""
        if max_items is not None and max_items < 0:
            raise InvalidValueError(f"max_items must not be negative, got {max_items}")
        items: list[T] = []
        if max_items == 0:
            return items
        async with aclosing(self.pages()) as pages:
            async for page in pages:
                room = None if max_items is None else max_items - len(items)
                if room is not None and room < len(page.results):
                    self._cut = room  # the rest of this page is where a resume goes on
                    items.extend(page.results[:room])
                    return items
                items.extend(page.results)
                if max_items is not None and len(items) >= max_items:
                    return items
        return items

    async def count(self) -> int | None:
        """How many items the list holds, from one request with ``limit=1`` (None if the API
        does not say)."""
        query = {k: v for k, v in self._params.items() if k != "cursor"}
        body = await self._fetch(self._path, {**query, "limit": 1})
        return read_page(body, resource=self._resource).count

    async def first(self) -> T | None:
        """The first item, or None for an empty list; one request with ``limit=1``."""
        query = {k: v for k, v in self._params.items() if k != "cursor"}
        body = await self._fetch(self._path, {**query, "limit": 1})
        raw = read_page(body, resource=self._resource)
        decoded = self._decode(list(raw.results[:1]))
        return decoded[0] if decoded else None
