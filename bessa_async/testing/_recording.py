"""The sandbox's request log: every request as it arrived, minus its ``Authorization`` header."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Callable, Mapping
from typing import final

import attrs
from aiohttp import web

__all__ = ["RecordedRequest", "RequestLog"]


@final
@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One request as the sandbox saw it; the ``Authorization`` header is never kept."""

    method: str
    path: str
    """Relative to the API base, e.g. ``"articles/"``."""
    raw_path: str
    query: tuple[tuple[str, str], ...]
    """Form-decoded pairs, as Django reads them (a raw ``+`` becomes a space)."""
    raw_query: str
    headers: Mapping[str, str]
    authenticated_as: str | None
    """``"tenant-a"``, ``"tenant-b"``, ``"invalid"`` or None when no token was sent."""
    body: bytes
    time: float
    status: int | None = None
    """The answer's status; None until it is sent, or when the connection was cut instead."""


@final
class RequestLog:
    """The recorded requests, oldest first, and a way to wait until enough have arrived."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.requests: list[RecordedRequest] = []
        self._arrived = asyncio.Event()

    def record(
        self,
        request: web.Request,
        *,
        path: str,
        raw_path: str,
        raw_query: str,
        body: bytes,
        authenticated_as: str | None,
    ) -> int:
        """Append one request, stamped with the sandbox's clock, and wake the waiters; returns
        its index, for :meth:`answered`."""
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=path,
                raw_path=raw_path,
                query=tuple(urllib.parse.parse_qsl(raw_query, keep_blank_values=True)),
                raw_query=raw_query,
                headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
                authenticated_as=authenticated_as,
                body=body,
                time=self._clock(),
            )
        )
        self._arrived.set()
        return len(self.requests) - 1

    def answered(self, index: int, status: int) -> None:
        """Note the status the request at ``index`` was answered with."""
        self.requests[index] = attrs.evolve(self.requests[index], status=status)

    async def wait_for(self, count: int) -> None:
        """Return once the log holds at least ``count`` requests."""
        while len(self.requests) < count:
            self._arrived.clear()
            await self._arrived.wait()
