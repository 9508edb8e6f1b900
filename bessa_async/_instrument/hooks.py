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
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Final, TypeVar, final

import attrs

from .._base.errors import InvalidTypeError
from ..typing import Clock, Hook
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
)

__all__ = ["Hooks", "emit", "left", "observed", "operation"]

logger: Final = logging.getLogger("bessa_async.hooks")

E = TypeVar("E")
T = TypeVar("T")

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


@contextlib.asynccontextmanager
async def operation(
    hooks: Hooks | None,
    name: str,
    deadline: float | None = None,
    /,
    *,
    clock: Clock,
    **attributes: Attribute,
) -> AsyncIterator[dict[str, Attribute]]:
    """Time a composite operation and end it with an :class:`OperationEvent`: the one place
    an operation is timed and reported (:func:`observed` is its form for an async generator).

    Yields a dict of the event's attributes, to add facts learnt on the way (``pages``,
    ``items``); ``deadline`` is the operation's on ``clock`` (its ``on_operation`` hook keeps
    it; None: no deadline), ``clock`` the client's (monotonic seconds), so that ``elapsed``
    follows an injected clock. Leaving an async generator early (``GeneratorExit``) is a normal
    end; any other exception is the event's ``error``. Without hooks (or without
    ``on_operation``) it only yields the dict::

        async with operation(hooks, "sync", clock=clock, **{"bessa.resource": "receipts"}) as facts:
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
    except GeneratorExit:
        raise
    except BaseException as exc:
        error = type(exc).__name__
        raise
    finally:
        event = OperationEvent(
            name=name, attributes=tuple(facts.items()), error=error, elapsed=clock() - started
        )
        await emit(hooks.on_operation, event, within=left(deadline, clock))


async def observed(
    source: AsyncGenerator[T],
    hooks: Hooks | None,
    name: str,
    resource: str,
    counters: object,
    counted: tuple[str, ...],
    /,
    *,
    clock: Clock,
) -> AsyncGenerator[T]:
    """``source`` (reading ``resource``) as one :func:`operation`: its event carries
    ``bessa.resource`` and, as ``bessa.<name>``, each ``counted`` attribute of ``counters`` (kept
    as the source ran) at its end."""
    async with operation(hooks, name, clock=clock, **{"bessa.resource": resource}) as seen:
        try:
            async with contextlib.aclosing(source):
                async for item in source:
                    yield item
        finally:
            seen.update({f"bessa.{count}": getattr(counters, count) for count in counted})
