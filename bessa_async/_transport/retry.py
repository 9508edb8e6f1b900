"""Retry decisions and the retry loop. The only module that imports tenacity.

The decisions are pure functions of (method, exception, policy), tested without a loop; the
loop hands tenacity our own ``sleep`` and reads our own ``clock``, so tests run instantly.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Final, ParamSpec, TypeVar, final

import tenacity

from .._base.config import RetryPolicy
from .._base.errors import APIError, BessaError, DecodeError, RateLimitError, TransportError
from ..typing import Clock, Sleep

__all__ = [
    "SAFE_METHODS",
    "PageRead",
    "RetryBudget",
    "current_read",
    "is_retryable",
    "retry_call",
    "shared_budget",
    "wait_before_retry",
]

#: Methods whose repetition cannot change server state.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

T = TypeVar("T")
P = ParamSpec("P")


@final
class RetryBudget:
    """Retries shared by every request of one long read (a listing, a changes feed).

    As Finagle's retry budget: every request that succeeds earns ``policy.budget_ratio`` of a
    retry. A request retries up to ``policy.attempts`` whatever the balance (as outside a long
    read). Beyond that it may go on in two ways, both within its deadline:

    - while other requests of the read succeed meanwhile (the server is up, this request met
      a fluke) and all the read's retries stay within ``policy.budget_reserve`` plus the
      earned share: scattered faults never stop a read of several chains;
    - without that proof (a single chain has no other request to tell a fluke from an
      outage), at most ``policy.attempts`` more times per request, paid from the earned share
      alone (no reserve) by every such retry of the read.

    So a server down from the start gets nothing beyond the attempts (nothing was earned); once
    one goes down after ``n`` good requests, the requests begun after that get at most
    ``attempts`` more each and ``budget_ratio * n`` more in all; and a request of a long single
    chain fails only after ``2 * attempts`` faults in a row, the chance of ``attempts`` in a
    row squared.
    """

    def __init__(self) -> None:
        self.retries = 0
        self.unproven = 0
        self.successes = 0

    def succeeded(self) -> None:
        """A request of the read succeeded."""
        self.successes += 1

    def draw(self, policy: RetryPolicy, *, failed: int, successes_before: int) -> bool:
        """Take a retry after attempt ``failed`` of a request that began when the read had
        ``successes_before`` successes. Returns whether the retry may go ahead."""
        if failed < policy.attempts:
            self.retries += 1
            return True
        if policy.attempts <= 1:  # retries disabled: no budget overrides that
            return False
        earned = policy.budget_ratio * self.successes
        if self.successes > successes_before:
            if self.retries + 1 > policy.budget_reserve + earned:
                return False
        elif failed >= 2 * policy.attempts or self.unproven + 1 > earned:
            return False
        else:
            self.unproven += 1
        self.retries += 1
        return True


@final
class PageRead:
    """One page of a long read, while it is read: the read's budget, and the deadline the
    page's request was given (which its ``on_page`` hook must also keep)."""

    def __init__(self, budget: RetryBudget) -> None:
        self.budget = budget
        self._deadline: float | None = None
        self._clock: Clock | None = None

    def started(self, deadline: float | None, clock: Clock) -> None:
        """The page's request runs until ``deadline`` on ``clock``."""
        self._deadline = deadline
        self._clock = clock

    def left(self) -> float | None:
        """Seconds left of the page's deadline (None: no deadline, or no request yet)."""
        if self._deadline is None or self._clock is None:
            return None
        return self._deadline - self._clock()


_page: ContextVar[PageRead | None] = ContextVar("bessa_async page read", default=None)


def current_read() -> PageRead | None:
    """The page of a long read being read in this context, if any."""
    return _page.get()


def shared_budget(fetch: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """``fetch`` (one page per call) with one :class:`RetryBudget` shared by all its calls:
    wrap the page reader of a long read once, and every page, chain and shard of it draws from
    the same budget."""
    budget = RetryBudget()

    async def fetched(*args: P.args, **kwargs: P.kwargs) -> T:
        token = _page.set(PageRead(budget))
        try:
            return await fetch(*args, **kwargs)
        finally:
            _page.reset(token)

    return fetched


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
    budget: RetryBudget | None = None,
) -> T:
    """Run ``attempt(n)`` (n = 1, 2, ...) until it succeeds or a retry is not allowed.

    A retry is not started when its wait would end past ``deadline``: the last error is raised
    instead, since it says more than a timeout would. ``on_retry(n, error, wait)`` is awaited
    before each wait, after attempt ``n`` failed with ``error``. With a ``budget`` (a long
    read's), every retry draws from it and a request may go beyond ``policy.attempts`` while
    it lasts.
    """

    # Successes of the read so far: more of them meanwhile prove the server up.
    successes_before = 0 if budget is None else budget.successes

    def allowed(failed: int, delay: float) -> bool:
        """Whether a retry after attempt ``failed`` (waiting ``delay``) may go ahead."""
        if deadline is not None and clock() + delay >= deadline:
            return False
        if budget is None:
            return failed < policy.attempts
        return budget.draw(policy, failed=failed, successes_before=successes_before)

    # Fast path: most calls succeed at once, and building tenacity's machinery costs more than
    # the rest of the client's per-request work, so tenacity only takes over after a failure.
    try:
        result = await attempt(1)
    except BessaError as exc:
        first = exc
    else:
        if budget is not None:
            budget.succeeded()
        return result
    if not is_retryable(method, first, policy):
        raise first
    delay = wait_before_retry(first, 1, policy, rng)
    if not allowed(1, delay):
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
        return not allowed(state.attempt_number + 1, state.upcoming_sleep)

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
                result = await attempt(try_.retry_state.attempt_number + 1)
                if budget is not None:
                    budget.succeeded()
                return result
    except tenacity.RetryError as exc:  # pragma: no cover - reraise=True prevents this
        last = exc.last_attempt.exception()
        if isinstance(last, BessaError):
            raise last from None
        raise
    raise AssertionError("unreachable: tenacity ends with a result or an exception")
