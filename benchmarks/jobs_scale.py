"""P3 on injected time: 10,000 jobs on an offline till for an hour, and every list filter ignored.

Both run an in-process sandbox and the client on one :class:`~bessa_async.testing.FakeClock`,
so an hour takes seconds and every figure is in simulated time (requests are instant on it):

* **offline**: 10,000 orders, submitted over ten simulated minutes, wait on tills that are all
  offline; an hour after the waits start (at the first poll sleep that reaches it) the tills
  come back and each job takes 2 s. Figures: GETs per second over the offline hour, and for
  each job the delay from its completion to its detection, against the poll ceiling.
* **drift**: 1,000 orders finishing after U(0.2 s, 3 s) against a sandbox
  that ignores ``status``, ``updated__gte``, ``sales_point`` and ``reference`` on the jobs lists,
  with the library as shipped and, on a sandbox that honours them, with per-job polling.

Run on its own: ``python benchmarks/jobs_scale.py [OFFLINE_JOBS [DRIFT_JOBS]]``; ``jobs.py``
runs it and writes the figures.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bessa_async import DEFAULT_POLL, BessaClient, JobHandle, Order, OrderLine
from bessa_async.testing import FakeClock, Sandbox
from bessa_async.testing._drift import Drift

IGNORED = frozenset({"status", "updated__gte", "sales_point", "reference"})


@dataclass
class Sim:
    name: str
    jobs: int
    gets: int
    list_gets: int
    seconds: float
    lags: list[float]
    completed: int

    @property
    def per_job(self) -> float:
        return self.gets / self.jobs

    @property
    def rate(self) -> float:
        return self.gets / self.seconds if self.seconds else 0.0


def _order(sb: Sandbox) -> Order:
    point = next(p["id"] for p in sb.data.sales_points if p["status"] == "active")
    article = next(a["id"] for a in sb.data.articles if a["active"] and a["type"] == "standard")
    return Order(sales_point=point, lines=[OrderLine(article=article, quantity=Decimal(1))])


async def _submit(
    client: BessaClient, sb: Sandbox, count: int, clock: FakeClock, spread: float = 0.0
) -> list[tuple[JobHandle, float]]:
    """Submit ``count`` orders over ``spread`` simulated seconds; each handle with the clock
    time of its creation."""
    out: list[tuple[JobHandle, float]] = []

    async def one() -> None:
        handle = await client.orders.submit(_order(sb))
        out.append((handle, clock()))

    for start in range(0, count, 100):
        await asyncio.gather(*(one() for _ in range(min(100, count - start))))
        clock.advance(spread * 100 / count)
    return out


async def _wait_all(
    client: BessaClient, submitted: list[tuple[JobHandle, float]]
) -> tuple[list[float], int]:
    """Wait for every job; the lag of each (detection - completion, simulated seconds)."""
    clock = client._jobs.clock
    lags: list[float] = []
    completed = 0

    async def one(handle: JobHandle, born: float) -> None:
        nonlocal completed
        job = await handle.wait()
        seen = clock()
        assert job.created is not None
        assert job.updated is not None
        lags.append(seen - (born + (job.updated - job.created).total_seconds()))
        completed += 1

    await asyncio.gather(*(one(h, born) for h, born in submitted))
    return lags, completed


async def offline_hour(jobs: int, hour: float = 3600.0) -> tuple[Sim, float]:
    """Jobs waiting on offline tills for ``hour`` simulated seconds, then the tills return."""
    clock = FakeClock()
    back: list[float] = []
    until = [float("inf")]
    async with Sandbox(receipts=10, clock=clock, job_delay=1, job_expiry=10 * hour) as sb:
        sb.set_sales_point_online(None, online=False)

        async def sleep(seconds: float) -> None:
            await clock.sleep(seconds)
            if not back and clock() >= until[0]:
                back.append(clock())
                sb.set_sales_point_online(None, online=True)

        async with BessaClient(sb.token, base_url=sb.url, clock=clock, sleep=sleep) as client:
            # A busy evening: the orders come in over ten minutes, not in one instant.
            submitted = await _submit(client, sb, jobs, clock, spread=600.0)
            start = clock()
            until[0] = start + hour
            mark = len(sb.requests)
            lags, completed = await _wait_all(client, submitted)
        polls = [r for r in sb.requests[mark:] if r.method == "GET" and r.time < back[0]]
        lists = [r for r in polls if r.path == "requests/orders/"]
    sim = Sim("offline hour", jobs, len(polls), len(lists), back[0] - start, lags, completed)
    return sim, DEFAULT_POLL.ceiling


async def finishing(jobs: int, *, ignored: frozenset[str], batch: bool, name: str) -> Sim:
    """Jobs finishing after U(0.2 s, 3 s), the list filters ``ignored`` by the sandbox."""
    clock = FakeClock()
    drift: Any = Drift(bare_cursors=False, ignored_filters=ignored) if ignored else False
    async with Sandbox(receipts=10, clock=clock, job_duration=(0.2, 3.0), drift=drift) as sb:
        async with BessaClient(sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep) as client:
            client._jobs.scheduler.batch = batch
            submitted = await _submit(client, sb, jobs, clock)
            mark, start = len(sb.requests), clock()
            lags, completed = await _wait_all(client, submitted)
            seconds = clock() - start
        gets = [r for r in sb.requests[mark:] if r.method == "GET"]
        lists = [r for r in gets if r.path == "requests/orders/"]
    return Sim(name, jobs, len(gets), len(lists), seconds, lags, completed)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def lines(offline: Sim, ceiling: float, drifted: Sim, per_job: Sim) -> list[str]:
    """The section's lines for both scenarios, with their verdicts."""
    worst = max(offline.lags)
    rows = [
        f"**Offline till, injected time**: {offline.jobs:,} orders (submitted over ten simulated "
        f"minutes) waiting on offline tills for {offline.seconds:,.0f} simulated seconds, "
        "then back (2 s per job):",
        "",
        "| GETs during the offline hour (list pages) | GETs per second | Completed "
        "| Mean detection after completion | Max | Poll ceiling |",
        "|--:|--:|--:|--:|--:|--:|",
        f"| {offline.gets:,} ({offline.list_gets:,}) | {offline.rate:.3f} | "
        f"{offline.completed:,}/{offline.jobs:,} | {statistics.mean(offline.lags):.2f} s | "
        f"{worst:.2f} s | {ceiling:g} s |",
        "",
        f"- {'met' if offline.rate <= 1 else '**missed**'}: {offline.rate:.3f} requests per "
        "second <= 1 over the hour (per-job polling at the ceiling: "
        f"{offline.jobs / ceiling:,.0f} per second)",
        f"- {'met' if worst <= ceiling else '**missed**'}: every job detected within the poll "
        f"ceiling after the till came back (worst {worst:.2f} s <= {ceiling:g} s)",
        "",
        f"**Every list filter ignored (drift), injected time**: {drifted.jobs:,} orders finishing "
        "after U(0.2 s, 3 s); the sandbox ignores `status`, `updated__gte`, `sales_point`, "
        "`reference` on the jobs list:",
        "",
        "| Client | Completed | GETs per job (list pages) | Mean lag | p95 lag |",
        "|---|--:|--:|--:|--:|",
    ]
    for sim in (drifted, per_job):
        ordered = sorted(sim.lags)
        p95 = ordered[max(0, int(0.95 * len(ordered)) - 1)]
        rows.append(
            f"| {sim.name} | {sim.completed:,}/{sim.jobs:,} | {sim.per_job:.2f} "
            f"({sim.list_gets}) | {_ms(statistics.mean(sim.lags))} | {_ms(p95)} |"
        )
    ok = (
        drifted.completed == drifted.jobs
        and drifted.per_job <= per_job.per_job
        and statistics.mean(drifted.lags) <= statistics.mean(per_job.lags) + 0.05
    )
    rows += [
        "",
        f"- {'met' if ok else '**missed**'}: with every filter ignored, all jobs complete with "
        "no more GETs per job and no more lag (within 50 ms) than per-job polling",
    ]
    return rows


async def run(offline_jobs: int = 10_000, drift_jobs: int = 1000) -> list[str]:
    """Both scenarios; the section's lines."""
    steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("offline", lambda: offline_hour(offline_jobs)),
        ("drift", lambda: finishing(drift_jobs, ignored=IGNORED, batch=True, name="drift")),
        ("per-job", lambda: finishing(drift_jobs, ignored=frozenset(), batch=False, name="x")),
    ]
    results = []
    for name, step in steps:
        print(f"P3 {name} (injected time) ...", flush=True)
        results.append(await step())
    (offline, ceiling), drifted, per_job = results
    drifted.name = "bessa_async (jobs list), every filter ignored"
    per_job.name = "bessa_async, per-job polling (before), filters honoured"
    return lines(offline, ceiling, drifted, per_job)


if __name__ == "__main__":
    print("\n".join(asyncio.run(run(*(int(a) for a in sys.argv[1:3])))))
