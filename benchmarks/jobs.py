"""P3: waiting for 1,000 jobs at once: the jobs-list rounds, per-job polling, a naive peer.

What is measured
----------------
``--jobs`` (1,000) orders are submitted at once to a sandbox whose Sales Points take a processing
time drawn uniformly from ``[--min, --max]`` seconds (0.2 s to 3 s) per job, and each caller waits
for its job's result. For every job:

* **processing time**: from the job's ``created`` to the moment it completed, both stamped by the
  sandbox (it stamps a status change with the moment it happened, not the moment it was read);
* **detection lag**: from that completion to the moment the caller's ``wait()`` returned (wall
  clock of this machine, which the sandbox process shares);
* **GETs per job**: every GET after the setup (job URLs and pages of the jobs list) divided by
  the jobs;
* **peak requests in flight**: requests holding a connection at once, counted by an aiohttp
  trace on the client's session (requests queued for a connection are not in flight).

The library runs with its defaults (``max_in_flight=16``, the default :class:`PollPolicy`),
once as shipped (several waiting jobs read from the jobs list) and once with the scheduler's
per-job polling (``scheduler.batch = False``, the behaviour before the jobs-list rounds). The
naive peer is what many SDKs do (``while not done: sleep(1); retrieve()``): raw aiohttp with its
default connector (at most 100 connections), each job polled every second.

Targets (the library as shipped): all jobs complete; mean lag <= 100 ms; p95 lag <= 250 ms;
<= 1 GET per job on average; never more requests in flight than configured. The scenarios on
injected time (an offline till for an hour, every list filter ignored) are in
``jobs_scale.py``; this script runs them too and writes their figures in the same section.

The sandbox runs in its own process (``python -m bessa_async.testing --job-duration-min ...``), a
fresh one per side. Run: ``python benchmarks/jobs.py [--jobs N] [--no-write]``; the figures go
into ``benchmarks/README.md`` between the P3 markers unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import jobs_scale
from harness import SandboxInfo
from harness import sandbox_process as run_sandbox
from report import README, command_line, preamble, write_section

from bessa_async import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_POLL,
    BessaClient,
    Order,
    OrderLine,
    __version__,
)

BEGIN_MARK = "<!-- jobs:begin (written by benchmarks/jobs.py; edits here are overwritten) -->"
END_MARK = "<!-- jobs:end -->"
_FINISHED = frozenset({"completed", "failed", "expired", "cancelled"})


# --------------------------------------------------------------------------- the sandbox process


@contextlib.contextmanager
def sandbox_process(*, low: float, high: float, seed: int, timeout: float) -> Iterator[SandboxInfo]:
    """A sandbox in a child process whose jobs take U(low, high) seconds; stopped at the end."""
    options = [
        "--seed",
        str(seed),
        "--job-duration-min",
        f"{low:g}",
        "--job-duration-max",
        f"{high:g}",
    ]
    with run_sandbox(receipts=10, latency_ms=0, startup_timeout=timeout, extra=options) as info:
        yield info


# --------------------------------------------------------------------------- measuring


@dataclass
class Wire:
    """Requests seen by an aiohttp trace: in flight now, the peak, and totals by kind."""

    in_flight: int = 0
    peak: int = 0
    posts: int = 0
    job_gets: int = 0
    list_gets: int = 0
    other: int = 0

    def trace(self) -> aiohttp.TraceConfig:
        """Count a request as in flight from the moment it has a connection to its end."""
        config = aiohttp.TraceConfig()
        on_wire: set[int] = set()

        async def start(_: Any, ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
            if params.method == "POST":
                self.posts += 1
            elif params.method == "GET" and params.url.path.count("/") >= 6:
                self.job_gets += 1  # /v1/public/requests/orders/<id>/
            elif params.method == "GET" and params.url.path.endswith("/requests/orders/"):
                self.list_gets += 1
            else:
                self.other += 1

        async def connected(_: Any, ctx: Any, __: Any) -> None:
            on_wire.add(id(ctx))
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

        async def end(_: Any, ctx: Any, __: Any) -> None:
            if id(ctx) in on_wire:
                on_wire.discard(id(ctx))
                self.in_flight -= 1

        config.on_request_start.append(start)
        config.on_connection_create_end.append(connected)
        config.on_connection_reuseconn.append(connected)
        config.on_request_end.append(end)
        config.on_request_exception.append(end)
        return config

    def reset(self) -> None:
        """Forget the counts so far (the setup's requests)."""
        self.peak = self.in_flight
        self.posts = self.job_gets = self.list_gets = self.other = 0


@dataclass
class Side:
    name: str
    processing: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    completed: int = 0
    wall: float = 0.0
    wire: Wire = field(default_factory=Wire)
    limit: int = 0

    def p(self, q: float) -> float:
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _record(side: Side, job: dict[str, Any], notified: datetime) -> None:
    created, updated = _stamp(job["created"]), _stamp(job["updated"])
    side.processing.append((updated - created).total_seconds())
    side.lags.append((notified - updated).total_seconds())
    if job["status"] == "completed":
        side.completed += 1


async def _catalog(session: aiohttp.ClientSession, info: SandboxInfo) -> tuple[str, str]:
    headers = {"Authorization": f"Token {info.token}"}
    async with session.get(f"{info.url}sales-points/", headers=headers) as resp:
        points = (await resp.json())["results"]
    async with session.get(f"{info.url}articles/?active=true&limit=100", headers=headers) as resp:
        articles = (await resp.json())["results"]
    point = next(p["id"] for p in points if p["status"] == "active")
    article = next(a["id"] for a in articles if a["type"] == "standard")
    return point, article


async def run_library(info: SandboxInfo, jobs: int, *, batch: bool = True) -> Side:
    """Every caller: ``handle = await client.orders.submit(...)``; ``await handle.wait()``."""
    name = "bessa_async (jobs list)" if batch else "bessa_async, per-job polling (before)"
    side = Side(name, limit=DEFAULT_MAX_IN_FLIGHT)
    async with aiohttp.ClientSession(trace_configs=[side.wire.trace()]) as session:
        point, article = await _catalog(session, info)
        side.wire.reset()
        async with BessaClient(info.token, base_url=info.url, session=session) as client:
            client._jobs.scheduler.batch = batch

            async def one() -> None:
                order = Order(
                    sales_point=point, lines=[OrderLine(article=article, quantity=Decimal(1))]
                )
                handle = await client.orders.submit(order)
                job = await handle.wait(timeout=120)
                notified = datetime.now(UTC)
                raw = {
                    "created": job.created.isoformat() if job.created else "",
                    "updated": job.updated.isoformat() if job.updated else "",
                    "status": str(job.status),
                }
                _record(side, raw, notified)

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(jobs)))
            side.wall = time.perf_counter() - started
    return side


async def run_naive(info: SandboxInfo, jobs: int, period: float) -> Side:
    """Every caller: POST, then ``while not finished: sleep(period); GET``."""
    side = Side(f"naive peer (poll every {period:g} s)", limit=100)
    headers = {"Authorization": f"Token {info.token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers, trace_configs=[side.wire.trace()]) as session:
        point, article = await _catalog(session, info)
        side.wire.reset()

        async def one() -> None:
            body = {
                "sales_point": point,
                "reference": f"naive-{uuid.uuid4().hex}",
                "lines": [{"article": article, "quantity": "1"}],
            }
            async with session.post(f"{info.url}requests/orders/", json=body) as resp:
                job = await resp.json()
            url = f"{info.url}requests/orders/{job['id']}/"
            while job["status"] not in _FINISHED:
                await asyncio.sleep(period)
                async with session.get(url) as resp:
                    job = await resp.json()
            _record(side, job, datetime.now(UTC))

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(jobs)))
        side.wall = time.perf_counter() - started
    return side


# --------------------------------------------------------------------------- reporting


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def table(sides: Sequence[Side]) -> list[str]:
    rows = [
        "| Client | Completed | Mean processing | Mean lag | p50 lag | p95 lag | Max lag "
        "| GETs per job (list pages) | Peak in flight (limit) | Wall time |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for side in sides:
        n = len(side.lags)
        rows.append(
            f"| {side.name} | {side.completed}/{n} | {_ms(statistics.mean(side.processing))} | "
            f"{_ms(statistics.mean(side.lags))} | {_ms(side.p(0.5))} | {_ms(side.p(0.95))} | "
            f"{_ms(max(side.lags))} | {_gets(side) / n:.2f} ({side.wire.list_gets}) | "
            f"{side.wire.peak} ({side.limit}) | {side.wall:.1f} s |"
        )
    return rows


def _gets(side: Side) -> int:
    return side.wire.job_gets + side.wire.list_gets


def verdict(side: Side) -> list[str]:
    mean_lag = statistics.mean(side.lags)
    gets = _gets(side) / len(side.lags)
    checks = [
        (side.completed == len(side.lags), f"all {len(side.lags)} jobs completed"),
        (mean_lag <= 0.1, f"mean lag {_ms(mean_lag)} <= 100 ms"),
        (side.p(0.95) <= 0.25, f"p95 lag {_ms(side.p(0.95))} <= 250 ms"),
        (gets <= 1, f"{gets:.2f} GETs per job (list pages and single GETs) <= 1"),
        (side.wire.peak <= side.limit, f"peak in flight {side.wire.peak} <= {side.limit}"),
    ]
    return [f"- {'met' if ok else '**missed**'}: {text}" for ok, text in checks]


def section(
    sides: Sequence[Side], command: str, args: argparse.Namespace, injected: Sequence[str] = ()
) -> str:
    policy = DEFAULT_POLL
    lines = [
        *preamble(BEGIN_MARK, command),
        f"- Machine: {len(os.sched_getaffinity(0))} usable cores, {platform.machine()}, "
        f"{platform.platform(terse=True)}, "
        f"CPython {platform.python_version()}, aiohttp {aiohttp.__version__}, "
        f"bessa_async {__version__}",
        f"- Workload: {args.jobs} orders submitted at once; processing U({args.min:g} s, "
        f"{args.max:g} s) per job; sandbox in its own process (seed {args.seed})",
        f"- Library: max_in_flight={DEFAULT_MAX_IN_FLIGHT}, PollPolicy(initial={policy.initial:g}, "
        f"floor={policy.floor:g}, ceiling={policy.ceiling:g}, multiplier={policy.multiplier:g}, "
        f"jitter={policy.jitter:g})",
        "",
        *table(sides),
        "",
        "Targets, library (jobs list):",
        "",
        *verdict(sides[0]),
        "",
        *injected,
        *([""] if injected else []),
        END_MARK,
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/jobs.py",
        description="P3: detection lag and polls per job for many concurrent jobs.",
    )
    parser.add_argument("--jobs", type=int, default=1000, help="concurrent orders (1000)")
    parser.add_argument("--min", type=float, default=0.2, help="shortest processing time, s")
    parser.add_argument("--max", type=float, default=3.0, help="longest processing time, s")
    parser.add_argument("--naive-period", type=float, default=1.0, help="the peer's poll period")
    parser.add_argument("--seed", type=int, default=0, help="the sandbox's seed")
    parser.add_argument(
        "--offline-jobs", type=int, default=10_000, help="jobs on an offline till (10000)"
    )
    parser.add_argument(
        "--drift-jobs", type=int, default=1000, help="jobs with every list filter ignored (1000)"
    )
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    parser.add_argument("--no-write", action="store_true", help="do not touch README.md")
    args = parser.parse_args(argv)
    if args.jobs < 1 or not 0 <= args.min <= args.max:
        raise SystemExit("--jobs must be positive and 0 <= --min <= --max")
    command = command_line("benchmarks/jobs.py", argv)
    runs: list[tuple[str, Callable[[SandboxInfo], Awaitable[Side]]]] = [
        ("library", lambda info: run_library(info, args.jobs)),
        ("per-job", lambda info: run_library(info, args.jobs, batch=False)),
        ("naive", lambda info: run_naive(info, args.jobs, args.naive_period)),
    ]
    sides = []
    for name, run in runs:
        print(f"P3 {name}: {args.jobs} jobs ...", flush=True)
        with sandbox_process(
            low=args.min, high=args.max, seed=args.seed, timeout=args.startup_timeout
        ) as info:
            sides.append(asyncio.run(run(info)))
    injected = asyncio.run(jobs_scale.run(args.offline_jobs, args.drift_jobs))
    text = section(sides, command, args, injected)
    print("\n".join(table(sides)))
    print("\n".join(verdict(sides[0])))
    print("\n".join(injected))
    if not args.no_write:
        write_section(text, begin_mark=BEGIN_MARK, end_mark=END_MARK, heading="P3 figures")
        print(f"\nfigures written to {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
