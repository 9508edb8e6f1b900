"""Retry decisions and the retry loop. The only module that imports tenacity.

The decisions are pure functions of (method, exception, policy), tested without a loop; the
loop hands tenacity our own ``sleep`` and reads our own ``clock``, so tests run instantly.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import tenacity

from ._config import RetryPolicy
from ._errors import APIError, BessaError, DecodeError, RateLimitError, TransportError

__all__ = ["SAFE_METHODS", "is_retryable", "retry_call", "wait_before_retry"]

#: Methods whose repetition cannot change server state.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def is_retryable(method: str, exc: BaseException, policy: RetryPolicy) -> bool:
    """Whether another attempt may follow ``exc``.

    A write is retried only when the failure proves it was not processed: the request never
    left (connection not opened) or the server throttled it (429). A ``Retry-After`` beyond
    ``policy.max_retry_after`` is never slept through, on a 429 or a 5xx alike. A 2xx whose
    body is not JSON (cut by a proxy, a captive portal's page) is retried like a 503 for a
    read; a write it answered was accepted, and is never sent again for it.
    """
    wait = exc.retry_after if isinstance(exc, APIError) else None
    if wait is not None and not policy.honours_wait(wait):
        return False
    if isinstance(exc, RateLimitError):
        return 429 in policy.statuses
    if isinstance(exc, TransportError):
        return method.upper() in SAFE_METHODS or not exc.request_sent
    if isinstance(exc, DecodeError):
        return method.upper() in SAFE_METHODS
    if isinstance(exc, APIError):
        return method.upper() in SAFE_METHODS and exc.status in policy.statuses
    return False


def wait_before_retry(
    exc: BaseException, retry_number: int, policy: RetryPolicy, rng: random.Random
) -> float:
    """Seconds to wait before retry ``retry_number``: the server's ``Retry-After`` if it gave
    one, else exponential backoff with full jitter (uniform in ``[0, bound]``)."""
    if isinstance(exc, APIError) and exc.retry_after is not None:
        return exc.retry_after
    return rng.uniform(0.0, policy.backoff_bound(retry_number))


async def retry_call(
    attempt: Callable[[int], Awaitable[T]],
    *,
    method: str,
    policy: RetryPolicy,
    deadline: float | None,
    clock: Clock,
    sleep: Sleep,
    rng: random.Random,
    on_retry: Callable[[int, BaseException, float], Awaitable[None]] | None = None,
) -> T:
    """Run ``attempt(n)`` (n = 1, 2, ...) until it succeeds or a retry is not allowed.

    A retry is not started when its wait would end past ``deadline``: the last error is raised
    instead, since it says more than a timeout would. ``on_retry(n, error, wait)`` is awaited
    before each wait, after attempt ``n`` failed with ``error``.
    """
    # Fast path: most calls succeed at once, and building tenacity's machinery costs more than
    # the rest of the client's per-request work, so tenacity only takes over after a failure.
    try:
        return await attempt(1)
    except BessaError as exc:
        first = exc
    if not is_retryable(method, first, policy) or policy.attempts <= 1:
        raise first
    delay = wait_before_retry(first, 1, policy, rng)
    if deadline is not None and clock() + delay >= deadline:
        raise first
    if on_retry is not None:
        await on_retry(1, first, delay)
    await sleep(delay)

    # From here on tenacity's attempt n is our attempt n + 1.
    def should_retry(state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        return exc is not None and is_retryable(method, exc, policy)

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        assert exc is not None  # only called after a failed attempt
        return wait_before_retry(exc, state.attempt_number + 1, policy, rng)

    def stop(state: tenacity.RetryCallState) -> bool:
        if state.attempt_number + 1 >= policy.attempts:
            return True
        return deadline is not None and clock() + state.upcoming_sleep >= deadline

    async def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if on_retry is not None and exc is not None:
            await on_retry(state.attempt_number + 1, exc, state.upcoming_sleep)

    retrying = tenacity.AsyncRetrying(
        sleep=sleep,
        retry=should_retry,
        wait=wait,
        stop=stop,
        reraise=True,
        before_sleep=before_sleep if on_retry is not None else None,
    )
    try:
        async for try_ in retrying:
            with try_:
                return await attempt(try_.retry_state.attempt_number + 1)
    except tenacity.RetryError as exc:  # pragma: no cover - reraise=True prevents this
        last = exc.last_attempt.exception()
        if isinstance(last, BessaError):
            raise last from None
        raise
    raise AssertionError("unreachable: tenacity ends with a result or an exception")
