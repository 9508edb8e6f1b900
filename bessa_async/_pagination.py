"""Cursor-paginated lists as async iterators.

The pure part reads a page body (:func:`read_page`) and works out the request for ``next``
(:func:`follow`), whether the API sends a bare cursor or DRF's absolute URL. A
:class:`Paginator` walks the chain: every cursor it has followed is remembered, and one that comes
back raises :class:`~bessa_async.PaginationLoopError` instead of reading forever. A ``next`` URL
on another origin is refused by the client before anything is sent (it would carry the token).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import Any, Generic, TypeVar, final
from urllib.parse import parse_qsl, urlsplit

import attrs

from ._errors import DecodeError, PaginationLoopError

__all__ = ["Page", "Paginator", "follow", "read_page"]

T = TypeVar("T")
Fetch = Callable[[str, Mapping[str, Any] | None], Awaitable[Any]]
"""GET a path (or same-origin URL) with optional query parameters; returns decoded JSON."""


@final
@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a list: its items, the total ``count`` if the API gave one, and the links."""

    results: tuple[T, ...]
    count: int | None
    next: str | None
    previous: str | None


def read_page(body: object, *, resource: str) -> Page[Any]:
    """Check a list answer's shape; ``results`` stay raw JSON here.

    Tolerates a missing or null ``count`` (spec: tolerance).

    Raises:
        DecodeError: the body is not a page.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("results"), list):
        raise DecodeError(f"{resource}: expected a page with a 'results' list, got {body!r:.120}")
    count = body.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
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


def _is_url(link: str) -> bool:
    return "://" in link or link.startswith(("/", "?"))


def follow(
    link: str, *, path: str, params: Mapping[str, Any]
) -> tuple[str, Mapping[str, Any] | None, str]:
    """The request that reads the page ``link`` names.

    Returns:
        ``(target, params, identity)``: a URL is followed as is (the client checks its origin),
        a bare cursor is sent back as ``cursor=`` with the list's own parameters; ``identity``
        is what makes two links name the same page (the cursor value where there is one).
    """
    if _is_url(link):
        cursors = [v for k, v in parse_qsl(urlsplit(link).query) if k == "cursor"]
        return link, None, cursors[-1] if cursors else link
    return path, {**params, "cursor": link}, link


@final
class Paginator(Generic[T]):
    """An async iterable over a list's items, page by page (``async for item in ...``).

    Also: :meth:`pages` for whole pages, :meth:`collect` for a list, :meth:`first` for one item
    with a single small request. Each iteration starts from the beginning (or the ``cursor``
    given to ``list()``).
    """

    def __init__(
        self,
        fetch: Fetch,
        path: str,
        params: Mapping[str, Any],
        decode: Callable[[list[Any]], list[T]],
        *,
        resource: str,
    ) -> None:
        self._fetch = fetch
        self._path = path
        self._params = dict(params)
        self._decode = decode
        self._resource = resource

    def __repr__(self) -> str:
        return f"<Paginator {self._resource} {self._params!r}>"

    async def pages(self) -> AsyncGenerator[Page[T]]:
        """Every page in order, items decoded.

        Raises:
            PaginationLoopError: a ``next`` names a page already read.
        """
        seen: set[str] = set()
        target: str = self._path
        params: Mapping[str, Any] | None = self._params
        if (start := self._params.get("cursor")) is not None:
            seen.add(str(start))
        read = 0
        while True:
            raw = read_page(await self._fetch(target, params), resource=self._resource)
            read += 1
            page = Page(
                results=tuple(self._decode(list(raw.results))),
                count=raw.count,
                next=raw.next,
                previous=raw.previous,
            )
            yield page
            if raw.next is None:
                return
            target, params, identity = follow(raw.next, path=self._path, params=self._params)
            if identity in seen:
                raise PaginationLoopError(path=self._path, cursor=identity, pages=read)
            seen.add(identity)

    async def _items(self) -> AsyncIterator[T]:
        async with aclosing(self.pages()) as pages:
            async for page in pages:
                for item in page.results:
                    yield item

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def collect(self, max_items: int | None = None) -> list[T]:
        """All items (or the first ``max_items``) as a list."""
        if max_items is not None and max_items < 0:
            raise ValueError(f"max_items must not be negative, got {max_items}")
        items: list[T] = []
        if max_items == 0:
            return items
        async with aclosing(self.pages()) as pages:
            async for page in pages:
                items.extend(page.results)
                if max_items is not None and len(items) >= max_items:
                    return items[:max_items]
        return items

    async def first(self) -> T | None:
        """The first item, or None for an empty list; one request with ``limit=1``."""
        body = await self._fetch(self._path, {**self._params, "limit": 1})
        raw = read_page(body, resource=self._resource)
        decoded = self._decode(list(raw.results[:1]))
        return decoded[0] if decoded else None
