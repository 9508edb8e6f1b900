"""Incremental sync: ``resource.changes(since=...)``, everything new or changed since last time.

How a pass works, and why:

- It sends ``updated__gte`` = the watermark less ``overlap`` and **no upper bound**: an edit moves
  an item's ``updated`` forward, never out of an open-ended filter, so DRF's cursor (a position
  plus an offset among equal ordering values) never shifts under a running pass.
- The watermark is the server's time when a pass began, read from the ``Date`` header of its
  first answer (to the second, less one second for that rounding), but never later than this
  machine's clock at that answer: a ``Date`` that runs ahead (a proxy, a server clock wrong for
  a minute) would put the watermark past items not yet written, which no later pass reads. A
  watermark too early only re-reads, and the versions kept for the overlap skip the repeats. An
  item changed during a pass, behind the cursor, has a later ``updated`` and is read by the next
  pass; one that becomes visible late (commit lag) is read if it is at most ``overlap`` late.
- Where the server's ``Date``, this machine's clock, the items' ``updated`` stamps or the
  previous watermark disagree by more than ``overlap``, the feed logs a warning and sets
  :attr:`SyncStats.clocks_disagree`.
- Re-reading the overlap repeats nothing: the versions delivered inside it, ``(id, updated,
  content digest)``, travel in the checkpoint and are skipped at the edge.
- A run resumed from a batch's checkpoint finishes that pass, then reads a new one: the old
  pass began before the run, and what changed behind its cursor since is not in it.
- A checkpoint keeps at most :data:`KEEP_AT_MOST` versions inside the overlap (plus each
  chain's last page). Whether a row there was read or is still to come (commit lag) cannot be
  told from anything shorter than the version itself, so past that many a pass defers the
  rest, delivering and keeping nothing of them; the run then waits until they are ``overlap``
  old by both clocks and reads one more pass, whose watermark is past them: it delivers them
  and no later pass reads them again. A burst costs a wait of up to ``overlap``, never size.
- Concurrency splits a pass by the business time (``timestamp``), which edits never change, into
  contiguous windows whose outer ones are open; resources without one are read by one chain.
- The filter is inferred, so it is checked: an item older than the bound sent means the server
  ignored it; the feed says so once and filters locally (correct, at the cost of a full read).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Generic, TypeVar, final

import attrs

from .._base.errors import DecodeError, InvalidTypeError, InvalidValueError
from .._base.options import ParamValue, check_headers
from .._base.urls import encode_params
from .._base.validate import check_int
from .._base.wire_time import http_date, instant, read_instant
from .._instrument.hooks import observed
from .._transport.raw import LastResponse
from ..typing import Clock, Sleep
from .checkpoint import Chain, Checkpoint, Pass, Version, filters_of, read_checkpoint
from .filters import LIST_DEFAULTS, FilterSpec, check_timestamp
from .pagination import ListingRequest, ListingStats, Page, observe_pages, read_page, walk
from .sharding import raw_identity

__all__ = [
    "DEFAULT_OVERLAP",
    "KEEP_AT_MOST",
    "ChangeBatch",
    "ChangeFeed",
    "FeedPlan",
    "LocalClock",
    "SyncStats",
    "pass_start",
    "plan_feed",
    "server_time",
]

T = TypeVar("T")
log = logging.getLogger("bessa_async")

DEFAULT_OVERLAP: Final = timedelta(seconds=60)
"""How late an item may become visible after its ``updated`` and still be delivered."""
_DATE_ROUNDING: Final = timedelta(seconds=1)
KEEP_AT_MOST: Final = 1000
"""The most versions a checkpoint keeps inside the overlap (about 100 KB of JSON)."""
_MARGIN: Final = timedelta(seconds=3)
"""How far past the overlap a deferred row must be before the pass that delivers it: the
server's time is known to the second, and a watermark is a whole second less one."""
_SETTLES: Final = 3
"""Passes a run reads at most for what its passes deferred: changes that keep coming while it
waits are left to the next run (which reads them) rather than hold this one for ever."""


@final
@attrs.frozen(kw_only=True)
class ChangeBatch(Generic[T]):
    """One page's worth of new or changed items and the checkpoint that follows them."""

    items: tuple[T, ...]
    """New and changed items (soft-deleted ones included; see :attr:`deleted`)."""
    deleted: tuple[T, ...]
    """The items of :attr:`items` the API flags as deleted (a ``deleted`` timestamp)."""
    new: int
    """How many of :attr:`items` were created since the feed's starting point."""
    changed: int
    """How many were changed (created earlier)."""
    checkpoint: str = attrs.field(repr=False)
    """Save it together with :attr:`items` (ideally in the same transaction): a feed started
    from it delivers everything after this batch and nothing before it."""


@final
@attrs.define(kw_only=True)
class SyncStats:
    """What a feed's run did (updated as it runs)."""

    requests: int = 0
    pages: int = 0
    items: int = 0
    new: int = 0
    changed: int = 0
    deleted: int = 0
    repeats: int = 0
    """Versions read again inside the overlap and skipped (delivered before)."""
    chains: int = 0
    deferred: int = 0
    """Rows inside the overlap left for a later pass, past :data:`KEEP_AT_MOST` kept."""
    settles: int = 0
    """Passes read after waiting out the overlap, for what the ones before deferred."""
    filter_ignored: bool = False
    """The server answered items older than ``updated__gte``; the feed filtered locally."""
    clocks_disagree: bool = False
    """The server's ``Date``, this machine's clock, the items' ``updated`` stamps or the
    previous watermark disagreed by more than the overlap (logged); the watermark followed the
    earlier clock, so nothing was lost, but check both clocks (NTP) and any proxy's ``Date``."""


def server_time(date_header: str | None, *, resource: str) -> datetime:
    """The server's clock from an answer's ``Date`` header, as a watermark: floored to the
    second the header has, less one second, so nothing stamped before the answer is later.

    Raises:
        DecodeError: no usable ``Date`` header (a changes feed never uses the local clock).
    """
    moment = http_date(date_header)
    if moment is None:
        raise DecodeError(
            f"{resource}: the answer has no usable Date header ({date_header!r}); a changes "
            "feed takes its watermark from the server's clock, never the local one. A proxy "
            "that strips Date breaks this: let it pass"
        )
    return _second(moment)


def _second(moment: datetime) -> datetime:
    """``moment`` as a watermark: to the second, less one second (a ``Date`` is whole seconds)."""
    return moment.astimezone(UTC).replace(microsecond=0) - _DATE_ROUNDING


@final
class LocalClock:
    """This machine's wall clock, moved by the client's injected monotonic ``clock``: the real
    time plus however far ``clock`` has run ahead of the real monotonic clock since this was
    made (nothing, with the default clock), so a test's ``FakeClock`` moves it too."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lead = clock() - time.monotonic()

    def __call__(self) -> datetime:
        lead = self._clock() - time.monotonic() - self._lead
        return datetime.now(UTC) + timedelta(seconds=lead)


def pass_start(
    date: datetime, local: datetime, previous: datetime | None, overlap: timedelta
) -> datetime:
    """When a pass began, as the next watermark. Pure.

    The server's time (``date``, from :func:`server_time`), never later than this machine's
    clock at that answer (``local``, rounded alike): a watermark too late passes over every
    change stamped before it and not yet read, one too early only reads again what the
    overlap's versions then skip. A server behind this machine keeps its own time. A step back
    from the ``previous`` watermark within ``overlap`` (clocks a second apart) keeps the
    previous one: the versions kept for the overlap start from it, and every stamp from now on
    is still at or after the next bound. A larger step back is taken (reading again is safe).
    """
    start = min(date, _second(local))
    if previous is not None and start < previous <= start + overlap:
        return previous
    return start


def _digest(item: object) -> str:
    raw = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


@final
@attrs.frozen(kw_only=True)
class FeedPlan:
    """A changes feed's checked arguments: where it starts and how it reads."""

    start: Checkpoint
    """The checkpoint it goes on from (a fresh one for a first load)."""
    since: datetime | None = None
    """An aware moment to start at instead (items whose ``updated`` is at or after it)."""
    window: str | None = None
    """The business time a pass may be split by (None: one chain)."""
    limit: int | None = None
    concurrency: int = 1
    overlap: timedelta = DEFAULT_OVERLAP
    now: Callable[[], datetime] = attrs.field(factory=lambda: LocalClock(time.monotonic))
    """This machine's wall clock, against which the server's is checked."""


def plan_feed(
    spec: FilterSpec | None,
    filters: Mapping[str, Any],
    *,
    owner: str,
    resource: str,
    since: object,
    limit: int | None,
    concurrency: int,
    overlap: timedelta,
    extra_params: Mapping[str, ParamValue] | None,
    extra_headers: Mapping[str, str] | None,
    now: Callable[[], datetime],
) -> tuple[dict[str, Any], dict[str, str], FeedPlan]:
    """Check a ``changes()`` call's arguments before anything is sent: the query (the
    resource's own equality filters and ``extra_params``), the headers, and the plan.

    Raises:
        ResumeTokenError: ``since`` is not a checkpoint, or one of another resource or other
            filters.
        InvalidTypeError, InvalidValueError: a bad argument.
    """
    if spec is None:
        raise InvalidTypeError(f"{owner}: this resource has no typed filters to follow")
    windows = {f"{w}__{b}" for w in spec.windows for b in ("gte", "lt")}
    allowed = spec.keys - windows - {"cursor", "limit", *LIST_DEFAULTS}
    for name in filters:
        if name not in allowed:
            hint = (
                " (a changes feed sets the time windows itself)"
                if name in windows or name == "cursor"
                else ""
            )
            raise InvalidTypeError(f"{owner}() got an unexpected keyword argument {name!r}{hint}")
    query, _ = spec.split(filters, owner=owner)
    query.update(spec.extra_params(extra_params, owner=owner))
    headers = check_headers(extra_headers, where=f"{owner}(extra_headers=)")
    if limit is not None:
        check_int("limit", limit, minimum=1)
    check_int("concurrency", concurrency, minimum=1)
    if not isinstance(overlap, timedelta) or overlap < timedelta(0):
        raise InvalidValueError(f"overlap must be a timedelta of zero or more, got {overlap!r}")
    pairs = filters_of(query)
    start = Checkpoint(resource=resource, filters=pairs)
    moment: datetime | None = None
    if isinstance(since, str):
        start = read_checkpoint(
            since, resource=resource, filters=pairs, now=now(), allowance=overlap
        )
    elif isinstance(since, datetime):
        moment = check_timestamp("since", since).astimezone(UTC)
    elif since is not None:
        raise InvalidTypeError(
            f"since must be None, a checkpoint str or an aware datetime, got {since!r}"
        )
    plan = FeedPlan(
        start=start,
        since=moment,
        window="timestamp" if "timestamp" in spec.windows else None,
        limit=limit,
        concurrency=concurrency,
        overlap=overlap,
        now=now,
    )
    return query, headers, plan


@attrs.frozen
class _Raw:
    """A page as a chain read it: its raw items and the cursor after it (None: chain ended)."""

    index: int
    page: Page[Any]
    following: str | None


@final
class ChangeFeed(Generic[T]):
    """An async iterator of :class:`ChangeBatch` (``async for batch in feed``).

    Guarantees, from the checkpoint it starts at:

    - nothing is lost: every item created or changed after that point is delivered by this run
      or a later one from its checkpoint, including receipts a till uploads late, items that
      become visible up to ``overlap`` late, and items changed while the run is in progress;
    - no version (``id`` and ``updated``; with whole-second ``updated``, also its content) is
      delivered twice across saved checkpoints;
    - at least once within a batch whose checkpoint was not saved: for exactly once, store
      ``batch.checkpoint`` in the same transaction as ``batch.items``;
    - a checkpoint keeps at most :data:`KEEP_AT_MOST` versions inside the overlap, plus each
      chain's last page: a burst past that costs the run a wait of up to ``overlap``, not size.

    Deletions: items with a ``deleted`` timestamp (soft deletes) are delivered and listed in
    ``batch.deleted``. An item the API removes outright cannot appear in any feed; find those
    with :meth:`reconcile` now and then.
    """

    def __init__(
        self,
        request: ListingRequest[T],
        plan: FeedPlan,
        *,
        last: LastResponse,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Read ``request``'s listing per ``plan``; ``request.fetch`` keeps each answer in
        ``last``, whose ``Date`` tells when a pass began (the server's clock)."""
        self._resource = resource = request.resource
        self._hooks = hooks = request.hooks
        self._get = request.fetch
        self._last = last
        self._read = observe_pages(self._fetch, hooks, resource)
        self._path = request.path
        self._params = dict(request.params)
        self._state = plan.start
        self._since = plan.since
        self._decode = request.decode
        self._ident = raw_identity
        self._window = plan.window if plan.concurrency > 1 else None
        self._limit = plan.limit
        self._concurrency = plan.concurrency
        self._overlap = plan.overlap
        self._equalities = tuple(encode_params(self._params))
        self._ignored: set[str] = set()
        self._tails: dict[int, set[Version]] = {}
        """Per chain, the versions of its last page older than the overlap (see _take)."""
        self._started = False
        self._deferred: datetime | None = None
        """The newest ``updated`` this pass deferred (None: nothing deferred)."""
        self._clock = request.clock
        """The client's monotonic clock, which the feed's operation event is timed on."""
        self._now = plan.now
        """This machine's clock (the client's), against which the server's is checked."""
        self._sleep = sleep
        self._first_date: str | None = None
        self._first_local: datetime | None = None
        self.stats = SyncStats()
        """Counters of this run."""

    def __repr__(self) -> str:
        return f"<ChangeFeed {self._resource} {self._params!r}>"

    @property
    def checkpoint(self) -> str:
        """Where the feed stands: after the last batch handed over; once the feed is exhausted,
        the starting point for the next run."""
        return self._state.to_json()

    def __aiter__(self) -> AsyncIterator[ChangeBatch[T]]:
        if self._started:
            raise InvalidValueError(
                "a changes feed runs once; start the next run with "
                "resource.changes(since=feed.checkpoint)"
            )
        self._started = True
        if self._hooks is None or self._hooks.on_operation is None:
            return self._run()
        counts = ("requests", "pages", "items", "new", "changed", "deleted")
        run, stats = self._run(), self.stats
        return observed(run, self._hooks, "sync", self._resource, stats, counts, clock=self._clock)

    async def _fetch(self, target: str, query: Mapping[str, Any] | None) -> Any:
        body = await self._get(target, query)
        if self._first_date is None:
            # Read right after the fetch returns, before anything else runs: this answer's.
            answer = self._last.value
            date = None if answer is None else answer.headers.get("Date")
            self._first_date = date or ""
            self._first_local = self._now()
        self.stats.requests += 1
        return body

    def _start(self) -> datetime:
        """This pass's start (:func:`pass_start`), saying so when the clocks disagree."""
        date = server_time(self._first_date, resource=self._resource)
        local = self._first_local or self._now()
        previous = self._state.watermark
        start = pass_start(date, local, previous, self._overlap)
        if date - start > self._overlap:
            self._disagree(
                "the server's Date is %s ahead of this machine's clock; the watermark follows "
                "this machine's clock (nothing is lost, the next run reads the difference "
                "again)",
                date - start,
            )
        if previous is not None and previous - start > self._overlap:
            self._disagree(
                "the watermark goes back %s: the run that saved it met a clock that was ahead, "
                "so changes stamped in between may have been passed over (to read them, run "
                "once with since= a moment you trust before that run), and this run may "
                "deliver again items delivered before",
                previous - start,
            )
        return start

    def _earlier_clock(self) -> datetime:
        """Now by the earlier of this machine's clock and the server's (estimated from how far
        its ``Date`` stood from this machine's at the pass's first answer): what watermarks
        follow."""
        now = self._now()
        if self._first_date and self._first_local is not None:
            date = server_time(self._first_date, resource=self._resource) + _DATE_ROUNDING
            now = min(now, now + (date - self._first_local))
        return now

    def _disagree(self, message: str, by: timedelta) -> None:
        self.stats.clocks_disagree = True
        log.warning("%s: " + message + "; check the clocks (NTP) and any proxy", self._resource, by)

    def _query(
        self, bound: datetime | None, chain: Chain | None, limit: int | None
    ) -> dict[str, Any]:
        query = dict(self._params)
        if bound is not None:
            query["updated__gte"] = bound
        if chain is not None and self._window is not None:
            if chain.lo is not None:
                query[f"{self._window}__gte"] = chain.lo
            if chain.hi is not None:
                query[f"{self._window}__lt"] = chain.hi
        if limit is not None:
            query["limit"] = limit
        return query

    async def _run(self) -> AsyncGenerator[ChangeBatch[T]]:
        # A run resumed in the middle of a pass finishes that pass, which began before this
        # run did: a change made in between, behind its cursor, is only read by a new pass,
        # so one follows (a run that starts after a change must deliver it).
        resumed = self._state.current is not None
        for _ in range(2 if resumed else 1):
            async with aclosing(self._pass()) as passing:
                async for batch in passing:
                    yield batch
            self._since = None
        while self._deferred is not None and self.stats.settles < _SETTLES:
            wait = self._settling_wait(self._deferred)
            if wait is None:
                break
            self.stats.settles += 1
            await self._sleep(wait)
            async with aclosing(self._pass()) as passing:
                async for batch in passing:
                    yield batch

    def _settling_wait(self, newest: datetime) -> float | None:
        """Seconds until a pass's watermark is past ``newest`` by the overlap, or None when
        stamps run ahead of this machine's clock (the next run reads what was deferred)."""
        wait = newest + self._overlap + _MARGIN - self._earlier_clock()
        if wait > self._overlap + 2 * _MARGIN:
            return None
        return max(wait.total_seconds(), 0.0)

    async def _pass(self) -> AsyncGenerator[ChangeBatch[T]]:
        self._first_date = None  # this pass's start is the server's time at its first answer
        self._first_local = None
        self._tails = {}
        self._deferred = None
        state = self._state
        if state.current is None:
            watermark = state.watermark
            bound = self._since or (None if watermark is None else watermark - self._overlap)
            state = attrs.evolve(state, current=Pass(bound=bound))
        current = state.current
        assert current is not None
        if not current.chains:
            planned = await self._plan(current)
            if isinstance(planned, tuple):  # the probe read everything there is
                current, page = planned
                self._state = attrs.evolve(state, current=current)
                batch = self._take(_Raw(0, page, None))
                if batch is not None:
                    yield batch
                self._finish()
                return
            current = planned
        self._state = attrs.evolve(state, current=current)
        open_chains = [i for i, chain in enumerate(current.chains) if not chain.done]
        self.stats.chains = len(open_chains)
        async for raw in self._pages(current, open_chains):
            batch = self._take(raw)
            if batch is not None:
                yield batch
        self._finish()

    async def _plan(self, current: Pass) -> Pass | tuple[Pass, Page[Any]]:
        """Begin a pass: one chain, or (with a business time to split) a one-item probe for the
        server's time and the earliest changed item, then contiguous windows up to now."""
        if self._window is None:
            return attrs.evolve(current, chains=(Chain(),))
        body = await self._read(self._path, self._query(current.bound, None, 1))
        page = read_page(body, resource=self._resource)
        start = self._start()
        if page.next is None:
            # Nothing or one item: the probe was the pass (a lone item is taken, not re-read).
            return attrs.evolve(current, start=start, chains=(Chain(done=True),)), page
        first = instant(page.results[0].get(self._window)) if page.results else None
        if first is None or first >= start:  # no business time to split by: one chain
            return attrs.evolve(current, start=start, chains=(Chain(),))
        step = (start - first) / self._concurrency
        edges = [first + step * k for k in range(1, self._concurrency)]
        bounds = [None, *edges, None]
        chains = tuple(Chain(lo=lo, hi=hi) for lo, hi in itertools.pairwise(bounds))
        return attrs.evolve(current, start=start, chains=chains)

    async def _pages(self, current: Pass, indexes: list[int]) -> AsyncGenerator[_Raw]:
        """The open chains' pages as they come, each chain at most one page ahead of the
        caller; leaving early cancels them."""
        queue: asyncio.Queue[_Raw | BaseException | int] = asyncio.Queue()
        permits = {i: asyncio.Semaphore(1) for i in indexes}

        async def produce(i: int) -> None:
            chain = current.chains[i]
            query = self._query(current.bound, chain, self._limit)
            if chain.cursor is not None:
                query["cursor"] = chain.cursor
            stats = ListingStats()
            try:
                async for page, _, following in walk(
                    self._read, self._path, query, resource=self._resource, stats=stats
                ):
                    queue.put_nowait(_Raw(i, page, following))
                    await permits[i].acquire()
                queue.put_nowait(i)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # handed to the consumer, raised there
                queue.put_nowait(exc)

        tasks = [
            asyncio.create_task(produce(i), name=f"bessa_async changes {self._resource}")
            for i in indexes
        ]
        try:
            remaining = len(tasks)
            while remaining:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, int):
                    remaining -= 1
                    continue
                running = self._state.current
                if running is not None and running.start is None:
                    start = self._start()
                    self._state = attrs.evolve(
                        self._state, current=attrs.evolve(running, start=start)
                    )
                yield item
                permits[item.index].release()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _take(self, raw: _Raw) -> ChangeBatch[T] | None:
        """Keep a page's new versions, advance the state past it, and batch what is new."""
        state = self._state
        current = state.current
        assert current is not None
        assert current.start is not None
        self.stats.pages += 1
        chain = current.chains[raw.index]
        keep_from = current.start - self._overlap
        clock = self._earlier_clock()
        seen = set(state.seen)
        tail: set[Version] = set()
        fresh: list[Any] = []
        created: list[datetime | None] = []
        latest: datetime | None = None
        for item in raw.page.results:
            version = self._version(item, current.bound, chain)
            if version is None:
                continue
            repeat = version in seen
            updated = read_instant(version[1])
            latest = updated if latest is None else max(latest, updated)
            if updated < keep_from:
                tail.add(version)  # no later pass reads it: kept only for this chain's next page
                seen.discard(version)
            elif not repeat and len(seen) >= KEEP_AT_MOST and updated <= clock + _MARGIN:
                # At or after the next pass's bound, so a pass that starts once it is the overlap
                # old delivers it without keeping it. A stamp ahead of the clocks is kept: its
                # wait would be as long as the clock is ahead.
                self._deferred = updated if self._deferred is None else max(self._deferred, updated)
                self.stats.deferred += 1
                continue
            elif not repeat:
                seen.add(version)
            if repeat:
                self.stats.repeats += 1
                continue
            fresh.append(item)
            created.append(instant(item.get("created")) if isinstance(item, dict) else None)
        if latest is not None and not self.stats.clocks_disagree:
            ahead = latest - self._now()
            if ahead > self._overlap:
                self._disagree(
                    "an item's updated is %s ahead of this machine's clock: the server stamps "
                    "with a clock that is ahead (the watermark follows this machine's)",
                    ahead,
                )
        # DRF's cursor is a position plus a count of rows into a group of equal positions: a
        # row entering that group behind the cursor makes the next page show rows of this one
        # again. So this page's versions are remembered, whatever their age, until the chain's
        # next page is taken (one page per chain: the checkpoint stays small).
        seen -= self._tails.pop(raw.index, set())
        self._tails[raw.index] = tail
        seen |= tail
        chains = list(current.chains)
        chains[raw.index] = attrs.evolve(chain, cursor=raw.following, done=raw.following is None)
        current = attrs.evolve(current, chains=tuple(chains))
        self._state = attrs.evolve(state, current=current, seen=frozenset(seen))
        if all(c.done for c in chains):
            self._finish()
        if not fresh:
            return None
        items = tuple(self._decode(fresh))
        bound = current.bound
        new = sum(1 for c in created if bound is None or (c is not None and c >= bound))
        deleted = tuple(
            model
            for model, item in zip(items, fresh, strict=True)
            if isinstance(item, dict) and item.get("deleted") is not None
        )
        self.stats.items += len(items)
        self.stats.new += new
        self.stats.changed += len(items) - new
        self.stats.deleted += len(deleted)
        return ChangeBatch(
            items=items,
            deleted=deleted,
            new=new,
            changed=len(items) - new,
            checkpoint=self._state.to_json(),
        )

    def _version(self, item: Any, bound: datetime | None, chain: Chain) -> Version | None:
        """An item's version, or None when it is not this chain's to deliver."""
        if not isinstance(item, dict):
            raise DecodeError(f"{self._resource}: a list item is not an object: {item!r:.80}")
        updated = instant(item.get("updated"))
        if updated is None:
            raise DecodeError(
                f"{self._resource}: an item has no readable 'updated' ({item.get('updated')!r}), "
                "so changes cannot be followed; use list() instead"
            )
        if bound is not None and updated < bound:
            if not self.stats.filter_ignored:
                log.warning(
                    "%s: the server ignored updated__gte (an item is older than the bound "
                    "sent); filtering locally, which reads the whole list",
                    self._resource,
                )
                self.stats.filter_ignored = True
            return None
        if self._equalities and not self._honoured(item):
            return None
        if self._window is not None and (chain.lo is not None or chain.hi is not None):
            when = instant(item.get(self._window))
            outside = (
                when is None
                or (chain.lo is not None and when < chain.lo)
                or (chain.hi is not None and when >= chain.hi)
            )
            if outside and not (when is None and chain.lo is None):
                return None  # another chain's window: the server ignored this chain's bounds
        return (self._ident(item), updated.isoformat(), _digest(item))

    def _honoured(self, item: Mapping[str, Any]) -> bool:
        """Whether ``item`` matches the equality filters sent; one that does not means the
        server ignored that filter (DRF ignores unknown names): say so once, filter locally."""
        for name, text in self._equalities:
            if name not in item or item[name] is None:
                continue
            value = item[name]
            shown = ("true" if value else "false") if isinstance(value, bool) else str(value)
            if shown.lower() != text.lower():
                if name not in self._ignored:
                    self._ignored.add(name)
                    log.warning(
                        "%s: the server ignored the filter %s (an item has %s=%r); "
                        "filtering locally",
                        self._resource,
                        name,
                        name,
                        value,
                    )
                return False
        return True

    def _finish(self) -> None:
        """A pass that read every chain: its start is the next watermark; keep only the
        versions the next pass's overlap will read again."""
        current = self._state.current
        if current is None or current.start is None or not all(c.done for c in current.chains):
            return
        keep_from = current.start - self._overlap
        seen = frozenset(v for v in self._state.seen if read_instant(v[1]) >= keep_from)
        self._state = Checkpoint(
            resource=self._state.resource,
            filters=self._state.filters,
            watermark=current.start,
            current=None,
            seen=seen,
        )

    async def reconcile(self, known_ids: Iterable[object]) -> frozenset[str]:
        """The ids among ``known_ids`` that the API no longer lists (or flags deleted): what a
        changes feed cannot see when the API deletes outright. Reads the whole list once."""
        known = {str(i) for i in known_ids}
        listed: set[str] = set()
        stats = ListingStats()
        query = self._query(None, None, self._limit)
        async for page, _, _ in walk(
            self._read, self._path, query, resource=self._resource, stats=stats
        ):
            for item in page.results:
                if isinstance(item, dict) and item.get("deleted") is None:
                    listed.add(self._ident(item))
        return frozenset(known - listed)
