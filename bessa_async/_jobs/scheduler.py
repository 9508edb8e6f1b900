"""The poll scheduler: one per client, it polls every job someone waits for.

A job is polled on its own backoff schedule (see :mod:`bessa_async._jobs.pacing`) until it has
been read once; then, while several jobs of one kind wait, they are read together from the jobs
list a page at a time (a *round*, see :mod:`bessa_async._jobs.rounds`), and a job is read on its
own again only when the list cannot tell its state (missing from an unfinished-status list, an
entry without its outcome, filters the API ignores). Everything runs from one task that exists
only while someone waits, never with more requests in flight than the client's limit. A failed
poll is tried again later; it never resubmits anything.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, final

import attrs

from .._base.config import PollPolicy
from .._base.errors import (
    APIError,
    BessaError,
    ClientClosedError,
    RateLimitError,
    ServerError,
    TransportError,
)
from .._base.wire_time import instant
from .._instrument.events import PollEvent, path_template
from .._instrument.hooks import Hooks, emit, left
from .._listing.pagination import follow, read_page
from .._models.convert import decode
from ..typing import Clock, Sleep
from .handle import JobHandle, JobTimeoutError
from .model import Job, JobKind
from .pacing import check_wait_timeout, next_poll_delay, next_round_delay, round_policy
from .rounds import RUNNING, ListState, contradicts, lacks_outcome

__all__ = [
    "Clock",
    "Fetch",
    "FetchPage",
    "PollScheduler",
    "PollStats",
    "Sleep",
]

logger: Final = logging.getLogger("bessa_async.jobs")

Fetch = Callable[[str], Awaitable[tuple[Job, float | None]]]
FetchPage = Callable[[str, Mapping[str, Any] | None], Awaitable[tuple[Any, float | None]]]
"""GET a list page (a path with parameters, or a ``next`` URL); the JSON and ``Retry-After``."""


async def _emit_poll(
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
    job: Job | None = None
    """The job as last read (by id or from the list)."""
    round: _Round | None = None
    """The kind's round this job is read in, or None while it is polled on its own."""
    unlisted: bool = False
    """Read on its own because an unfinished-status list did not show it."""

    @property
    def key(self) -> str:
        return self.path


@attrs.define(eq=False)
class _Round:
    """The jobs of one kind read together from the jobs list."""

    kind: JobKind
    state: ListState
    members: dict[str, _Watch] = attrs.field(factory=dict)
    """By job id (canonical text)."""
    delay: float | None = None
    version: int = 0
    due: float | None = None
    task: asyncio.Task[None] | None = None
    joined_due: float | None = None
    """The earliest time a job that joined while the round was out wants to be read."""

    @property
    def dropped(self) -> bool:
        return not self.members


_Unit = _Watch | _Round


def _until(waiters: list[_Waiter]) -> float | None:
    """The latest deadline among ``waiters`` (None: one of them has none), taken as a poll for
    them starts: its ``on_poll`` hook keeps it, though the poll may settle them first."""
    deadlines = [waiter.deadline for waiter in waiters]
    if not deadlines or None in deadlines:
        return None
    return max(d for d in deadlines if d is not None)


@final
@attrs.define
class PollStats:
    """What one client's scheduler has done so far."""

    polls: int = 0
    """Job answers asked for."""
    errors: int = 0
    """Polls that failed (and were tried again later)."""
    peak_in_flight: int = 0
    """The most requests in flight at once (polls and list pages)."""
    rounds: int = 0
    """Rounds that read the jobs list for several waiting jobs of one kind."""
    list_pages: int = 0
    """Pages of the jobs list those rounds read (one request each)."""


@final
class PollScheduler:
    """Polls every job someone waits for, from one task: several jobs of one kind through the
    jobs list (``lists`` names each kind's list path), a job alone on its own backoff schedule.

    The task exists only while there is something to wait for, so a client with no waiting
    handles runs nothing in the background. At most ``limit`` requests are in flight at once
    (a round reads its pages one after the other). ``batch=False`` polls every job on its own.
    Waits use the injected ``sleep``/``clock`` while nothing is in flight, and the event loop's
    own timer while polls are (so a virtual clock moves only when nothing is on the wire).
    """

    def __init__(
        self,
        fetch: Fetch,
        *,
        clock: Clock,
        sleep: Sleep,
        limit: int,
        rng: random.Random,
        fetch_page: FetchPage | None = None,
        lists: Mapping[JobKind, str] | None = None,
        batch: bool = True,
    ) -> None:
        self._fetch = fetch
        self._fetch_page = fetch_page
        self.batch = batch and fetch_page is not None
        self._rounds: dict[JobKind, _Round] = {
            kind: _Round(kind, ListState(path)) for kind, path in (lists or {}).items()
        }
        self._clock = clock
        self._sleep = sleep
        self._limit = limit
        self._rng = rng
        self._watches: dict[str, _Watch] = {}
        self._due: list[tuple[float, int, int, _Unit]] = []
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
            raise ClientClosedError("this BessaClient is closed; create a new one")
        check_wait_timeout(timeout)
        loop = asyncio.get_running_loop()
        now = self._clock()
        watch = self._watches.get(handle.path)
        new = watch is None
        if watch is None:
            watch = _Watch(path=handle.path, policy=policy, delay=handle.backoff, job=handle.job)
            self._watches[handle.path] = watch
        future: asyncio.Future[None] = loop.create_future()
        deadline = None if timeout is None else now + timeout
        waiter = _Waiter(future, handle, deadline, timeout, watch)
        watch.waiters.append(waiter)
        if new:
            first = now if handle.poll_after is None else max(now, handle.poll_after)
            self._place(watch, first)
        if deadline is not None:
            heapq.heappush(self._deadlines, (deadline, next(self._seq), waiter))
        future.add_done_callback(lambda _: self._forget(waiter))
        self._ensure_running()
        self._poke()
        return future

    def _schedule(self, unit: _Unit, at: float) -> None:
        unit.version += 1
        if isinstance(unit, _Round):
            unit.due = at
        heapq.heappush(self._due, (at, next(self._seq), unit.version, unit))

    def _round_for(self, watch: _Watch) -> _Round | None:
        """The round ``watch`` can be read in, or None: it is polled on its own."""
        job = watch.job
        if not self.batch or job is None or not watch.waiters:
            return None
        rnd = self._rounds.get(watch.waiters[0].handle.kind)
        if rnd is None or watch.path != f"{rnd.state.path}{job.id}/":
            return None  # polled where its Location said: the list does not show it
        mode = rnd.state.mode
        if mode == "changes":
            return rnd if job.updated is not None else None
        if mode == "unfinished":
            return rnd if job.status in RUNNING else None
        return None

    def _place(self, watch: _Watch, at: float) -> None:
        """Next read of ``watch`` at ``at``: in its kind's round if it can be, else alone."""
        rnd = self._round_for(watch)
        if rnd is None:
            self._leave(watch)
            self._schedule(watch, at)
            return
        assert watch.job is not None
        watch.version += 1  # any own poll it had scheduled is void
        if watch.round is not rnd:
            watch.round = rnd
            rnd.members[str(watch.job.id)] = watch
            rnd.state.join(watch.job.updated)
        if rnd.task is not None:
            rnd.joined_due = at if rnd.joined_due is None else min(rnd.joined_due, at)
        elif rnd.due is None or at < rnd.due:
            self._schedule(rnd, at)

    def _leave(self, watch: _Watch) -> None:
        rnd, watch.round = watch.round, None
        if rnd is not None and watch.job is not None:
            rnd.members.pop(str(watch.job.id), None)
            if not rnd.members:
                rnd.due = None
                task = rnd.task
                if task is not None and not task.done() and task is not asyncio.current_task():
                    task.cancel()

    def _alone(self, watch: _Watch, at: float) -> None:
        """Read ``watch`` by id at ``at`` (it rejoins the round afterwards if it can)."""
        self._leave(watch)
        self._schedule(watch, at)

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
        self._leave(watch)
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
            _, _, version, unit = self._due[0]
            if not unit.dropped and version == unit.version:
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
            _, _, _, unit = heapq.heappop(self._due)
            unit.version += 1
            if isinstance(unit, _Round):
                unit.due = None
                if len(unit.members) < 2 or unit.state.mode == "off":
                    # One job: a GET of its own answers no less than the list would.
                    for watch in list(unit.members.values()):
                        self._alone(watch, now)
                    continue
                coro = self._round(unit)
                name = f"bessa_async round {unit.state.path}"
            else:
                coro = self._poll(unit)
                name = f"bessa_async poll {unit.path}"
            task = loop.create_task(coro, name=name)
            unit.task = task
            self._running.add(task)
            self.stats.peak_in_flight = max(self.stats.peak_in_flight, len(self._running))

    async def _poll(self, watch: _Watch) -> None:
        task = asyncio.current_task()
        until = _until(watch.waiters)
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
                watch.job = job
                if watch.unlisted:
                    watch.unlisted = False
                    if job.status in RUNNING:
                        self._not_all_statuses(watch)
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
                    await _emit_poll(
                        self.hooks, watch.path, job, delay, within=left(until, self._clock)
                    )
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
        self._place(watch, now + delay)
        return delay

    async def _round(self, rnd: _Round) -> None:
        """One round: read the kind's jobs list page by page, settle what it shows finished."""
        task = asyncio.current_task()
        state, fetch_page = rnd.state, self._fetch_page
        assert fetch_page is not None
        started = self._clock()
        mode, query = state.mode, state.query(started)
        members = dict(rnd.members)
        until = {watch.path: _until(watch.waiters) for watch in members.values()}
        seen: set[str] = set()
        stamps: list[Any] = []
        observed: list[tuple[str, Job]] = []
        changed, complete, retry_after = False, False, None
        try:
            self.stats.rounds += 1
            target: str = state.path
            params: Mapping[str, Any] | None = query
            links: set[str] = set()
            while True:
                self.stats.list_pages += 1
                body, retry_after = await fetch_page(target, params)
                page = read_page(body, resource=state.path)
                ignored = None
                for item in page.results:
                    if not isinstance(item, Mapping):
                        continue
                    ignored = ignored or contradicts(item, query)
                    if mode == "changes" and (stamp := instant(item.get("updated"))):
                        stamps.append(stamp)
                    watch = members.get(str(item.get("id")))
                    if watch is not None and not watch.dropped:
                        seen.add(str(item.get("id")))
                        if self._observe_listed(watch, item):
                            changed = True
                            if watch.job is not None:
                                observed.append((watch.path, watch.job))
                if ignored is not None:
                    self._ignored(rnd, ignored)
                    break
                if page.next is None:
                    complete = True
                    break
                target, params, identity = follow(page.next, path=state.path, params=query)
                if identity in links:
                    break  # a cycling cursor: what was read stands, the rest waits a round
                links.add(identity)
        except (TransportError, ServerError, RateLimitError) as exc:
            self.stats.errors += 1
            for watch in members.values():
                watch.last_error = exc
            retry_after = exc.retry_after if isinstance(exc, APIError) else None
        except Exception as exc:
            # The list cannot serve these jobs (refused, unreadable): poll them one by one.
            logger.warning(
                "jobs list %s cannot be polled (%s): polling its jobs one by one",
                state.path,
                type(exc).__name__,
            )
            state.updated = state.status = False
        finally:
            if task is not None:
                self._running.discard(task)
            rnd.task = None
            self._poke()
        now = self._clock()
        if complete and mode == "changes":
            state.saw(stamps, now)
            state.last_duration = now - started
        if complete and mode == "unfinished":
            for job_id, watch in members.items():
                if job_id not in seen and not watch.dropped and watch.round is rnd:
                    watch.unlisted = True
                    self._alone(watch, now)  # not listed as unfinished: read it
        # After a fallback its first round comes at once.
        delay = self._after_round(
            rnd, now, changed=changed, retry_after=retry_after, at_once=state.mode != mode
        )
        if self.hooks is not None:
            for path, job in observed:
                await _emit_poll(
                    self.hooks,
                    path,
                    job,
                    None if job.finished else delay,
                    within=left(until.get(path), self._clock),
                )

    def _observe_listed(self, watch: _Watch, item: Mapping[str, Any]) -> bool:
        """Take a member's list entry; whether it showed a change."""
        try:
            job = decode(Job, item, resource=watch.path)
        except BessaError:
            self._alone(watch, self._clock())  # unreadable here: read it by id
            return False
        previous = watch.job
        if previous is not None and (previous.status, previous.updated) == (
            job.status,
            job.updated,
        ):
            return False
        watch.job, watch.last_error = job, None
        now = self._clock()
        if job.finished:
            if lacks_outcome(job):
                self._alone(watch, now)  # the list entry is slimmer than the job: read it
                return True
            self._expire(now)
            for waiter in watch.waiters:
                waiter.handle.observe(job, at=now, delay=None, base=None)
            self._settle(watch, None)
            logger.debug("job %s: %s (jobs list)", watch.path, job.status)
        else:
            for waiter in watch.waiters:
                waiter.handle.observe(job, at=now, delay=None, base=None)
            if watch.round is not None and self._round_for(watch) is None:
                self._alone(watch, now + watch.policy.clamp(watch.delay or watch.policy.initial))
        return True

    def _not_all_statuses(self, watch: _Watch) -> None:
        """A job missing from the unfinished list was unfinished all along: the API reads one of
        the ``status`` values sent (a single-choice filter), so that list proves nothing."""
        rnd = self._rounds.get(watch.waiters[0].handle.kind) if watch.waiters else None
        if rnd is not None and rnd.state.mode == "unfinished":
            self._ignored(rnd, "status")

    def _ignored(self, rnd: _Round, name: str) -> None:
        """The API answered ``name`` unfiltered: stop sending it for this kind, say so once."""
        state = rnd.state
        if name == "updated__gte":
            state.updated = False
        else:
            state.status = False
        fallback = {"unfinished": "the list of unfinished jobs", "off": "one GET per job"}
        logger.warning(
            "jobs list %s ignores the %s filter: polling through %s instead",
            state.path,
            name,
            fallback.get(state.mode, "the jobs list"),
        )

    def _after_round(
        self, rnd: _Round, now: float, *, changed: bool, retry_after: float | None, at_once: bool
    ) -> float | None:
        """Pace the kind's next round, or hand its jobs back to their own polls; returns the
        seconds until that round (None: no round follows)."""
        joined, rnd.joined_due = rnd.joined_due, None
        for watch in list(rnd.members.values()):
            if self._round_for(watch) is not rnd:
                self._alone(watch, now)
        if not rnd.members:
            return None
        policy = round_policy(w.policy for w in rnd.members.values())
        delay = next_round_delay(
            policy, rnd.delay, members=len(rnd.members), changed=changed, retry_after=retry_after
        )
        rnd.delay = None if at_once else delay
        at = now if at_once else now + delay
        if joined is not None and retry_after is None:
            at = min(at, max(now, joined))
        for watch in rnd.members.values():
            for waiter in watch.waiters:
                waiter.handle.note_poll_after(at)
        logger.debug(
            "jobs list %s: %d waiting, next round in %.2f s",
            rnd.state.path,
            len(rnd.members),
            at - now,
        )
        self._schedule(rnd, at)
        return at - now

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
        """Stop polling; waits still running fail with ``ClientClosedError``. Idempotent."""
        self._closed = True
        for watch in list(self._watches.values()):
            waiters, watch.waiters = watch.waiters, []
            self._drop(watch)
            for waiter in waiters:
                if not waiter.future.done():
                    waiter.future.set_exception(
                        ClientClosedError(
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
