"""Concurrent, time-sharded listing: many cursor chains over one half-open time window.

A month of receipts is thousands of pages; one cursor chain reads them strictly one after another,
so the wall time is pages x latency. Here the window ``[start, end)`` is cut into shards, each
read by its own cursor chain, concurrently.

The algorithm
-------------
1. **Initial shards.** One chain reads the first page of the whole window; its ``count`` says
   how many pages there are. If there is more than one, the rest of the window (after the last
   item read) is cut into ``min(4 x concurrency, pages)`` shards of equal duration. Each shard
   ``i`` queries ``field__gte=s_i&field__lt=e_i`` and *owns* ``[s_i, cutoff_i)``, with
   ``cutoff_i = e_i`` at first. Owned windows partition ``[start, end)``. Every edge the
   listing cuts (here, and the splits of step 4) falls on a whole second: an API whose time
   filters compare whole seconds then still cuts exactly there, so nothing falls between two
   shards, whatever the filters' precision.
2. **Ownership makes it exactly-once.** A chain yields only items whose time lies in its owned
   window; anything else belongs to (and is yielded by) another chain. Within a chain, an item
   whose id was just yielded (in the current or the previous page) is skipped as a duplicate:
   the safety net, counted in :class:`~bessa_async._listing.pagination.ListingStats` and logged.
3. **Slots.** At most ``concurrency`` chains fetch at a time, each holding a slot from page to
   page. Free slots go to waiting chains earliest first, and a chain gives its slot up before
   its next page when an earlier chain is waiting for one (the output needs that one first) or
   when the buffer holds it back (step 6).
4. **Adaptive splitting.** Each chain's first page carries ``count``, the number of items in its
   query window: with the window's duration, a density, and so an estimate of the items left
   (density x the part of its owned window not yet read). A chain is split at a whole second
   ``m`` near the middle of that remaining part: it keeps ``[s, m)`` (its ``cutoff`` drops to
   ``m``; items at or after ``m`` that still arrive on its pages are dropped) and a new chain
   right after it takes ``[m, old cutoff)``. ``m`` lies strictly after the last item the chain
   read, so nothing yielded is re-owned. A split happens when a slot would otherwise stay free
   (nobody admitted is waiting), of a chain with at least two pages' worth left: the one with
   the most left, or with ordered output the earliest (its new neighbour is next in line for the
   output). With ordered output also when a slot is about to go to a chain while an earlier one
   still has eight pages' worth left (``EARLY_SPLIT_PAGES``): the earlier one is split instead,
   so the slots gather where the output is, and one busy Saturday does not serialise the month.
5. **Early stop.** The API lists by time, then id. Once a chain has seen its items ascend and a
   page ends at or after its cutoff, every later page would lie beyond it too: the chain stops.
   If a chain ever sees time go backwards (an API that orders otherwise), it stops trusting the
   order: it reads its whole query window (dropping what it does not own), so nothing is lost,
   only some work wasted; the ``ordered`` guarantee is then void and a warning is logged.
6. **Order and memory.** With ``ordered=True`` (default), output follows the chains' order,
   which is time order: the first chain streams as it arrives, later chains' pages are buffered
   as models (about a third of the memory of their JSON, since models share repeated amounts
   and references; an item that does not decode stops its chain and raises in its place in the
   output, after everything before it). A page's room is reserved before it is requested:
   counting every page in flight as a full one, the chain ``r`` places behind the first
   unfinished one fetches only while ``held + (r + 1) x page_size <= max_buffered``. As the
   buffer fills, the chains furthest from the output stop first, and a page's room is always
   left for the first chain, which fetches while its page fits or whenever it holds nothing
   (its pages go straight out). So at most ``max_buffered`` items are ever held (one page, if
   a page is larger). With ``ordered=False`` pages are yielded as they arrive (bounded queue).
7. **Concurrency** is also bounded by the client's in-flight limit, and a 429 pauses every chain
   (the client's shared gate).
8. **Resume.** Each chain remembers how far the consumer was handed its pages (the cursor of
   the next one, the latest time handed over). A failure, or leaving the listing, gives a
   token naming the shards still open (:mod:`~bessa_async._listing.shard_token`); read back,
   they go on
   from those cursors, and what no page was handed over from is cut afresh. A page the
   consumer left part-way is named by its own cursor and the number of its owned items taken,
   which the resumed chain leaves out. Pages read but not handed over are read again; nothing
   is handed over twice.

Sharding applies when both bounds of the window are given; with one bound or none the listing is
a single chain (the window cannot be cut without its ends). ``updated__gte``/``__lt`` windows are
sharded statically (the API does not list by ``updated``, so steps 4 and 5 do not apply, and the
output follows the shards' order, not the API's).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Generic, TypeVar, final

import attrs

from .._base.errors import (
    BessaError,
    DecodeError,
    InvalidValueError,
    PaginationLoopError,
    ResumeTokenError,
)
from .._base.wire_time import instant
from .pagination import ListingRequest, ListingStats, Page, Resumable, follow, read_page
from .shard_token import (
    ListingIdentity,
    OpenShard,
    identity_of,
    is_listing_token,
    make_token,
    read_token,
)

__all__ = [
    "DRF_PAGE_SIZE",
    "ShardPlan",
    "initial_shards",
    "listing_identity",
    "plan_shards",
    "raw_identity",
    "raw_time",
    "shard_listing",
    "sharded_pages",
    "split_point",
]

T = TypeVar("T")
log = logging.getLogger("bessa_async")
_EDGE = timedelta(seconds=1)
"""Every edge the listing cuts falls on a whole second (UTC): the coarsest precision an API's
time filter may have. An API that compares whole seconds floors ``__gte``/``__lt`` to the
second; an edge already there is cut where the shard says, so no item falls between shards."""
DRF_PAGE_SIZE: Final = 25
"""The API's page size when ``limit`` is not given (documented)."""
EARLY_SPLIT_PAGES = 8
"""Ordered output: a chain with this many pages left is split rather than a later chain
started (each split costs about one part-filled page; a later chain costs buffer)."""
SHARDS_PER_SLOT = 4
"""Initial shards per concurrent chain: small shards started in time order keep the ordered
output flowing (the first shard finishes soon) and balance uneven days."""


@final
@attrs.frozen(kw_only=True)
class ShardPlan:
    """How to shard one listing."""

    field: str
    """The query field and the item attribute: ``timestamp``, ``created`` or ``updated``."""
    start: datetime
    end: datetime
    concurrency: int
    ordered: bool = True
    adaptive: bool = True
    """Whether the API lists by ``field`` (so chains can stop early and be split)."""
    page_size: int = 25
    max_buffered: int = 8_000
    """Most items held in ordered mode, read and not yet handed over, the pages in flight
    counted as full (one page if a page is larger): about 1.5 KB per decoded receipt, so
    ~12 MB. Smaller holds less but stalls shards sooner; larger did not
    help a month of 50 000 receipts at 25 ms per answer (the early splits keep the buffer
    under ~8 000) and costs garbage collection."""


def _edge_at_or_before(moment: datetime) -> datetime:
    return moment - timedelta(microseconds=moment.microsecond)


def _edge_after(moment: datetime) -> datetime | None:
    """The first whole second strictly after ``moment`` (None past the calendar's end)."""
    try:
        return _edge_at_or_before(moment) + _EDGE
    except OverflowError:
        return None


def initial_shards(start: datetime, end: datetime, count: int) -> list[tuple[datetime, datetime]]:
    """Cut ``[start, end)`` into at most ``count`` touching shards of (nearly) equal duration.

    The inner bounds fall on whole seconds (see ``_EDGE``) and strictly increase; ``start`` and
    ``end`` stay as given.
    """
    if end <= start:
        return [(start, end)]
    span = end - start
    count = max(1, min(count, span // _EDGE))
    cuts = [start]
    for i in range(1, count):
        bound = _edge_at_or_before(start + (span * i) // count)
        if cuts[-1] < bound < end:
            cuts.append(bound)
    cuts.append(end)
    return list(itertools.pairwise(cuts))


def split_point(progress: datetime, cutoff: datetime) -> datetime | None:
    """About the middle of ``(progress, cutoff)`` on a whole second, or None if no whole second
    lies strictly between them."""
    middle: datetime | None = _edge_at_or_before(progress + (cutoff - progress) // 2)
    if middle is not None and middle <= progress:
        middle = _edge_after(progress)
    return middle if middle is not None and progress < middle < cutoff else None


@attrs.frozen
class _Mark:
    """Where a chain stands once a page of it is handed over."""

    next: str | None
    """The cursor of the chain's next page (None: the chain ended with this page)."""
    after: datetime | None
    """The latest time the chain has handed over with this page."""
    ascending: bool
    page: str | None = None
    """The cursor of this page (None: the chain's first page)."""
    skipped: int = 0
    """Owned items of this page left out, handed over before a resume."""
    pending: int = 0
    """Owned items still to leave out from the next page on."""


@attrs.define
class _Handed:
    """How far the consumer has been handed one chain's pages."""

    any: bool = False
    finished: bool = False
    cursor: str | None = None
    skip: int = 0
    after: datetime | None = None
    ascending: bool = True

    def take(self, mark: _Mark) -> None:
        self.any = True
        self.finished = mark.next is None
        self.cursor, self.skip = mark.next, mark.pending
        self.after, self.ascending = mark.after, mark.ascending


@attrs.define(eq=False)
class _Chain(Generic[T]):
    start: datetime
    end: datetime
    cutoff: datetime
    progress: datetime | None = None
    last: tuple[datetime, str] | None = None
    ascending: bool = True
    keys_seen: int = 0
    density: float | None = None
    """Items per second of the query window, from the first page's count."""
    measured: bool = False
    """Whether ``density`` comes from this chain's own first page."""
    recent: set[str] = attrs.Factory(set)
    previous: set[str] = attrs.Factory(set)
    pages: list[tuple[Page[T], _Mark] | DecodeError] = attrs.Factory(list)
    """Read, owned, decoded, not yet handed on; or the error that stopped the chain, in its
    place in the output."""
    done: bool = False
    cursor: str | None = None
    """Where the chain starts reading (a resumed chain), else its first page."""
    skip: int = 0
    """Owned items to leave out first: a resumed chain's items handed over before."""
    handed: _Handed = attrs.Factory(_Handed)
    """What the consumer has been handed of this chain."""
    reserved: int = 0
    """Buffer space reserved for the page being fetched (ordered output)."""
    task: asyncio.Task[None] | None = None
    waiting: bool = False
    """Waiting for a slot to fetch (see ``_Listing._dispatch``)."""
    holding: bool = False
    """Holding one of the listing's ``concurrency`` slots."""
    turn: asyncio.Event = attrs.Factory(asyncio.Event)

    def remaining(self) -> float:
        if self.density is None or self.done:
            return 0.0
        frontier = self.progress or self.start
        return self.density * max(0.0, (self.cutoff - frontier).total_seconds())


@final
class _Listing(Generic[T]):
    def __init__(
        self,
        request: ListingRequest[T],
        *,
        plan: ShardPlan,
        identity: ListingIdentity,
        when: Callable[[Any], datetime | None],
        ident: Callable[[Any], str],
        stats: ListingStats,
        resume: Sequence[OpenShard] | None = None,
    ) -> None:
        self._fetch = request.fetch
        self._path = request.path
        self._params = {
            k: v
            for k, v in request.params.items()
            if k not in (f"{plan.field}__gte", f"{plan.field}__lt")
        }
        self._decode = request.decode
        self._resource = request.resource
        self._plan = plan
        self._when = when
        self._ident = ident
        self._stats = stats
        self._resume = None if resume is None else list(resume)
        self._identity = identity
        self._chains: list[_Chain[T]] = []
        self._changed = asyncio.Event()
        self._buffered = 0
        self._reserved = 0
        """Items reserved for the pages being fetched (ordered output): a page may only be
        requested when there is room for it, so the bound holds with every page in flight."""
        self._fetching = 0
        """Chains holding a slot (at most ``concurrency``)."""
        self._queue: asyncio.Queue[tuple[_Chain[T], Page[T], _Mark] | BaseException | None] = (
            asyncio.Queue(maxsize=max(1, plan.max_buffered // max(1, plan.page_size)))
        )
        self._warned_order = False
        self._error: BaseException | None = None
        self._last: tuple[_Chain[T], _Mark] | None = None
        """The chain and place of the page handed to the consumer last."""

    # -- the chains -------------------------------------------------------------------------

    def _add(self, chain: _Chain[T], after: _Chain[T] | None = None) -> None:
        """Insert a chain in time order and start its task; it waits for a turn to fetch."""
        index = len(self._chains) if after is None else self._chains.index(after) + 1
        self._chains.insert(index, chain)
        self._stats.shards = len(self._chains)
        chain.task = asyncio.create_task(self._run(chain), name="bessa_async shard")

    def _fan_out(self, first: _Chain[T], count: int | None) -> None:
        """Cut the rest of the first chain's window into shards sized by its first page."""
        # The first chain keeps what it has read and the rest of that second (whole-second
        # edges): its query spans the whole window, so its own density cannot guide splits.
        frontier = _edge_after(first.progress or first.start)
        if frontier is None or frontier >= first.cutoff:
            return
        wanted = self._plan.concurrency * SHARDS_PER_SLOT
        if count is not None:
            wanted = min(wanted, -(-count // max(1, self._plan.page_size)))
        pieces = initial_shards(frontier, first.cutoff, max(1, wanted - 1))
        first.cutoff = frontier  # strictly after everything the first chain yielded
        for start, end in pieces:
            shard = _Chain[T](start=start, end=end, cutoff=end)
            shard.density = first.density
            self._add(shard)
        log.debug("%s: %s items, cut into %d more shards", self._resource, count, len(pieces))

    # -- turns: who fetches next ------------------------------------------------------------

    def _admitted(self, rank: int, chain: _Chain[T] | None) -> bool:
        """Whether the chain ``rank`` places after the first unfinished one may fetch a page.

        Unordered: always (the output queue bounds memory). Ordered: counting what is held and
        a page for every request in flight, the first chain while its page fits, or whenever
        it holds nothing (its pages go straight out); the others while there is room for their
        page and ``rank`` pages more, so that as the buffer fills the chains furthest from the
        output stop first, those next in line keep going, and a page's room is always left
        for the first chain. Held items so never exceed ``max_buffered`` (one page when a page
        is larger).
        """
        if not self._plan.ordered:
            return True
        held = self._buffered + self._reserved
        page, bound = self._plan.page_size, self._plan.max_buffered
        if rank == 0:
            alone = chain is not None and not chain.pages and not chain.reserved
            return held + page <= bound or alone
        return held + (rank + 1) * page <= bound

    def _reserve(self, chain: _Chain[T]) -> None:
        if self._plan.ordered:
            chain.reserved = self._plan.page_size
            self._reserved += chain.reserved

    def _release(self, chain: _Chain[T]) -> None:
        self._reserved -= chain.reserved
        chain.reserved = 0

    def _dispatch(self) -> None:
        """Give free slots to waiting chains, earliest first; split a dense one if slots stay
        free with nobody admitted waiting."""
        while self._fetching < self._plan.concurrency:
            offset = self._head_index()
            for rank, chain in enumerate(self._chains[offset:]):
                if self._fetching >= self._plan.concurrency:
                    return
                if chain.waiting and self._admitted(rank, chain):
                    if self._plan.ordered and self._split_ahead_of(offset, rank):
                        break  # the new chain comes before this one: look again
                    chain.waiting = False
                    chain.holding = True
                    self._fetching += 1
                    self._reserve(chain)
                    chain.turn.set()
            else:
                if self._fetching >= self._plan.concurrency or not self._split(offset):
                    return

    def _keeps_turn(self, chain: _Chain[T]) -> bool:
        """Whether a chain holding a slot may fetch its next page: it is admitted, and no
        admitted chain before it waits for a slot (the output needs that one first)."""
        offset = self._head_index()
        for rank, other in enumerate(self._chains[offset:]):
            if other is chain:
                return self._admitted(rank, chain)
            if other.waiting and self._admitted(rank, other):
                return False
        return True

    async def _take_turn(self, chain: _Chain[T]) -> None:
        """Wait until this chain may fetch its next page (it then holds one of the
        ``concurrency`` slots until it ends or is held back)."""
        if chain.holding:
            if chain.reserved:  # a new chain is handed its first turn before it runs
                chain.turn.clear()
                return
            if self._keeps_turn(chain):
                self._reserve(chain)
                chain.turn.clear()
                return
            self._end_turn(chain)
        chain.waiting = True
        self._dispatch()
        await chain.turn.wait()
        chain.turn.clear()

    def _end_turn(self, chain: _Chain[T]) -> None:
        self._release(chain)
        chain.turn.clear()
        if chain.holding:
            chain.holding = False
            self._fetching -= 1
            self._dispatch()

    def _split_ahead_of(self, offset: int, rank: int) -> bool:
        """Ordered: split a chain before ``rank`` that has many pages left, rather than give
        the slot to a chain the output needs later; whether one was split."""
        if not self._plan.adaptive:
            return False
        minimum = EARLY_SPLIT_PAGES * self._plan.page_size
        for earlier, candidate in enumerate(self._chains[offset : offset + rank]):
            if not self._admitted(earlier + 1, None):
                return False
            if not candidate.done and candidate.ascending and candidate.remaining() >= minimum:
                return self._split_chain(candidate)
        return False

    def _split(self, offset: int) -> bool:
        """Split one chain with at least two pages left to read; whether one was split.

        Ordered: the earliest such chain (its new neighbour is next in line for the output),
        if that neighbour would be admitted. Unordered: the one with the most left.
        """
        # Called only with slots free after every admitted waiting chain got a turn.
        if not self._plan.adaptive:
            return False
        minimum = 2 * self._plan.page_size
        chain: _Chain[T] | None = None
        if self._plan.ordered:
            for rank, candidate in enumerate(self._chains[offset:]):
                if not self._admitted(rank + 1, None):
                    break
                if candidate.ascending and candidate.remaining() >= minimum:
                    chain = candidate
                    break
        else:
            candidates = [c for c in self._chains if c.ascending and not c.done]
            if candidates:
                chain = max(candidates, key=lambda c: c.remaining())
                chain = chain if chain.remaining() >= minimum else None
        return chain is not None and self._split_chain(chain)

    def _split_chain(self, chain: _Chain[T]) -> bool:
        middle = split_point(chain.progress or chain.start, chain.cutoff)
        if middle is None:
            return False
        new = _Chain[T](start=middle, end=chain.cutoff, cutoff=chain.cutoff)
        new.density = chain.density
        new.waiting = True
        chain.cutoff = middle
        self._stats.splits += 1
        log.debug(
            "%s: split a dense shard at %s (%d chains)",
            self._resource,
            middle.isoformat(),
            len(self._chains) + 1,
        )
        self._add(new, after=chain)
        return True

    def _accept(self, chain: _Chain[T], items: tuple[Any, ...]) -> tuple[list[Any], bool]:
        """The (raw) items this chain owns, and whether the chain can stop after this page."""
        kept: list[Any] = []
        chain.previous, chain.recent = chain.recent, set()
        beyond = False
        for item in items:
            when, ident = self._when(item), self._ident(item)
            if when is not None:
                key = (when, ident)
                if chain.last is not None and key < chain.last and chain.ascending:
                    chain.ascending = False
                    if not self._warned_order:
                        self._warned_order = True
                        log.warning(
                            "%s: the API does not list by %s then id; reading whole shards "
                            "(nothing is lost, but the output is not in time order)",
                            self._resource,
                            self._plan.field,
                        )
                chain.last = key if chain.last is None else max(key, chain.last)
                chain.keys_seen += 1
                if when >= chain.cutoff:
                    beyond = True
                    if when >= chain.end:
                        self._stats.out_of_window += 1
                    continue
                if when < chain.start:
                    self._stats.out_of_window += 1
                    continue
            if ident in chain.recent or ident in chain.previous:
                self._stats.duplicates += 1
                log.warning("%s: skipped a repeated item %s", self._resource, ident)
                continue
            chain.recent.add(ident)
            if when is not None and (chain.progress is None or when > chain.progress):
                chain.progress = when
            kept.append(item)
        if self._stats.out_of_window:
            log.debug(
                "%s: %d items outside their window", self._resource, self._stats.out_of_window
            )
        stop = self._plan.adaptive and chain.ascending and chain.keys_seen >= 2 and beyond
        return kept, stop

    async def _run(self, chain: _Chain[T]) -> None:
        field = self._plan.field
        params = {**self._params, f"{field}__gte": chain.start, f"{field}__lt": chain.end}
        target: str = self._path
        query: Mapping[str, Any] | None = params
        seen: set[str] = set()
        here = chain.cursor
        if chain.cursor is not None:  # resumed where the consumer was last handed a page
            target, query, identity = follow(chain.cursor, path=self._path, params=params)
            seen.add(identity)
        try:
            while True:
                await self._take_turn(chain)
                raw = read_page(await self._fetch(target, query), resource=self._resource)
                if not chain.measured and raw.count is not None:
                    # Its own count replaces the density inherited from the shard it came from.
                    chain.measured = True
                    seconds = max((chain.end - chain.start).total_seconds(), 1e-6)
                    chain.density = raw.count / seconds
                kept, stop = self._accept(chain, raw.results)
                dropped = min(chain.skip, len(kept))
                if dropped:  # handed over before this listing was resumed
                    chain.skip -= dropped
                    kept = kept[dropped:]
                try:
                    results = tuple(self._decode(kept))
                except DecodeError as exc:
                    if not self._plan.ordered:
                        raise
                    # Raised where it stands: after every item before it was handed over.
                    chain.pages.append(exc)
                    break
                if self._plan.adaptive and len(self._chains) == 1 and raw.next and not stop:
                    self._fan_out(chain, raw.count)
                self._stats.pages += 1
                self._stats.items += len(results)
                following = None
                if raw.next is not None and not stop:
                    target, query, following = follow(raw.next, path=self._path, params=params)
                await self._emit(
                    chain,
                    Page(results=results, count=raw.count, next=raw.next, previous=raw.previous),
                    _Mark(
                        next=following,
                        after=chain.progress,
                        ascending=chain.ascending,
                        page=here,
                        skipped=dropped,
                        pending=chain.skip,
                    ),
                )
                if following is None:
                    break
                identity = here = following
                if identity in seen:
                    raise PaginationLoopError(path=self._path, cursor=identity, pages=len(seen) + 1)
                seen.add(identity)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the consumer, raised there
            self._end_turn(chain)
            await self._fail(exc)
            return
        chain.done = True
        self._changed.set()
        self._end_turn(chain)
        if self._plan.ordered:
            return
        if all(c.done for c in self._chains):
            await self._queue.put(None)

    # -- output -----------------------------------------------------------------------------

    async def _fail(self, exc: BaseException) -> None:
        if self._plan.ordered:
            self._error = exc
            self._changed.set()
        else:
            await self._queue.put(exc)

    def _head_index(self) -> int:
        """Where the first chain the output still needs stands (``len(chains)`` if none)."""
        for index, chain in enumerate(self._chains):
            if not chain.done or chain.pages:
                return index
        return len(self._chains)

    def _head(self) -> _Chain[T] | None:
        index = self._head_index()
        return self._chains[index] if index < len(self._chains) else None

    async def _emit(self, chain: _Chain[T], page: Page[T], mark: _Mark) -> None:
        if not self._plan.ordered:
            await self._queue.put((chain, page, mark))  # empty too: it moves the chain on
            return
        self._release(chain)
        chain.pages.append((page, mark))
        self._buffered += len(page.results)
        self._stats.peak_buffered = max(self._stats.peak_buffered, self._buffered)
        self._changed.set()

    def resume_token(self, cut: int | None = None) -> str | None:
        """The token that lists what the consumer has not been handed yet; None when nothing
        was handed over (start again) or everything was. ``cut``: the consumer took only that
        many items of the page handed over last (the rest of it is still to hand over)."""
        if not self._chains:
            return None if self._resume is None else make_token(self._identity, self._resume)
        shards: list[OpenShard] = []
        handed = self._resume is not None
        partial = self._last if cut is not None else None
        for chain in self._chains:
            done = chain.handed
            handed = handed or done.any
            if partial is not None and partial[0] is chain:
                # Back to the page in the consumer's hands: its cursor, less what was taken.
                # A split never fell inside it (splits fall after everything read).
                mark = partial[1]
                shards.append(
                    OpenShard(
                        start=chain.start,
                        end=chain.end,
                        cutoff=chain.cutoff,
                        cursor=mark.page,
                        skip=mark.skipped + (cut or 0),
                        after=mark.after,
                        ascending=mark.ascending,
                    )
                )
                continue
            if done.finished:
                continue
            if done.any:
                shards.append(
                    OpenShard(
                        start=chain.start,
                        end=chain.end,
                        cutoff=chain.cutoff,
                        cursor=done.cursor,
                        skip=done.skip,
                        after=done.after,
                        ascending=done.ascending,
                    )
                )
            elif chain.start < chain.cutoff:  # nothing handed over: its owned window, afresh
                last = shards[-1] if shards else None
                if last is not None and last.fresh and last.cutoff == chain.start:
                    shards[-1] = OpenShard(start=last.start, end=chain.cutoff, cutoff=chain.cutoff)
                else:
                    shards.append(
                        OpenShard(start=chain.start, end=chain.cutoff, cutoff=chain.cutoff)
                    )
        if not shards or not handed:
            return None
        return make_token(self._identity, shards)

    def _resumed(self, shards: list[OpenShard]) -> list[_Chain[T]]:
        """The chains of a resumed listing: open shards go on from their cursor; windows read
        from their start are cut as a fresh listing's would be."""
        fresh = [s.cutoff - s.start for s in shards if s.fresh]
        total = sum(fresh, timedelta(0))
        wanted = self._plan.concurrency * SHARDS_PER_SLOT
        chains: list[_Chain[T]] = []
        for shard in shards:
            if not shard.fresh:
                chain = _Chain[T](
                    start=shard.start,
                    end=shard.end,
                    cutoff=shard.cutoff,
                    cursor=shard.cursor,
                    skip=shard.skip,
                    progress=shard.after,  # a split never falls before what was handed over
                    # A page read again from its start goes back in time to its first item.
                    last=None if shard.after is None or shard.skip else (shard.after, ""),
                    ascending=shard.ascending,
                )
                chain.handed = _Handed(
                    any=True,
                    cursor=shard.cursor,
                    skip=shard.skip,
                    after=shard.after,
                    ascending=shard.ascending,
                )
                chains.append(chain)
                continue
            pieces = 1  # alone and adaptive: one chain first, cut to fit by its first page
            if not (self._plan.adaptive and len(shards) == 1):
                pieces = max(1, round(wanted * ((shard.cutoff - shard.start) / total)))
            for start, end in initial_shards(shard.start, shard.cutoff, pieces):
                chains.append(_Chain[T](start=start, end=end, cutoff=end))
        return chains

    async def pages(self) -> AsyncGenerator[Page[T]]:
        if self._resume is not None:
            for chain in self._resumed(self._resume):
                self._add(chain)
        else:
            for start, end in self._initial():
                self._add(_Chain[T](start=start, end=end, cutoff=end))
        log.debug(
            "%s: listing [%s, %s) in %d shards",
            self._resource,
            self._plan.start.isoformat(),
            self._plan.end.isoformat(),
            len(self._chains),
        )
        try:
            if self._plan.ordered:
                async with aclosing(self._ordered()) as ordered:
                    async for page in ordered:
                        yield page
            else:
                while True:
                    item = await self._queue.get()
                    if item is None:
                        return
                    if isinstance(item, BaseException):
                        raise item
                    chain, page, mark = item
                    chain.handed.take(mark)
                    if page.results:
                        self._last = (chain, mark)
                        yield page
        except BessaError as exc:
            exc.resume_cursor = self.resume_token()
            raise
        finally:
            tasks = [c.task for c in self._chains if c.task is not None and not c.task.done()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _initial(self) -> list[tuple[datetime, datetime]]:
        if self._plan.adaptive:
            # One chain over the whole window first: its first page says how many items there
            # are, and the window is then cut to fit (one request for a small window).
            return [(self._plan.start, self._plan.end)]
        return initial_shards(
            self._plan.start, self._plan.end, self._plan.concurrency * SHARDS_PER_SLOT
        )

    async def _ordered(self) -> AsyncGenerator[Page[T]]:
        while True:
            if self._error is not None:
                raise self._error
            head = self._head()
            if head is None:
                return
            if head.pages:
                entry = head.pages.pop(0)
                if isinstance(entry, BaseException):
                    raise entry
                page, mark = entry
                head.handed.take(mark)
                self._buffered -= len(page.results)
                self._dispatch()  # room in the buffer: chains held back may go on
                if page.results:
                    self._last = (head, mark)
                    yield page
                    # A backlog of buffered pages would otherwise be handed over without ever
                    # suspending, starving the chains: their answers wait unread, no request
                    # goes out, and the latency stops overlapping.
                    await asyncio.sleep(0)
                continue
            self._changed.clear()
            await self._changed.wait()


def listing_identity(request: ListingRequest[Any], plan: ShardPlan) -> ListingIdentity:
    """What a sharded listing's resume token must match: resource, window, order, query."""
    return identity_of(
        request.resource,
        field=plan.field,
        start=plan.start,
        end=plan.end,
        ordered=plan.ordered,
        params=request.params,
    )


def sharded_pages(
    request: ListingRequest[T],
    *,
    plan: ShardPlan,
    when: Callable[[Any], datetime | None],
    ident: Callable[[Any], str],
    resume: Sequence[OpenShard] | None = None,
    identity: ListingIdentity | None = None,
) -> Callable[[ListingStats], Resumable[T]]:
    """A page source for :class:`~bessa_async.Paginator` that reads ``plan``'s shards (or,
    with ``resume``, the shards a resume token left open).

    ``when`` and ``ident`` read an item's business time and identity from its raw JSON (the
    chains decide what they own before decoding it); ``identity`` is the listing's
    (:func:`listing_identity`, when the caller has it already).
    """
    if identity is None:
        identity = listing_identity(request, plan)

    def start(stats: ListingStats) -> Resumable[T]:
        return _Listing(
            request,
            plan=plan,
            identity=identity,
            when=when,
            ident=ident,
            stats=stats,
            resume=resume,
        )

    return start


def raw_time(field: str) -> Callable[[Any], datetime | None]:
    """An item's business time from its raw JSON (None if absent or unreadable: the item's
    decoding then says what is wrong)."""

    def when(item: Any) -> datetime | None:
        return instant(item.get(field)) if isinstance(item, dict) else None

    return when


def raw_identity(item: Any) -> str:
    """An item's identity from its raw JSON, for the sharded listing's duplicate check."""
    if not isinstance(item, dict):
        return repr(item)
    ident = item.get("id")
    if ident is None:  # stock levels: no id of their own, one per article and location
        return f"{item.get('article')}/{item.get('location')}"
    return str(ident)


def plan_shards(
    query: Mapping[str, Any],
    windows: Sequence[str],
    *,
    concurrency: int,
    ordered: bool,
    resource: str,
) -> ShardPlan | None:
    """How to shard a listing of ``query`` by the first of ``windows`` it bounds on both ends,
    or None for a single chain (a bound is missing)."""
    page_size = query.get("limit", DRF_PAGE_SIZE)
    for field in windows:
        adaptive = field != "updated"  # the business time; changes are too uneven to adapt
        start, end = query.get(f"{field}__gte"), query.get(f"{field}__lt")
        if isinstance(start, datetime) and isinstance(end, datetime):
            return ShardPlan(
                field=field,
                start=start.astimezone(UTC),
                end=end.astimezone(UTC),
                concurrency=concurrency,
                ordered=ordered,
                adaptive=adaptive,
                page_size=page_size,
            )
    log.debug("%s: concurrency needs both bounds of a window; one chain", resource)
    return None


def shard_listing(
    request: ListingRequest[T],
    windows: Sequence[str],
    *,
    concurrency: int,
    ordered: bool,
) -> tuple[ListingRequest[T], Callable[[ListingStats], Resumable[T]] | None]:
    """How a listing is read: ``request`` as one chain (sharded source None), or a sharded
    source over the first of ``windows`` both bounded when ``concurrency`` > 1 or its
    ``cursor`` is a sharded listing's resume token (read at any concurrency).

    Returns:
        The request to read (a resume token taken out of its query) and the sharded source.

    Raises:
        ResumeTokenError: a resume token without both bounds of its window, or of another
            listing (nothing is sent).
        InvalidValueError: an API cursor together with ``concurrency`` > 1.
    """
    query = request.params
    cursor = query.get("cursor")
    token = cursor if is_listing_token(cursor) else None
    if concurrency == 1 and token is None:
        return request, None
    plan = plan_shards(
        query, windows, concurrency=concurrency, ordered=ordered, resource=request.resource
    )
    if token is not None:
        request = request.with_params({k: v for k, v in query.items() if k != "cursor"})
        if plan is None:
            raise ResumeTokenError(
                "this cursor is a sharded listing's resume token: resume it with the "
                "same window (both bounds) and filters (nothing was sent)"
            )
    if plan is None:
        return request, None
    if "cursor" in request.params:
        raise InvalidValueError(
            "cursor= and concurrency= cannot be combined: a cursor is a position "
            "in one chain; a sharded listing resumes from its own resume_cursor"
        )
    identity = listing_identity(request, plan)
    resume = None if token is None else read_token(token, identity)
    source = sharded_pages(
        request,
        plan=plan,
        when=raw_time(plan.field),
        ident=raw_identity,
        resume=resume,
        identity=identity,
    )
    return request, source
