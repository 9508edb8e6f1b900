"""L1, L2: one client shared by many concurrent callers, at several ``max_in_flight``.

What is measured
----------------
* **L1, 1,000 callers, 25 ms latency.** ``--callers`` (1,000) ``GET articles/?limit=1`` are
  started at once through one ``BessaClient``, as an aiohttp web backend's handlers would share
  it, against a sandbox that delays every answer by ``--latency`` ms (25). Once for each
  ``max_in_flight`` of ``--limits`` (16, 32, 64, 100, 200), in the same run and against the same
  sandbox process, warmed up once, then ``--repeats`` (3) rounds with the order rotated. Per
  call: its latency as the caller sees it (``request()`` start to return). Per attempt, from the
  library's DEBUG records: the time spent waiting to be sent (an in-flight slot) and the time at
  the server (the exchange), and from them the peak of requests in flight. The base of the
  ratio is the first limit (the default).
* **L2, bursts against a DRF throttle.** The sandbox throttles the token at ``--throttle``
  (``30/s``: DRF's ``UserRateThrottle``, ``Retry-After: 1``), 25 ms latency; bursts of
  ``--bursts`` (150, 300) calls through one client at each limit, once each (a count, not a
  timing): calls that completed, calls that ended in ``RateLimitError``, and the 429s the
  server sent. The throttle's window is let to empty between bursts.

Run: ``python benchmarks/load.py [--callers N] [--limits 16,32] [--no-write]``; the figures go
into ``benchmarks/README.md`` between the load markers unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from harness import SandboxInfo, sandbox_process
from report import README, command_line, machine_facts, preamble, source_state, write_section

from bessa_async import DEFAULT_MAX_IN_FLIGHT, BessaClient, RateLimitError
from bessa_async.testing._throttle import parse_rate

BEGIN_MARK = "<!-- load:begin (written by benchmarks/load.py; edits here are overwritten) -->"
END_MARK = "<!-- load:end -->"
LIMITS = (DEFAULT_MAX_IN_FLIGHT, 32, 64, 100, 200)


class _Attempts(logging.Handler):
    """The library's per-attempt DEBUG records: outcome, time waiting, time at the server."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.rows: list[tuple[object, float, float, float]] = []  # outcome, end, elapsed, waited

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        outcome = args[2] if len(args) > 2 else None
        elapsed = getattr(record, "elapsed", None)
        waited = getattr(record, "waited", None)
        if elapsed is None:  # a library without the split: its figure includes the wait
            elapsed, waited = float(args[4]) if len(args) > 4 else 0.0, float("nan")
        self.rows.append((outcome, time.perf_counter(), float(elapsed), float(waited)))


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _peak(rows: Sequence[tuple[object, float, float, float]]) -> int:
    """The most exchanges that overlapped, from each attempt's end and time at the server."""
    events = sorted(
        [(end - elapsed, 1) for _, end, elapsed, _ in rows] + [(end, -1) for _, end, _, _ in rows],
        key=lambda event: (event[0], event[1]),
    )
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


@dataclass
class Limit:
    """The rounds of one ``max_in_flight``."""

    limit: int
    seconds: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # per call, every round
    waits: list[float] = field(default_factory=list)  # per attempt: waiting to be sent
    server: list[float] = field(default_factory=list)  # per attempt: at the server
    peaks: list[int] = field(default_factory=list)
    failures: int = 0


@contextlib.contextmanager
def _attempts() -> Iterator[_Attempts]:
    logger = logging.getLogger("bessa_async")
    handler = _Attempts()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def _round(client: BessaClient, callers: int) -> tuple[float, list[float], int]:
    """One burst: wall seconds, each call's latency, and how many calls failed."""
    latencies: list[float] = []
    failures = 0

    async def one() -> None:
        nonlocal failures
        started = time.perf_counter()
        try:
            await client.request("GET", "articles/", params={"limit": 1})
        except Exception:
            failures += 1
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(callers)))
    return time.perf_counter() - started, latencies, failures


async def bench_callers(
    info: SandboxInfo, *, callers: int, limits: Sequence[int], repeats: int
) -> list[Limit]:
    """L1: ``callers`` at once through one client per limit, rounds rotated."""
    results = {limit: Limit(limit) for limit in limits}
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            limit: await stack.enter_async_context(
                BessaClient(info.token, base_url=info.url, max_in_flight=limit)
            )
            for limit in limits
        }
        for limit in limits:  # warm-up: connections opened, code paths warm
            await _round(clients[limit], callers)
        for i in range(repeats):
            order = [*limits[i % len(limits) :], *limits[: i % len(limits)]]
            for limit in order:
                gc.collect()
                with _attempts() as attempts:
                    seconds, latencies, failures = await _round(clients[limit], callers)
                side = results[limit]
                side.seconds.append(seconds)
                side.latencies += latencies
                side.waits += [waited for _, _, _, waited in attempts.rows]
                side.server += [elapsed for _, _, elapsed, _ in attempts.rows]
                side.peaks.append(_peak(attempts.rows))
                side.failures += failures
    return [results[limit] for limit in limits]


@dataclass(frozen=True)
class Burst:
    limit: int
    calls: int
    completed: int
    rate_limited: int  # calls that ended in RateLimitError
    other_failures: int
    throttled: int  # 429s the server sent
    seconds: float


async def bench_bursts(
    info: SandboxInfo, *, bursts: Sequence[int], limits: Sequence[int], period: float
) -> list[Burst]:
    """L2: each burst at each limit, once, the throttle's window emptied in between."""
    found = []
    for calls in bursts:
        for limit in limits:
            await asyncio.sleep(period * 1.2)  # let the window of the previous burst empty
            async with BessaClient(info.token, base_url=info.url, max_in_flight=limit) as client:
                with _attempts() as attempts:
                    started = time.perf_counter()
                    outcomes = await asyncio.gather(
                        *(
                            client.request("GET", "articles/", params={"limit": 1})
                            for _ in range(calls)
                        ),
                        return_exceptions=True,
                    )
                    seconds = time.perf_counter() - started
            limited = sum(isinstance(o, RateLimitError) for o in outcomes)
            failed = sum(isinstance(o, BaseException) for o in outcomes)
            found.append(
                Burst(
                    limit=limit,
                    calls=calls,
                    completed=calls - failed,
                    rate_limited=limited,
                    other_failures=failed - limited,
                    throttled=sum(outcome == 429 for outcome, _, _, _ in attempts.rows),
                    seconds=seconds,
                )
            )
            print(f"    L2 burst {calls} at {limit}: {found[-1]}", flush=True)
    return found


def _ms(seconds: float) -> str:
    return "n/a" if seconds != seconds else f"{seconds * 1000:,.1f} ms"  # NaN: not logged


def callers_table(sides: Sequence[Limit], callers: int) -> list[str]:
    base = statistics.median(sides[0].seconds)
    rows = [
        "| max_in_flight | Wall time, median (min-max) | Calls/s | vs "
        f"{sides[0].limit} | Call p50 | Call p99 | Waiting to be sent p50 | p99 "
        "| At the server p50 | p99 | Peak in flight | Failed |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for side in sides:
        median = statistics.median(side.seconds)
        rows.append(
            f"| {side.limit} | {median:.3f} s ({min(side.seconds):.3f}-{max(side.seconds):.3f}) "
            f"| {callers / median:,.0f} | **{base / median:.2f}x** "
            f"| {_ms(_quantile(side.latencies, 0.5))} | {_ms(_quantile(side.latencies, 0.99))} "
            f"| {_ms(_quantile(side.waits, 0.5))} | {_ms(_quantile(side.waits, 0.99))} "
            f"| {_ms(_quantile(side.server, 0.5))} | {_ms(_quantile(side.server, 0.99))} "
            f"| {max(side.peaks)} | {side.failures} |"
        )
    return rows


def bursts_table(found: Sequence[Burst]) -> list[str]:
    rows = [
        "| Burst | max_in_flight | Completed | RateLimitError | Other failures "
        "| 429s sent | Wall time |",
        "|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for b in found:
        rows.append(
            f"| {b.calls} | {b.limit} | {b.completed} | {b.rate_limited} | {b.other_failures} "
            f"| {b.throttled} | {b.seconds:.2f} s |"
        )
    return rows


def section(
    sides: Sequence[Limit], found: Sequence[Burst], command: str, args: argparse.Namespace
) -> str:
    facts = machine_facts()
    lines = [
        *preamble(BEGIN_MARK, command),
        f"- Machine: {facts['cores']} cores, {facts['cpu']}, {facts['os']}",
        f"- Versions: {facts['python']}, aiohttp {facts['aiohttp']}, "
        f"bessa_async {facts['bessa_async']}",
        f"- Source: {source_state()}",
        f"- L1: {args.callers} concurrent `GET articles/?limit=1` through one client, "
        f"{args.latency:g} ms latency, sandbox in its own process; {args.repeats} rounds per "
        "limit after one warm-up, order rotated; latencies over all rounds",
        "",
        *callers_table(sides, args.callers),
        "",
    ]
    if found:
        lines += [
            f"- L2: bursts through one client against a sandbox throttling at {args.throttle} "
            f"per token (DRF's UserRateThrottle, Retry-After 1 s), {args.latency:g} ms latency; "
            "one burst per row",
            "",
            *bursts_table(found),
            "",
        ]
    lines.append(END_MARK)
    return "\n".join(lines)


def _numbers(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected comma-separated positive numbers")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/load.py",
        description="L1, L2: one client shared by many concurrent callers.",
    )
    parser.add_argument("--callers", type=int, default=1000, help="concurrent calls (1000)")
    parser.add_argument(
        "--limits",
        type=_numbers,
        default=list(LIMITS),
        help="max_in_flight values, the first the base (16,32,64,100,200)",
    )
    parser.add_argument("--latency", type=float, default=25.0, help="the sandbox's latency, ms")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per limit (3)")
    parser.add_argument(
        "--bursts", type=_numbers, default=[150, 300], help="L2's burst sizes (150,300)"
    )
    parser.add_argument("--throttle", default="30/s", help="L2's DRF rate (30/s)")
    parser.add_argument("--no-bursts", action="store_true", help="skip L2")
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    parser.add_argument("--no-write", action="store_true", help="do not touch README.md")
    args = parser.parse_args(argv)
    if args.callers < 1 or args.repeats < 1:
        raise SystemExit("--callers and --repeats must be positive")
    command = command_line("benchmarks/load.py", argv)
    print(f"L1: {args.callers} callers at max_in_flight {args.limits} ...", flush=True)
    with sandbox_process(
        receipts=10, latency_ms=args.latency, startup_timeout=args.startup_timeout
    ) as info:
        sides = asyncio.run(
            bench_callers(info, callers=args.callers, limits=args.limits, repeats=args.repeats)
        )
    print("\n".join(callers_table(sides, args.callers)), flush=True)
    found: list[Burst] = []
    if not args.no_bursts:
        print(f"L2: bursts {args.bursts} against {args.throttle} ...", flush=True)
        with sandbox_process(
            receipts=10,
            latency_ms=args.latency,
            startup_timeout=args.startup_timeout,
            extra=["--throttle", args.throttle],
        ) as info:
            _, period = parse_rate(args.throttle)
            found = asyncio.run(
                bench_bursts(info, bursts=args.bursts, limits=args.limits, period=period)
            )
        print("\n".join(bursts_table(found)))
    if not args.no_write:
        text = section(sides, found, command, args)
        write_section(text, begin_mark=BEGIN_MARK, end_mark=END_MARK, heading="Load figures")
        print(f"\nfigures written to {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
