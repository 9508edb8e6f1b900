"""Event hooks: the :class:`Hooks` value a client is given, and how events reach it.

Every hook is optional and may be a plain function or a coroutine function; it is called in the
task that made the call (so a span it opens has the caller's span as parent). A hook that raises
is logged (``bessa_async.hooks``, WARNING) and the call goes on. A call's hooks run within its
deadline (a job's polls and its wait: the wait's ``timeout``): an async hook still running when
the deadline passes is cancelled, logged, and the call goes on. A client without hooks pays one
``is None`` test per call: nothing here runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar, final

import attrs
from yarl import URL

from .._base.errors import APIError, DecodeError, InvalidTypeError, RateLimitError
from .._base.urls import relative_path
from .events import (
    Attribute,
    CallEvent,
    OperationEvent,
    PageEvent,
    PollEvent,
    RateLimitedEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    path_template,
    redact_query,
    retry_reason,
)

if TYPE_CHECKING:
    from .._jobs.model import Job
    from .._transport.session import RateGate, Response

__all__ = ["CallObserver", "Hooks", "emit", "emit_poll", "left", "operation"]

logger: Final = logging.getLogger("bessa_async.hooks")

E = TypeVar("E")
Hook = Callable[[E], object]
"""A function of one event; if it returns an awaitable, that is awaited."""
Clock = Callable[[], float]

_NAMES: Final = (
    "on_request",
    "on_response",
    "on_retry",
    "on_rate_limited",
    "on_call",
    "on_page",
    "on_poll",
    "on_operation",
)

# One sequence for the process, so that a Hooks value shared by two clients (one exporter)
# never sees two calls with the same number.
_calls: Final = itertools.count(1)


def _check_hook(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not callable(value):
        raise InvalidTypeError(
            f"Hooks.{attribute.name} must be a function of one event (or None), "
            f"got {type(value).__name__}"
        )


@final
@attrs.frozen(kw_only=True)
class Hooks:
    """Functions the client calls as it works, each optional, sync or async.

    Pass it as ``BessaClient(hooks=Hooks(on_retry=print))``; ``opentelemetry_hooks()`` builds
    one that records traces and metrics. Events are frozen values without the token; query
    values are kept only for cursor, page size and time-bound keys.

    Attributes:
        on_request: :class:`RequestEvent`, as each attempt starts.
        on_response: :class:`ResponseEvent`, as each attempt ends, with or without an answer.
        on_retry: :class:`RetryEvent`, before the wait for another attempt.
        on_rate_limited: :class:`RateLimitedEvent`, when a 429 pauses the client.
        on_call: :class:`CallEvent`, when a logical call (its attempts and waits) ends.
        on_page: :class:`PageEvent`, for each list page read.
        on_poll: :class:`PollEvent`, for each answer to a job's poll.
        on_operation: :class:`OperationEvent`, when a listing (``"list"``), a ``"job.wait"``
            or a sync run ends.
    """

    on_request: Hook[RequestEvent] | None = attrs.field(default=None, validator=_check_hook)
    on_response: Hook[ResponseEvent] | None = attrs.field(default=None, validator=_check_hook)
    on_retry: Hook[RetryEvent] | None = attrs.field(default=None, validator=_check_hook)
    on_rate_limited: Hook[RateLimitedEvent] | None = attrs.field(
        default=None, validator=_check_hook
    )
    on_call: Hook[CallEvent] | None = attrs.field(default=None, validator=_check_hook)
    on_page: Hook[PageEvent] | None = attrs.field(default=None, validator=_check_hook)
    on_poll: Hook[PollEvent] | None = attrs.field(default=None, validator=_check_hook)
    on_operation: Hook[OperationEvent] | None = attrs.field(default=None, validator=_check_hook)


def check_hooks(value: object) -> Hooks | None:
    """``value`` if it is a :class:`Hooks` with a hook set; None for None or ``Hooks()`` (so
    no event is built when none would be seen); else ``InvalidTypeError``."""
    if value is not None and not isinstance(value, Hooks):
        raise InvalidTypeError(
            f"hooks must be a bessa_async.Hooks (or None), got {type(value).__name__}"
        )
    if value is None or all(getattr(value, f.name) is None for f in attrs.fields(Hooks)):
        return None
    return value


def left(deadline: float | None, clock: Clock) -> float | None:
    """Seconds from now on ``clock`` until ``deadline`` (None: no deadline): what a hook of a
    call with that deadline is given, as ``emit(within=)``."""
    return None if deadline is None else deadline - clock()


async def emit(hook: Hook[E] | None, event: E, *, within: float | None = None) -> None:
    """Call ``hook`` with ``event`` (awaiting it if async); an exception it raises is logged.

    ``within``: seconds left of the call's deadline (None: no deadline). An async hook still
    running then is cancelled and logged; a plain function cannot be interrupted.
    """
    if hook is None:
        return
    limit: asyncio.Timeout | None = None
    try:
        result = hook(event)
        if inspect.isawaitable(result):
            if within is None:
                await result
            else:
                limit = asyncio.timeout(max(0.0, within))
                async with limit:
                    await result
    except Exception:
        name = type(event).__name__
        if limit is not None and limit.expired():
            logger.warning("a hook on %s was cut off by its call's deadline", name)
        else:
            # The event's name only: the hook's own message may say anything, the traceback is
            # the user's code.
            logger.warning("a hook failed on %s; the call goes on", name, exc_info=True)


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
        gate: RateGate,
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

    def attempts_of(
        self, attempt: Callable[[int], Awaitable[Response]]
    ) -> Callable[[int], Awaitable[Response]]:
        """``attempt`` with a :class:`RequestEvent` before and a :class:`ResponseEvent` after."""

        async def observed(number: int) -> Response:
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


async def emit_poll(
    hooks: Hooks, path: str, job: Job, next_delay: float | None, *, within: float | None
) -> None:
    """A :class:`PollEvent` for the answer ``job`` to a poll of ``path``; ``within``: seconds
    left of the latest deadline among the waits the poll served (None: one has none)."""
    if hooks.on_poll is None:
        return
    lag = None
    if job.finished and job.updated is not None and job.updated.tzinfo is not None:
        lag = max(0.0, (datetime.now(UTC) - job.updated).total_seconds())
    event = PollEvent(
        job=job.id,
        path=path_template(path),
        status=str(job.status),
        next_delay=next_delay,
        updated=job.updated,
        detection_lag=lag,
    )
    await emit(hooks.on_poll, event, within=within)


@contextlib.asynccontextmanager
async def operation(
    hooks: Hooks | None,
    name: str,
    deadline: float | None = None,
    /,
    *,
    clock: Clock = time.monotonic,
    **attributes: Attribute,
) -> AsyncIterator[dict[str, Attribute]]:
    """Time a composite operation and end it with an :class:`OperationEvent`.

    Yields a dict of the event's attributes, to add facts learnt on the way (``pages``,
    ``items``); ``deadline`` is the operation's on ``clock`` (its ``on_operation`` hook keeps
    it; None: no deadline), ``clock`` the client's (monotonic seconds). Without hooks (or without
    ``on_operation``) it only yields the dict::

        async with operation(client.hooks, "sync", **{"bessa.resource": "receipts"}) as facts:
            ...
            facts["bessa.pages"] = feed.stats.pages
    """
    facts: dict[str, Attribute] = dict(attributes)
    if hooks is None or hooks.on_operation is None:
        yield facts
        return
    started = clock()
    error: str | None = None
    try:
        yield facts
    except BaseException as exc:
        error = type(exc).__name__
        raise
    finally:
        event = OperationEvent(
            name=name, attributes=tuple(facts.items()), error=error, elapsed=clock() - started
        )
        await emit(hooks.on_operation, event, within=left(deadline, clock))
