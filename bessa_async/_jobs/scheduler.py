"""The poll scheduler: one per client, it polls every job someone waits for.

Each job is polled on its own backoff schedule (:func:`next_poll_delay`), from one task that
exists only while someone waits, and never with more polls in flight than the client's limit.
A failed poll is tried again later; it never resubmits anything.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Final, final

import attrs

from .._config import PollPolicy
from .._errors import (
    APIError,
    InvalidValueError,
    JobTimeoutError,
    RateLimitError,
    ServerError,
    TransportError,
)
from .._hooks import Hooks, emit_poll
from .handle import JobHandle
from .model import Job

__all__ = [
    "Clock",
    "Fetch",
    "PollScheduler",
    "PollStats",
    "Sleep",
    "check_wait_timeout",
    "next_poll_delay",
]

logger: Final = logging.getLogger("bessa_async.jobs")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Fetch = Callable[[str], Awaitable[tuple[Job, float | None]]]


def check_wait_timeout(timeout: float | None) -> float | None:
    """``timeout`` if it is seconds >= 0 or None, else ``InvalidValueError``. Pure."""
    if timeout is not None and (isinstance(timeout, bool) or not timeout >= 0):
        raise InvalidValueError(f"timeout must be seconds >= 0 or None, got {timeout!r}")
    return timeout


def next_poll_delay(
    policy: PollPolicy,
    previous: float | None,
    rng: random.Random,
    retry_after: float | None = None,
) -> tuple[float, float]:
    """The backoff step. Pure (given ``rng``).

    Args:
        policy: the bounds and growth.
        previous: the previous un-jittered delay, ``None`` before the first poll.
        rng: draws the jitter.
        retry_after: the server's ``Retry-After`` on the last answer, if any.

    Returns:
        ``(base, delay)``: the un-jittered delay to pass as ``previous`` next time, and the delay
        to wait now (the server's ``Retry-After`` if it gave one), both within the bounds.
    """
    base = policy.clamp(policy.initial if previous is None else previous * policy.multiplier)
    if retry_after is not None:
        return base, policy.clamp(retry_after)
    spread = rng.uniform(1 - policy.jitter, 1 + policy.jitter) if policy.jitter else 1.0
    return base, policy.clamp(base * spread)


@attrs.define(eq=False)
class _Waiter:
    future: asyncio.Future[None]
    handle: JobHandle
    deadline: float | None
    timeout: float | None
    watch: _Watch


@attrs.define(eq=False)
class _Watch:
    """One job being polled for one or more waiters."""

    path: str
    policy: PollPolicy
    delay: float | None
    waiters: list[_Waiter] = attrs.field(factory=list)
    version: int = 0
    task: asyncio.Task[None] | None = None
    last_error: BaseException | None = None
    dropped: bool = False


@final
@attrs.define
class PollStats:
    """What one client's scheduler has done so far."""

    polls: int = 0
    """Job answers asked for."""
    errors: int = 0
    """Polls that failed (and were tried again later)."""
    peak_in_flight: int = 0
    """The most polls in flight at once."""


@final
class PollScheduler:
    """Polls every job someone waits for, each on its own backoff schedule, from one task.

    The task exists only while there is something to wait for, so a client with no waiting
    handles runs nothing in the background. At most ``limit`` polls are in flight at once.
    Waits use the injected ``sleep``/``clock`` while nothing is in flight, and the event loop's
    own timer while polls are (so a virtual clock moves only when nothing is on the wire).
    """

    def __init__(
        self, fetch: Fetch, *, clock: Clock, sleep: Sleep, limit: int, rng: random.Random
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._sleep = sleep
        self._limit = limit
        self._rng = rng
        self._watches: dict[str, _Watch] = {}
        self._due: list[tuple[float, int, int, _Watch]] = []
        self._deadlines: list[tuple[float, int, _Waiter]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._seq = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Future[None] | None = None
        self._closed = False
        self.stats = PollStats()
        self.hooks: Hooks | None = None
        """Told of each poll's answer (``on_poll``); set by the client when it has hooks."""

    @property
    def active(self) -> bool:
        """Whether the scheduler's task is running."""
        return self._task is not None

    @property
    def waiting(self) -> int:
        """Jobs currently being polled for someone."""
        return len(self._watches)

    def watch(
        self, handle: JobHandle, *, policy: PollPolicy, timeout: float | None
    ) -> asyncio.Future[None]:
        """Register a waiter; the future ends when the job ended, failed to be read, the
        deadline passed (``JobTimeoutError``), or it is cancelled."""
        if self._closed:
            raise RuntimeError("this BessaClient is closed; create a new one")
        check_wait_timeout(timeout)
        loop = asyncio.get_running_loop()
        now = self._clock()
        watch = self._watches.get(handle.path)
        if watch is None:
            watch = _Watch(path=handle.path, policy=policy, delay=handle.backoff)
            self._watches[handle.path] = watch
            first = now if handle.poll_after is None else max(now, handle.poll_after)
            self._schedule(watch, first)
        future: asyncio.Future[None] = loop.create_future()
        deadline = None if timeout is None else now + timeout
        waiter = _Waiter(future, handle, deadline, timeout, watch)
        watch.waiters.append(waiter)
        if deadline is not None:
            heapq.heappush(self._deadlines, (deadline, next(self._seq), waiter))
        future.add_done_callback(lambda _: self._forget(waiter))
        self._ensure_running()
        self._poke()
        return future

    def _schedule(self, watch: _Watch, at: float) -> None:
        watch.version += 1
        heapq.heappush(self._due, (at, next(self._seq), watch.version, watch))

    def _ensure_running(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="bessa_async job poller"
            )

    def _poke(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _forget(self, waiter: _Waiter) -> None:
        """A waiter is done (resolved or cancelled): stop polling a job nobody waits for."""
        watch = waiter.watch
        if waiter in watch.waiters:
            watch.waiters.remove(waiter)
        if not watch.waiters and not watch.dropped:
            self._drop(watch)
            self._poke()

    def _drop(self, watch: _Watch) -> None:
        watch.dropped = True
        if self._watches.get(watch.path) is watch:
            del self._watches[watch.path]
        if watch.task is not None and not watch.task.done():
            watch.task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                now = self._clock()
                self._expire(now)
                self._launch(now)
                if not self._watches and not self._running:
                    return
                wake_at = self._next_wake()
                wake = self._wake = loop.create_future()
                delay = None if wake_at is None else max(0.0, wake_at - now)
                if self._running or delay is None:
                    # Something is on the wire: its end wakes us; the loop's timer bounds it.
                    await asyncio.wait([wake], timeout=delay)
                else:
                    nap = asyncio.ensure_future(self._sleep(delay))
                    try:
                        await asyncio.wait([nap, wake], return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        if not nap.done():
                            nap.cancel()
                            await asyncio.gather(nap, return_exceptions=True)
        finally:
            self._task = None
            self._wake = None

    def _next_wake(self) -> float | None:
        times: list[float] = []
        while self._deadlines and self._deadlines[0][2].future.done():
            heapq.heappop(self._deadlines)
        if self._deadlines:
            times.append(self._deadlines[0][0])
        if len(self._running) < self._limit:
            self._skip_stale()
            if self._due:
                times.append(self._due[0][0])
        return min(times) if times else None

    def _skip_stale(self) -> None:
        while self._due:
            _, _, version, watch = self._due[0]
            if not watch.dropped and version == watch.version:
                return
            heapq.heappop(self._due)

    def _expire(self, now: float) -> None:
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, waiter = heapq.heappop(self._deadlines)
            if not waiter.future.done():
                error = JobTimeoutError(
                    (waiter.handle,), timeout=waiter.timeout, last_error=waiter.watch.last_error
                )
                waiter.future.set_exception(error)
                self._forget(waiter)

    def _launch(self, now: float) -> None:
        loop = asyncio.get_running_loop()
        while len(self._running) < self._limit:
            self._skip_stale()
            if not self._due or self._due[0][0] > now:
                return
            _, _, _, watch = heapq.heappop(self._due)
            watch.version += 1
            task = loop.create_task(self._poll(watch), name=f"bessa_async poll {watch.path}")
            watch.task = task
            self._running.add(task)
            self.stats.peak_in_flight = max(self.stats.peak_in_flight, len(self._running))

    async def _poll(self, watch: _Watch) -> None:
        task = asyncio.current_task()
        try:
            self.stats.polls += 1
            try:
                job, retry_after = await self._fetch(watch.path)
            except (TransportError, ServerError, RateLimitError) as exc:
                self.stats.errors += 1
                watch.last_error = exc
                retry = exc.retry_after if isinstance(exc, APIError) else None
                self._again(watch, None, retry)
            except Exception as exc:  # anything else ends the waits: it will not go away
                self._settle(watch, exc)
            else:
                watch.last_error = None
                if job.finished:
                    # A deadline that passed while this poll was out comes first, as a real
                    # clock's timer would have ended that wait before the answer came.
                    watch.task = None
                    self._expire(self._clock())
                    for waiter in watch.waiters:
                        waiter.handle.observe(job, at=self._clock(), delay=None, base=None)
                    self._settle(watch, None)
                    logger.debug("job %s: %s", watch.path, job.status)
                    delay = None
                else:
                    delay = self._again(watch, job, retry_after)
                if self.hooks is not None:
                    await emit_poll(self.hooks, watch.path, job, delay)
        finally:
            watch.task = None
            if task is not None:
                self._running.discard(task)
            self._poke()

    def _again(self, watch: _Watch, job: Job | None, retry_after: float | None) -> float | None:
        """Schedule the next poll of ``watch``; returns its delay (None: it is not polled)."""
        if watch.dropped:
            return None
        base, delay = next_poll_delay(watch.policy, watch.delay, self._rng, retry_after)
        watch.delay = base
        now = self._clock()
        for waiter in watch.waiters:
            if job is not None:
                waiter.handle.observe(job, at=now, delay=delay, base=base)
            else:
                waiter.handle.note_backoff(base)
        status = "error" if job is None else job.status
        logger.debug("job %s: %s, next poll in %.2f s", watch.path, status, delay)
        self._schedule(watch, now + delay)
        return delay

    def _settle(self, watch: _Watch, error: BaseException | None) -> None:
        """End every wait on ``watch``: with the job's outcome, or ``error``."""
        waiters, watch.waiters = watch.waiters, []
        self._drop(watch)
        for waiter in waiters:
            if not waiter.future.done():
                if error is None:
                    waiter.future.set_result(None)
                else:
                    waiter.future.set_exception(error)

    async def aclose(self) -> None:
        """Stop polling; waits still running fail with ``RuntimeError``. Idempotent."""
        self._closed = True
        for watch in list(self._watches.values()):
            waiters, watch.waiters = watch.waiters, []
            self._drop(watch)
            for waiter in waiters:
                if not waiter.future.done():
                    waiter.future.set_exception(
                        RuntimeError(
                            f"the BessaClient was closed while waiting for job {waiter.handle.id}; "
                            "the job goes on: resume it with a new client"
                        )
                    )
        tasks = [*self._running, *([self._task] if self._task is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._running.clear()
        self._due.clear()
        self._deadlines.clear()
