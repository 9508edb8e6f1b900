"""A call's events: its attempts, retries and end, told to the client's hooks."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, TypeVar, final

from yarl import URL

from .._base.errors import APIError, DecodeError, RateLimitError
from .._base.urls import relative_path
from .._instrument.events import (
    CallEvent,
    RateLimitedEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    path_template,
    redact_query,
    retry_reason,
)
from .._instrument.hooks import Hooks, emit, left
from ..typing import Clock


class Gate(Protocol):
    """What the observer reads of the client's 429 gate: when it opens, the pause last set."""

    @property
    def until(self) -> float: ...
    @property
    def pause(self) -> float: ...


class Answer(Protocol):
    """What the observer reads of an answer."""

    @property
    def status(self) -> int: ...


A = TypeVar("A", bound=Answer)

__all__ = ["CallObserver"]

_calls: Final = itertools.count(1)


@final
class CallObserver:
    """The events of one logical call: wraps its attempts, hears its retries, ends it."""

    def __init__(
        self,
        hooks: Hooks,
        *,
        method: str,
        url: URL,
        base_url: URL,
        clock: Clock,
        gate: Gate,
        deadline: float | None = None,
    ) -> None:
        self._hooks = hooks
        self._clock = clock
        self._deadline = deadline
        self._gate = gate
        self.call = next(_calls)
        self.method = method
        self.path = path_template(relative_path(base_url, url))
        self.query = redact_query(url.query.items())
        self.server = base_url.host or ""
        self.attempts = 0
        self._started = clock()

    def _left(self) -> float | None:
        """Seconds left of the call's deadline, which its hooks keep too."""
        return left(self._deadline, self._clock)

    def attempts_of(self, attempt: Callable[[int], Awaitable[A]]) -> Callable[[int], Awaitable[A]]:
        """``attempt`` with a :class:`RequestEvent` before and a :class:`ResponseEvent` after."""

        async def observed(number: int) -> A:
            hooks = self._hooks
            self.attempts = number
            await emit(
                hooks.on_request,
                RequestEvent(
                    call=self.call,
                    method=self.method,
                    path=self.path,
                    query=self.query,
                    server=self.server,
                    attempt=number,
                ),
                within=self._left(),
            )
            started = self._clock()
            gate = self._gate.until
            try:
                response = await attempt(number)
            except BaseException as exc:
                status = exc.status if isinstance(exc, APIError | DecodeError) else None
                await self._response(number, status, type(exc).__name__, started)
                if isinstance(exc, RateLimitError) and self._gate.until != gate:
                    wait = self._gate.pause  # as set: capped, not as the server asked
                    await emit(
                        hooks.on_rate_limited,
                        RateLimitedEvent(
                            call=self.call, method=self.method, path=self.path, wait=wait
                        ),
                        within=self._left(),
                    )
                raise
            await self._response(number, response.status, None, started)
            return response

        return observed

    async def _response(
        self, number: int, status: int | None, error: str | None, started: float
    ) -> None:
        await emit(
            self._hooks.on_response,
            ResponseEvent(
                call=self.call,
                method=self.method,
                path=self.path,
                query=self.query,
                server=self.server,
                attempt=number,
                status=status,
                error=error,
                elapsed=self._clock() - started,
            ),
            within=self._left(),
        )

    async def retried(self, number: int, exc: BaseException, wait: float) -> None:
        """Attempt ``number`` failed with ``exc``; the next follows after ``wait`` seconds."""
        await emit(
            self._hooks.on_retry,
            RetryEvent(
                call=self.call,
                method=self.method,
                path=self.path,
                attempt=number,
                reason=retry_reason(exc),
                wait=wait,
            ),
            within=self._left(),
        )

    async def ended(self, status: int | None, exc: BaseException | None) -> None:
        """The call returned (``status``) or raised ``exc``."""
        if isinstance(exc, APIError | DecodeError):
            status = exc.status
        await emit(
            self._hooks.on_call,
            CallEvent(
                call=self.call,
                method=self.method,
                path=self.path,
                server=self.server,
                attempts=self.attempts,
                status=status,
                error=None if exc is None else type(exc).__name__,
                elapsed=self._clock() - self._started,
            ),
            within=self._left(),
        )
