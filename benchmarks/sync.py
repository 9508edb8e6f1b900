"""S1, S2: what an incremental sync (``resource.changes()``) costs, against re-listing.

What is measured
----------------
* **S1, steady state.** Against an unchanged tenant, a run from the checkpoint of a complete
  first load, for every resource ``bessa sync`` follows (receipts and each master-data resource),
  at ``bessa sync``'s default concurrency. Target: at most 2 requests per resource. Baseline:
  a full re-list of the resource (what a copy without a changes feed has to do to find edits).
* **S2, a day of changes.** A tenant of ``--receipts`` (20,000) receipts; ``since`` is the
  ``updated`` of the ``--changed``-th (2,000th) newest, so a run from it reads those receipts,
  in pages of ``--page-size`` (100), at ``concurrency=1`` and ``4``. Target: at most
  ``changed ÷ page size + 2`` requests (22) plus the overlap's cost, which the next run from the
  checkpoint shows (re-reading the last ``overlap`` before the watermark; the items it finds
  again are skipped). Baseline: a full re-list of the tenant's receipts.

Requests are counted on the client (every HTTP attempt, by hooks); times are wall clock, the
median of ``--repeats`` (5) after one warm-up, the sides alternated. The ratios are baseline ÷
feed (requests, time) in the same run against the same sandbox process, so above 1 means the
feed is cheaper.

Run: ``python benchmarks/sync.py [--receipts N] [--no-write]`` or ``run.py --only S``; the
figures go into ``benchmarks/README.md`` between the sync markers unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harness import SandboxInfo, sandbox_process
from report import README, command_line, machine_facts, preamble, source_state, write_section

from bessa_async import DEFAULT_OVERLAP, BessaClient
from bessa_async._cli.sync import DEFAULT_CONCURRENCY, SYNCABLE
from bessa_async._instrument.summary import RequestTally

BEGIN_MARK = "<!-- sync:begin (written by benchmarks/sync.py; edits here are overwritten) -->"
END_MARK = "<!-- sync:end -->"
STEADY_CONCURRENCY = DEFAULT_CONCURRENCY  # as bessa sync runs


@dataclass(frozen=True)
class Cost:
    """One side's repetitions: requests (the same each time, checked), items and wall times."""

    requests: int
    items: int
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass(frozen=True)
class Row:
    scenario: str
    workload: str
    feed_name: str
    feed: Cost
    baseline: Cost
    target: int | None  # most requests the feed may send (None: no target)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.feed.requests <= self.target


@dataclass(frozen=True)
class SyncResults:
    receipts: int
    changed: int
    page_size: int
    repeats: int
    steady: list[Row]
    day: list[Row]
    next_run: int
    """Requests of the run after S2's, from its checkpoint: what the overlap costs here."""

    def lines(self) -> list[str]:
        return [*table(self.steady), "", *table(self.day), "", *notes(self)]


Run = Callable[[], Awaitable[int]]


async def _once(run: Run, tally: RequestTally) -> tuple[float, int, int]:
    gc.collect()
    before = tally.requests
    started = time.perf_counter()
    items = await run()
    return time.perf_counter() - started, tally.requests - before, items


async def _sides(runs: Sequence[Run], tally: RequestTally, repeats: int) -> list[Cost]:
    """Warm each side up once, then alternate them ``repeats`` times; the requests and items
    of a side must be the same in every repetition."""
    found: list[list[tuple[float, int, int]]] = [[await _once(run, tally)] for run in runs]
    for i in range(repeats):
        order = list(range(len(runs)))
        for k in order[i % len(runs) :] + order[: i % len(runs)]:
            found[k].append(await _once(runs[k], tally))
    costs = []
    for rounds in found:
        counts = {(requests, items) for _, requests, items in rounds}
        if len(counts) != 1:
            raise RuntimeError(f"repetitions differ in requests or items: {sorted(counts)}")
        ((requests, items),) = counts
        costs.append(Cost(requests, items, [s for s, _, _ in rounds[1:]]))
    return costs


def _relist(client: BessaClient, name: str, page_size: int) -> Run:
    async def run() -> int:
        count = 0
        async for _ in getattr(client, name).list(limit=page_size):
            count += 1
        return count

    return run


def _feed(
    client: BessaClient, name: str, since: str | datetime | None, page_size: int, concurrency: int
) -> Run:
    async def run() -> int:
        feed = getattr(client, name).changes(since, limit=page_size, concurrency=concurrency)
        count = 0
        async for batch in feed:
            count += len(batch.items)
        return count

    return run


async def _checkpoint_after(run: Callable[[], Any]) -> str:
    feed = run()
    async for _ in feed:
        pass
    return str(feed.checkpoint)


async def bench_sync(
    info: SandboxInfo, *, receipts: int, changed: int, page_size: int, repeats: int
) -> SyncResults:
    tally = RequestTally()
    async with BessaClient(info.token, base_url=info.url, hooks=tally.hooks()) as client:
        steady = []
        for name in SYNCABLE:
            resource = getattr(client, name)
            checkpoint = await _checkpoint_after(
                lambda r=resource: r.changes(limit=page_size, concurrency=STEADY_CONCURRENCY)
            )
            feed, baseline = await _sides(
                [
                    _feed(client, name, checkpoint, page_size, STEADY_CONCURRENCY),
                    _relist(client, name, page_size),
                ],
                tally,
                repeats,
            )
            steady.append(
                Row(
                    "S1 steady state",
                    f"{name}: {baseline.items:,} items, unchanged",
                    f"changes(since=checkpoint, concurrency={STEADY_CONCURRENCY})",
                    feed,
                    baseline,
                    2,
                )
            )
        stamps = sorted([r.updated async for r in client.receipts.list(limit=500)], reverse=True)
        since = stamps[min(changed, len(stamps)) - 1]
        expected = sum(1 for stamp in stamps if stamp >= since)
        day = []
        for concurrency in (1, 4):
            feed, baseline = await _sides(
                [
                    _feed(client, "receipts", since, page_size, concurrency),
                    _relist(client, "receipts", page_size),
                ],
                tally,
                repeats,
            )
            if feed.items != expected:
                raise RuntimeError(f"the feed delivered {feed.items} receipts, not {expected}")
            day.append(
                Row(
                    "S2 a day of changes",
                    f"{expected:,} of {baseline.items:,} receipts changed, pages of {page_size}",
                    f"changes(since=T, concurrency={concurrency})",
                    feed,
                    baseline,
                    -(-expected // page_size) + 2,
                )
            )
        checkpoint = await _checkpoint_after(
            lambda: client.receipts.changes(since, limit=page_size)
        )
        before = tally.requests
        await _feed(client, "receipts", checkpoint, page_size, 1)()
        next_run = tally.requests - before
    return SyncResults(receipts, expected, page_size, repeats, steady, day, next_run)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def table(rows: Sequence[Row]) -> list[str]:
    lines = [
        "| Scenario | Workload | Feed | Requests (target) | Time | Full re-list: requests "
        "| Time | Requests ratio | Time ratio |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        target = "" if row.target is None else f" (≤ {row.target})"
        lines.append(
            f"| {row.scenario} | {row.workload} | `{row.feed_name}` | "
            f"{row.feed.requests}{target} | {_ms(row.feed.median)} | {row.baseline.requests} | "
            f"{_ms(row.baseline.median)} | **{row.baseline.requests / row.feed.requests:.1f}x** | "
            f"**{row.baseline.median / row.feed.median:.1f}x** |"
        )
    return lines


def notes(results: SyncResults) -> list[str]:
    rows = [*results.steady, *results.day]
    missed = [row for row in rows if row.met is False]
    verdict = (
        "met: every run within its request target"
        if not missed
        else "missed: " + "; ".join(f"{r.workload} {r.feed_name}" for r in missed)
    )
    overlap = int(DEFAULT_OVERLAP.total_seconds())
    chains = [row for row in results.day if row.met is False]
    why = [
        f"- `{row.feed_name}` sends a one-item probe first (the server's time and the earliest "
        "change, to split the pass by `timestamp`), and each chain ends on a part-filled page: "
        f"{row.feed.requests} requests where one chain sends {results.day[0].feed.requests}"
        for row in chains
    ]
    return [
        f"- {verdict}",
        *why,
        f"- The overlap's cost: the run after S2's, from its checkpoint, sent "
        f"{results.next_run} request(s): it re-reads the {overlap} s before the watermark "
        "(nothing here: the sandbox's receipts were changed long before) and skips what it "
        "delivered already",
    ]


def section(results: SyncResults, command: str) -> str:
    facts = machine_facts()
    lines = [
        *preamble(BEGIN_MARK, command),
        f"- Machine: {facts['cores']} cores, {facts['cpu']}, {facts['os']}",
        f"- Versions: {facts['python']}, aiohttp {facts['aiohttp']}, "
        f"bessa_async {facts['bessa_async']}",
        f"- Source: {source_state()}",
        f"- Sandbox in its own process, {results.receipts:,} receipts; times: median of "
        f"{results.repeats} after one warm-up, sides alternated; ratio = re-list ÷ feed",
        "",
        *results.lines(),
        "",
        END_MARK,
    ]
    return "\n".join(lines)


def run_sync(
    *, receipts: int, changed: int, page_size: int, repeats: int, startup_timeout: float
) -> SyncResults:
    """Start a sandbox process and measure S1 and S2 against it."""
    print(f"S1, S2: starting a sandbox with {receipts} receipts ...", flush=True)
    with sandbox_process(receipts=receipts, latency_ms=0, startup_timeout=startup_timeout) as info:
        return asyncio.run(
            bench_sync(
                info, receipts=receipts, changed=changed, page_size=page_size, repeats=repeats
            )
        )


def write(results: SyncResults, command: str) -> None:
    text = section(results, command)
    write_section(text, begin_mark=BEGIN_MARK, end_mark=END_MARK, heading="Sync figures")
    print(f"sync figures written to {README}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/sync.py",
        description="S1, S2: requests and time of incremental sync against re-listing.",
    )
    parser.add_argument("--receipts", type=int, default=20_000, help="the tenant's (20000)")
    parser.add_argument("--changed", type=int, default=2_000, help="changed since T (2000)")
    parser.add_argument("--page-size", type=int, default=100, help="limit= of every page (100)")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions per side (5)")
    parser.add_argument("--startup-timeout", type=float, default=120.0)
    parser.add_argument("--no-write", action="store_true", help="do not touch README.md")
    args = parser.parse_args(argv)
    if min(args.receipts, args.changed, args.page_size, args.repeats) < 1:
        raise SystemExit("sizes and repetitions must be positive")
    results = run_sync(
        receipts=args.receipts,
        changed=args.changed,
        page_size=args.page_size,
        repeats=args.repeats,
        startup_timeout=args.startup_timeout,
    )
    print("\n".join(results.lines()))
    if not args.no_write:
        write(results, command_line("benchmarks/sync.py", argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
