"""Benchmarks of bessa_async against raw aiohttp (and httpx), as ratios; and streaming memory.

What is measured
----------------
The session layer (B1, B2): the cost the library adds on top of aiohttp for one logical call:
building and checking the URL and query, headers, the per-call deadline, the retry loop
(tenacity), the rate gate, the in-flight semaphore, reading the body and decoding the JSON, the
DEBUG log check. Two scenarios:

* **B1, sequential paging at zero latency**: list every receipt of the sandbox's tenant A
  (``--receipts``, 20 000 by default) in pages of ``--page-size`` (100) by following each page's
  ``next`` URL. The baseline is a plain ``aiohttp.ClientSession`` loop (``resp.json()`` on each
  page, dicts). Nothing waits on the network here, so the figure is CPU bound: client work plus
  the sandbox's own work per page.
* **B2, concurrent requests with latency**: the sandbox adds 20 ms to every answer;
  ``--requests`` (200) ``GET articles/?limit=1`` are started at once with ``asyncio.gather``.
  The baseline is raw aiohttp with ``TCPConnector(limit=16)``; the library runs with its default
  ``max_in_flight`` (16). The ceiling for both is 16 / 20 ms = 800 requests/s.

Listing (issue 4): ``client.receipts.list(...)`` yielding typed models.

* **P1, streaming at zero latency**: every receipt of a sandbox with ``--p1-receipts``
  (100 000) in pages of 100, items/s of the library (typed, prefetch=1; also prefetch=0,
  ``concurrency=8`` over the receipts' window, and the same paginator yielding dicts) against a
  raw aiohttp loop yielding dicts (the ceiling) and a naive ``httpx.AsyncClient`` loop yielding
  dicts (what users write instead).
* **P2, time-sharded listing with latency**: ``--p2-receipts`` (50 000) over 30 days, 25 ms per
  answer, the whole window with ``concurrency=8`` against ``concurrency=1``, and against the
  bound ``pages / 8 x latency``.
* **P4, memory**: a child process (clean RSS) streams ``--p4-items`` (1 000 000) receipts through
  the library, discarding them, and reports its peak RSS before and after; by default by
  listing P1's sandbox again and again (see ``benchmarks/README.md``).

Each prints min / median / max over ``--repeats`` runs, and the targets of issue 4 with where
this run stands; a missed target is a finding, never an error (the exit status is non-zero only
when something fails).

Why ratios
----------
Absolute requests per second depend on the machine, its load, the Python build and the
sandbox (which here competes with the client for the same cores). A baseline measured in the
same run, against the same sandbox process, interleaved with the library's repetitions, cancels
most of that: ``ratio = library rate / raw rate`` (of the medians) is comparable across machines
and runs. 1.00 means "no measurable overhead"; below 1 is the price of the session layer. The
"Δ per request" column gives the same difference as wall-clock microseconds per request
(median library time minus median raw time, divided by the requests of one run). "Client CPU
per request" is the CPU time of this process only (``time.process_time``), so the sandbox's
work is left out: the most direct view of what the session layer costs.

The sandbox runs in a separate process (``python -m bessa_async.testing --port 0``), so its
work does not share the client's event loop. Each scenario is warmed up once per side, then
repeated ``--repeats`` times (the order of the sides rotated every round); the table shows
min / median / max of the rate.

Run: ``nox -s bench`` or ``python benchmarks/run.py [--quick] [--only P1,P2] [--no-write]``.
The figures are written to ``benchmarks/README.md`` under "Latest figures" unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import queue
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import aiohttp

from bessa_async import DEFAULT_MAX_IN_FLIGHT, BessaClient, __version__

try:  # only P1's "what users write instead" needs it; `nox -s bench` installs it
    import httpx
except ImportError:  # pragma: no cover - depends on the environment
    httpx = None

README = Path(__file__).with_name("README.md")
BEGIN_MARK = "<!-- figures:begin (written by benchmarks/run.py; edits here are overwritten) -->"
END_MARK = "<!-- figures:end -->"

_URL_LINE = re.compile(r"bessa sandbox listening on (\S+)")
_TOKEN_LINE = re.compile(r"token \(tenant A\):\s*(\S+)")

Run = Callable[[], Awaitable[int]]


# --------------------------------------------------------------------------- the sandbox process


@dataclass(frozen=True)
class SandboxInfo:
    url: str
    token: str
    pid: int


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Copy the sandbox's stdout into ``lines`` until EOF (so its pipe never fills up)."""
    with contextlib.suppress(ValueError, OSError):  # the pipe closed under us at shutdown
        for line in stream:
            lines.put(line)
    lines.put(None)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def sandbox_process(
    *,
    receipts: int,
    latency_ms: float,
    startup_timeout: float,
    max_limit: int = 500,
    extra: Sequence[str] = (),
) -> Iterator[SandboxInfo]:
    """Start the sandbox in a child process, yield its URL and token, terminate it at the end.

    ``extra`` are further options of ``python -m bessa_async.testing`` (e.g. job durations).
    """
    command = [
        sys.executable,
        "-m",
        "bessa_async.testing",
        "--port",
        "0",
        "--receipts",
        str(receipts),
        "--latency",
        f"{latency_ms:g}",
        "--max-limit",
        str(max_limit),
        *extra,
    ]
    with tempfile.TemporaryFile(mode="w+") as stderr:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            bufsize=1,
        )
        assert proc.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
        reader.start()
        try:
            yield _wait_ready(proc, lines, stderr, startup_timeout)
        finally:
            _stop(proc)
            reader.join(timeout=5)
            proc.stdout.close()


def _wait_ready(
    proc: subprocess.Popen[str], lines: queue.Queue[str | None], stderr: IO[str], timeout: float
) -> SandboxInfo:
    deadline = time.monotonic() + timeout
    url = token = None
    while url is None or token is None:
        left = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(left, 0.0)) if left > 0 else None
        except queue.Empty:
            line = None
        if line is None:
            stderr.seek(0)
            tail = stderr.read()[-2000:]
            state = "exited" if proc.poll() is not None else f"was silent for {timeout:g} s"
            raise RuntimeError(f"the sandbox {state} before printing its URL and token:\n{tail}")
        if match := _URL_LINE.search(line):
            url = match.group(1)
        elif match := _TOKEN_LINE.search(line):
            token = match.group(1)
    return SandboxInfo(url=url, token=token, pid=proc.pid)


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Side:
    """The repetitions of one client in one scenario."""

    name: str
    seconds: list[float]  # wall-clock time of each repetition
    cpu: list[float]  # CPU time of this (the client's) process in each repetition
    units: int  # items (B1) or requests (B2) per repetition

    @property
    def rates(self) -> list[float]:
        return [self.units / s for s in self.seconds]


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    unit: str
    workload: str
    requests: int  # HTTP requests per repetition, for the per-request difference
    raw: Side
    lib: Side

    @property
    def ratio(self) -> float:
        return statistics.median(self.lib.rates) / statistics.median(self.raw.rates)

    @property
    def paired_ratios(self) -> list[float]:
        return [raw / lib for raw, lib in zip(self.raw.seconds, self.lib.seconds, strict=True)]

    @property
    def delta_us(self) -> float:
        lib, raw = statistics.median(self.lib.seconds), statistics.median(self.raw.seconds)
        return (lib - raw) / self.requests * 1e6

    def cpu_us(self, side: Side) -> float:
        """The client's median CPU time per HTTP request, in microseconds."""
        return statistics.median(side.cpu) / self.requests * 1e6


async def _timed(run: Run, expected: int) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one repetition (the count of units is checked)."""
    gc.collect()
    cpu_started = time.process_time()
    started = time.perf_counter()
    units = await run()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if units != expected:
        raise RuntimeError(f"a run returned {units} units, expected {expected}")
    return elapsed, cpu


async def measure_sides(
    runs: Sequence[tuple[str, Run]], *, expected: int, repeats: int
) -> list[Side]:
    """Warm each side up once, then run them all ``repeats`` times, the order rotated each round.

    With two sides this alternates them (A, B), (B, A), ... as B1 and B2 always have.
    """
    for _, run in runs:
        await _timed(run, expected)
    timings: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in runs}
    for i in range(repeats):
        shift = i % len(runs)
        for name, run in [*runs[shift:], *runs[:shift]]:
            timings[name].append(await _timed(run, expected))
    sides = []
    for name, _ in runs:
        wall, cpu = zip(*timings[name], strict=True)
        sides.append(Side(name, list(wall), list(cpu), expected))
    return sides


async def measure(raw: Run, lib: Run, *, expected: int, repeats: int) -> tuple[Side, Side]:
    """Warm each side up once, then alternate them ``repeats`` times (order flipped each round)."""
    raw_side, lib_side = await measure_sides(
        [("raw aiohttp", raw), ("BessaClient", lib)], expected=expected, repeats=repeats
    )
    return raw_side, lib_side


async def bench_paging(
    info: SandboxInfo, *, receipts: int, page_size: int, repeats: int
) -> Scenario:
    """B1: follow ``next`` through every receipt, sequentially."""
    headers = {"Authorization": f"Token {info.token}", "Accept": "application/json"}
    first = f"{info.url}receipts/?limit={page_size}"
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        BessaClient(info.token, base_url=info.url) as client,
    ):

        async def raw() -> int:
            url: str | None = first
            items = 0
            while url:
                async with session.get(url) as resp:
                    resp.raise_for_status()
                    page: dict[str, Any] = await resp.json()
                items += len(page["results"])
                url = page["next"]
            return items

        async def lib() -> int:
            page: dict[str, Any] = await client.request(
                "GET", "receipts/", params={"limit": page_size}
            )
            items = len(page["results"])
            while page["next"]:
                page = await client.request("GET", page["next"])
                items += len(page["results"])
            return items

        raw_side, lib_side = await measure(raw, lib, expected=receipts, repeats=repeats)
    pages = -(-receipts // page_size)
    return Scenario(
        key="B1",
        title="sequential paging, zero latency",
        unit="items/s",
        workload=f"{receipts} receipts, {pages} pages of {page_size}",
        requests=pages,
        raw=raw_side,
        lib=lib_side,
    )


async def bench_concurrent(
    info: SandboxInfo, *, requests: int, latency_ms: float, repeats: int
) -> Scenario:
    """B2: ``requests`` concurrent ``GET articles/?limit=1`` against a slow server."""
    headers = {"Authorization": f"Token {info.token}", "Accept": "application/json"}
    url = f"{info.url}articles/?limit=1"
    async with (
        aiohttp.ClientSession(
            headers=headers, connector=aiohttp.TCPConnector(limit=DEFAULT_MAX_IN_FLIGHT)
        ) as session,
        BessaClient(info.token, base_url=info.url) as client,
    ):

        async def raw_one() -> int:
            async with session.get(url) as resp:
                resp.raise_for_status()
                page: dict[str, Any] = await resp.json()
            return len(page["results"])

        async def lib_one() -> int:
            page: dict[str, Any] = await client.request("GET", "articles/", params={"limit": 1})
            return len(page["results"])

        async def raw() -> int:
            return sum(await asyncio.gather(*(raw_one() for _ in range(requests))))

        async def lib() -> int:
            return sum(await asyncio.gather(*(lib_one() for _ in range(requests))))

        raw_side, lib_side = await measure(raw, lib, expected=requests, repeats=repeats)
    return Scenario(
        key="B2",
        title=f"concurrent requests, {latency_ms:g} ms latency",
        unit="requests/s",
        workload=f"{requests} x GET articles/?limit=1, {DEFAULT_MAX_IN_FLIGHT} in flight",
        requests=requests,
        raw=raw_side,
        lib=lib_side,
    )


# --------------------------------------------------------------------------- listing (P1, P2, P4)

# The sandbox's receipts cover the local (Europe/Vienna) trading days from 2026-06-01 for 30 days;
# this half-open UTC window holds every one of them, with a margin on both sides.
WINDOW = (datetime(2026, 5, 31, tzinfo=UTC), datetime(2026, 7, 2, tzinfo=UTC))


@dataclass(frozen=True)
class Listing:
    """A listing scenario: several clients, each compared with the ``base`` side."""

    key: str
    title: str
    unit: str
    workload: str
    sides: list[Side]
    base: str  # name of the side the "vs base" column divides by
    notes: tuple[str, ...] = ()

    def side(self, name: str) -> Side:
        return next(side for side in self.sides if side.name == name)

    def ratio(self, name: str, base: str | None = None) -> float:
        """Median rate of ``name`` ÷ median rate of ``base`` (the scenario's base by default)."""
        side, ref = self.side(name), self.side(base or self.base)
        return statistics.median(side.rates) / statistics.median(ref.rates)

    def paired(self, name: str, base: str | None = None) -> list[float]:
        """The same ratio per round (both sides ran in the same round)."""
        side, ref = self.side(name), self.side(base or self.base)
        return [r / s for r, s in zip(ref.seconds, side.seconds, strict=True)]


@dataclass(frozen=True)
class Target:
    what: str
    figure: str
    goal: str
    met: bool | None  # None: not measured in this run


LIB_TYPED = "BessaClient, typed (prefetch=1)"
LIB_NO_PREFETCH = "BessaClient, typed, prefetch=0"
LIB_SHARDED = "BessaClient, typed, concurrency=8"
LIB_UNORDERED = "BessaClient, typed, concurrency=8, ordered=False"
LIB_DICTS = "BessaClient, dicts (client.resource)"
RAW_DICTS = "raw aiohttp, dicts"
HTTPX_DICTS = "naive httpx, dicts"


async def _count(items: AsyncIterable[Any]) -> int:
    """Consume an async iterator, discarding its items (as a caller that streams would)."""
    count = 0
    async for _ in items:
        count += 1
    return count


async def bench_stream(
    info: SandboxInfo, *, receipts: int, page_size: int, repeats: int
) -> Listing:
    """P1: every receipt, pages of ``page_size``, no added latency: items per second."""
    headers = {"Authorization": f"Token {info.token}", "Accept": "application/json"}
    first = f"{info.url}receipts/?limit={page_size}"
    start, end = WINDOW
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession(headers=headers))
        client = await stack.enter_async_context(BessaClient(info.token, base_url=info.url))

        async def raw_items() -> AsyncIterator[dict[str, Any]]:
            url: str | None = first
            while url:
                async with session.get(url) as resp:
                    resp.raise_for_status()
                    page: dict[str, Any] = await resp.json()
                for item in page["results"]:
                    yield item
                url = page["next"]

        runs: list[tuple[str, Run]] = [
            (RAW_DICTS, lambda: _count(raw_items())),
            (LIB_TYPED, lambda: _count(client.receipts.list(limit=page_size))),
            (LIB_NO_PREFETCH, lambda: _count(client.receipts.list(limit=page_size, prefetch=0))),
            (
                LIB_SHARDED,
                lambda: _count(
                    client.receipts.list(
                        timestamp__gte=start, timestamp__lt=end, limit=page_size, concurrency=8
                    )
                ),
            ),
            (LIB_DICTS, lambda: _count(client.resource("receipts/").list(limit=page_size))),
        ]
        notes = []
        if httpx is None:
            notes.append("httpx is not installed: the httpx side was skipped (use `nox -s bench`)")
        else:
            hx = await stack.enter_async_context(httpx.AsyncClient(headers=headers))

            async def httpx_items() -> AsyncIterator[dict[str, Any]]:
                url: str | None = first
                while url:
                    resp = await hx.get(url)
                    resp.raise_for_status()
                    page: dict[str, Any] = resp.json()
                    for item in page["results"]:
                        yield item
                    url = page["next"]

            runs.insert(1, (HTTPX_DICTS, lambda: _count(httpx_items())))
        sides = await measure_sides(runs, expected=receipts, repeats=repeats)
    pages = -(-receipts // page_size)
    return Listing(
        key="P1",
        title="streaming a list, zero latency",
        unit="items/s",
        workload=f"{receipts} receipts, {pages} pages of {page_size}",
        sides=sides,
        base=RAW_DICTS,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class Sharded:
    """P2: the figures of the concurrent listing against the single chain."""

    listing: Listing
    latency_ms: float
    chain_pages: int  # pages of the single chain: the work, whatever the concurrency
    concurrency: int
    sharded_pages: int  # pages the concurrent listing read (shards end in part-filled pages)
    shards: int
    splits: int
    peak_buffered: int  # most items the ordered listing held for later shards at once
    unordered_pages: int

    @property
    def request_ms(self) -> float:
        """Milliseconds per page of the single chain: the latency plus the rest of a round
        trip (the sandbox's and the client's work), the real cost of one request here."""
        seconds = statistics.median(self.listing.side(self.listing.base).seconds)
        return seconds / self.chain_pages * 1000

    @property
    def floor(self) -> float:
        """Seconds with ``concurrency`` requests always in flight, each taking the single
        chain's measured time per page rather than just the added latency."""
        return self.chain_pages / self.concurrency * self.request_ms / 1000

    @property
    def bound(self) -> float:
        """Seconds if ``concurrency`` requests were always in flight and nothing else cost."""
        return self.chain_pages / self.concurrency * self.latency_ms / 1000

    @property
    def bound_ratios(self) -> list[float]:
        return [s / self.bound for s in self.listing.side(LIB_SHARDED).seconds]

    @property
    def bound_ratio(self) -> float:
        return statistics.median(self.listing.side(LIB_SHARDED).seconds) / self.bound


async def bench_sharded(
    info: SandboxInfo, *, receipts: int, page_size: int, latency_ms: float, repeats: int
) -> Sharded:
    """P2: the whole window with ``concurrency=8`` against one chain, 25 ms per answer."""
    start, end = WINDOW
    chain = "BessaClient, typed, concurrency=1"
    stats: dict[str, Any] = {}  # name -> the Paginator's ListingStats of its latest run

    async with BessaClient(info.token, base_url=info.url) as client:

        def run(name: str, concurrency: int, *, ordered: bool = True) -> Run:
            async def go() -> int:
                listing = client.receipts.list(
                    timestamp__gte=start,
                    timestamp__lt=end,
                    limit=page_size,
                    concurrency=concurrency,
                    ordered=ordered,
                )
                count = await _count(listing)
                stats[name] = listing.stats
                return count

            return go

        sides = await measure_sides(
            [
                (chain, run(chain, 1)),
                (LIB_SHARDED, run(LIB_SHARDED, 8)),
                (LIB_UNORDERED, run(LIB_UNORDERED, 8, ordered=False)),
            ],
            expected=receipts,
            repeats=repeats,
        )
    listing = Listing(
        key="P2",
        title=f"time-sharded listing, {latency_ms:g} ms latency",
        unit="items/s",
        workload=f"{receipts} receipts over 30 days, {stats[chain].pages} pages of {page_size}",
        sides=sides,
        base=chain,
    )
    return Sharded(
        listing=listing,
        latency_ms=latency_ms,
        chain_pages=stats[chain].pages,
        concurrency=8,
        sharded_pages=stats[LIB_SHARDED].pages,
        shards=stats[LIB_SHARDED].shards,
        splits=stats[LIB_SHARDED].splits,
        peak_buffered=stats[LIB_SHARDED].peak_buffered,
        unordered_pages=stats[LIB_UNORDERED].pages,
    )


# P4 runs in a child process of its own (``run.py --p4-child JSON``), so that its peak RSS is
# that of a fresh interpreter streaming, not of this process after P1's hundreds of megabytes.


@dataclass(frozen=True)
class Memory:
    """P4: one streaming run in a clean process."""

    mode: str
    items: int
    listings: int  # fresh listings it took to reach ``items`` (1: a single listing)
    seconds: float
    rss_start_kb: int  # peak RSS after imports and the client's creation, before any request
    rss_warm_kb: int  # peak RSS after one page was read and decoded (caches, code generated)
    rss_end_kb: int  # peak RSS after streaming ``items``
    maxrss_start_kb: int  # ru_maxrss at the start (inherited from the parent: see _peak_rss_kb)
    maxrss_end_kb: int

    @property
    def growth_mb(self) -> float:
        return (self.rss_end_kb - self.rss_start_kb) / 1024

    @property
    def warm_growth_mb(self) -> float:
        return (self.rss_end_kb - self.rss_warm_kb) / 1024


def _peak_rss_kb() -> int:
    """The peak RSS of this process image (``VmHWM``), in KiB.

    ``getrusage(RUSAGE_SELF).ru_maxrss`` would be the obvious source, but Linux carries it over
    ``exec`` from the process that spawned the child: it starts at the bench process's own peak
    (hundreds of MB after P1), which hides any growth below that. ``VmHWM`` belongs to the new
    address space only. Without ``/proc``, fall back to ``ru_maxrss``.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return _maxrss_kb()


def _maxrss_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


async def _stream_child(config: dict[str, Any]) -> dict[str, Any]:
    """In the child: stream ``items`` receipts through the library, discarding each."""
    items, page_size, mode = config["items"], config["page_size"], config["mode"]
    start, end = WINDOW
    gc.collect()
    async with BessaClient(config["token"], base_url=config["url"]) as client:

        def listing() -> AsyncIterator[Any]:
            if mode == "concurrency=8":
                return aiter(
                    client.receipts.list(
                        timestamp__gte=start, timestamp__lt=end, limit=page_size, concurrency=8
                    )
                )
            return aiter(client.receipts.list(limit=page_size))

        rss_start, maxrss_start = _peak_rss_kb(), _maxrss_kb()
        await client.receipts.list(limit=page_size).first()
        async with contextlib.aclosing(listing()) as warm:
            await anext(warm)
        rss_warm = _peak_rss_kb()
        streamed = listings = 0
        started = time.perf_counter()
        while streamed < items:
            listings += 1
            before = streamed
            async with contextlib.aclosing(listing()) as stream:
                async for _ in stream:
                    streamed += 1
                    if streamed == items:
                        break
            if streamed == before:
                raise RuntimeError("the listing is empty")
        seconds = time.perf_counter() - started
    return {
        "mode": mode,
        "items": streamed,
        "listings": listings,
        "seconds": seconds,
        "rss_start_kb": rss_start,
        "rss_warm_kb": rss_warm,
        "rss_end_kb": _peak_rss_kb(),
        "maxrss_start_kb": maxrss_start,
        "maxrss_end_kb": _maxrss_kb(),
    }


def bench_memory(info: SandboxInfo, *, items: int, page_size: int, mode: str) -> Memory:
    """P4: run :func:`_stream_child` in a fresh interpreter and read its figures."""
    config = {
        "url": info.url,
        "token": info.token,
        "items": items,
        "page_size": page_size,
        "mode": mode,
    }
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--p4-child", json.dumps(config)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the P4 child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Memory(**json.loads(done.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- reporting


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def table(scenarios: Sequence[Scenario]) -> list[str]:
    """The figures as a Markdown table (readable as plain text too)."""
    rows = [
        "| Scenario | Workload | Client | Unit | Min | Median | Max | Ratio "
        "| Δ per request | Client CPU per request |",
        "|---|---|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for sc in scenarios:
        raw_cpu = sc.cpu_us(sc.raw)
        for side in (sc.raw, sc.lib):
            rates = side.rates
            if side is sc.lib:
                paired = sc.paired_ratios
                ratio = f"**{sc.ratio:.3f}** ({min(paired):.3f} to {max(paired):.3f})"
                delta = f"{sc.delta_us:+.0f} µs"
                lib_cpu = sc.cpu_us(side)
                cpu = f"{lib_cpu:.0f} µs (x{lib_cpu / raw_cpu:.2f}, {lib_cpu - raw_cpu:+.0f} µs)"
            else:
                ratio, delta, cpu = "1 (base)", "", f"{raw_cpu:.0f} µs"
            rows.append(
                f"| {sc.key} {sc.title} | {sc.workload} | {side.name} | {sc.unit} | "
                f"{_fmt(min(rates))} | {_fmt(statistics.median(rates))} | {_fmt(max(rates))} | "
                f"{ratio} | {delta} | {cpu} |"
            )
    return rows


def listing_table(listings: Sequence[Listing]) -> list[str]:
    """P1 and P2: each client's rate and its ratio to the scenario's base side."""
    rows = [
        "| Scenario | Workload | Client | Unit | Min | Median | Max | vs base "
        "| Client CPU per item |",
        "|---|---|---|---|--:|--:|--:|--:|--:|",
    ]
    for sc in listings:
        for side in sc.sides:
            if side.name == sc.base:
                ratio = "1 (base)"
            else:
                paired = sc.paired(side.name)
                ratio = f"**{sc.ratio(side.name):.2f}** ({min(paired):.2f} to {max(paired):.2f})"
            cpu = statistics.median(side.cpu) / side.units * 1e6
            rates = side.rates
            rows.append(
                f"| {sc.key} {sc.title} | {sc.workload} | {side.name} | {sc.unit} | "
                f"{_fmt(min(rates))} | {_fmt(statistics.median(rates))} | {_fmt(max(rates))} | "
                f"{ratio} | {cpu:.1f} µs |"
            )
    return rows


def memory_table(memories: Sequence[Memory]) -> list[str]:
    """P4: peak RSS of a fresh process before and after streaming."""
    rows = [
        "| Mode | Items | Listings | Items/s | Peak RSS: start | after 1st page | end "
        "| Growth | Growth after 1st page | ru_maxrss: start, end |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for m in memories:
        rows.append(
            f"| {m.mode} | {m.items:,} | {m.listings} | {_fmt(m.items / m.seconds)} | "
            f"{m.rss_start_kb / 1024:.1f} MB | {m.rss_warm_kb / 1024:.1f} MB | "
            f"{m.rss_end_kb / 1024:.1f} MB | **{m.growth_mb:+.1f} MB** | "
            f"{m.warm_growth_mb:+.1f} MB | "
            f"{m.maxrss_start_kb / 1024:.1f} MB, {m.maxrss_end_kb / 1024:.1f} MB |"
        )
    return rows


def targets(
    listings: Sequence[Listing], sharded: Sharded | None, memories: Sequence[Memory]
) -> list[Target]:
    """The goals of issue 4 and where this run stands (a missed goal is not an error)."""
    found: list[Target] = []
    for sc in listings:
        if sc.key != "P1":
            continue
        lib_raw = sc.ratio(LIB_TYPED, RAW_DICTS)
        found.append(
            Target("P1 library (typed) ÷ raw aiohttp", f"{lib_raw:.2f}", "≥ 0.7", lib_raw >= 0.7)
        )
        if any(side.name == HTTPX_DICTS for side in sc.sides):
            lib_httpx = sc.ratio(LIB_TYPED, HTTPX_DICTS)
            found.append(
                Target(
                    "P1 library (typed) ÷ naive httpx", f"{lib_httpx:.2f}", "≥ 2", lib_httpx >= 2
                )
            )
        else:
            found.append(Target("P1 library (typed) ÷ naive httpx", "not run", "≥ 2", None))
    if sharded is not None:
        speedup = sharded.listing.ratio(LIB_SHARDED)
        found.append(
            Target("P2 concurrency=8 ÷ concurrency=1", f"{speedup:.2f}x", "≥ 6.4x", speedup >= 6.4)
        )
        ratio = sharded.bound_ratio
        found.append(
            Target(
                f"P2 concurrency=8 time ÷ bound ({sharded.chain_pages} pages ÷ "
                f"{sharded.concurrency} x {sharded.latency_ms:g} ms = {sharded.bound:.2f} s)",
                f"{ratio:.2f}",
                "≤ 1.25",
                ratio <= 1.25,
            )
        )
        # The same two figures without ordered output, for comparison (not the target).
        loose = sharded.listing.ratio(LIB_UNORDERED)
        loose_bound = statistics.median(sharded.listing.side(LIB_UNORDERED).seconds) / (
            sharded.bound
        )
        found += [
            Target(
                "(for comparison) P2 concurrency=8, ordered=False ÷ concurrency=1",
                f"{loose:.2f}x",
                "≥ 6.4x",
                loose >= 6.4,
            ),
            Target(
                "(for comparison) P2 concurrency=8, ordered=False time ÷ bound",
                f"{loose_bound:.2f}",
                "≤ 1.25",
                loose_bound <= 1.25,
            ),
        ]
    for m in memories:
        found.append(
            Target(
                f"P4 peak RSS growth, {m.items:,} items, {m.mode}",
                f"{m.growth_mb:+.1f} MB",
                "< 50 MB",
                m.growth_mb < 50,
            )
        )
    return found


def targets_table(found: Sequence[Target]) -> list[str]:
    rows = ["| Target | Figure | Goal | Met |", "|---|--:|--:|---|"]
    for t in found:
        met = "n/a" if t.met is None else ("yes" if t.met else "**no**")
        rows.append(f"| {t.what} | {t.figure} | {t.goal} | {met} |")
    return rows


@dataclass
class Results:
    scenarios: list[Scenario]
    listings: list[Listing]
    sharded: Sharded | None
    memories: list[Memory]

    def lines(self) -> list[str]:
        """Every table of the run, as Markdown."""
        out: list[str] = []
        if self.scenarios:
            out += ["### Session layer (B1, B2)", "", *table(self.scenarios), ""]
        if self.listings:
            out += ["### Listing (P1, P2)", "", *listing_table(self.listings), ""]
            for sc in self.listings:
                out += [f"- {sc.key}: {note}" for note in sc.notes]
            if self.sharded is not None:
                s = self.sharded
                out += [
                    f"- P2: the single chain read {s.chain_pages} pages; the concurrent listing "
                    f"read {s.sharded_pages} pages in {s.shards} shards ({s.splits} splits); "
                    f"bound = {s.chain_pages} ÷ {s.concurrency} x {s.latency_ms:g} ms = "
                    f"{s.bound:.2f} s, measured ÷ bound per round: "
                    + ", ".join(f"{r:.2f}" for r in s.bound_ratios),
                    f"- P2: at most {s.peak_buffered:,} items held for later shards (ordered); "
                    f"unordered read {s.unordered_pages} pages",
                    f"- P2: one request of the single chain takes {s.request_ms:.1f} ms "
                    f"({s.latency_ms:g} ms added latency + the round trip's own work); with "
                    f"{s.concurrency} always in flight that is {s.chain_pages} ÷ "
                    f"{s.concurrency} x {s.request_ms:.1f} ms = {s.floor:.2f} s "
                    f"({s.floor / s.bound:.2f}x the bound) before any client cost",
                    "",
                ]
        if self.memories:
            out += ["### Memory (P4)", "", *memory_table(self.memories), ""]
        found = targets(self.listings, self.sharded, self.memories)
        if found:
            out += ["### Targets (issue 4)", "", *targets_table(found), ""]
        return out


def machine_facts() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": f"{usable} usable ({os.cpu_count()} logical)",
        "cpu": cpu,
        "os": platform.platform(terse=True),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "aiohttp": aiohttp.__version__,
        "httpx": httpx.__version__ if httpx is not None else "(not installed)",
        "bessa_async": __version__,
    }


def source_state() -> str:
    """The commit measured, and whether the library's files differed from it (others' edits)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=10
        )
        return done.stdout.rstrip() if done.returncode == 0 else ""

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--", "bessa_async").splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    if not commit:
        return "unknown (no git)"
    if not changed:
        return f"commit {commit}, bessa_async/ as committed"
    names = sorted(line[3:].removeprefix("bessa_async/") for line in changed)
    shown = ", ".join(names) if len(names) <= 6 else ", ".join(names[:6]) + ", ..."
    return f"commit {commit} with {len(names)} uncommitted files under bessa_async/ ({shown})"


def figures_section(results: Results, command: str, repeats: int, source: str) -> str:
    facts = machine_facts()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN_MARK,
        "",
        f"- Date: {when}",
        f"- Command: `{command}`",
        f"- Machine: {facts['cores']} cores, {facts['cpu']}, {facts['os']}",
        f"- Versions: {facts['python']}, aiohttp {facts['aiohttp']}, httpx {facts['httpx']}, "
        f"bessa_async {facts['bessa_async']}",
        f"- Source: {source}",
        f"- Repetitions: {repeats} per side after one warm-up; ratio = median rate ÷ median rate "
        "of the base side (in brackets: the range of the per-round ratios)",
        "",
        *results.lines(),
        END_MARK,
    ]
    return "\n".join(lines)


def write_readme(section: str) -> None:
    """Replace the figures between the markers of README.md (or append a section)."""
    text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    start, end = text.find(BEGIN_MARK), text.find(END_MARK)
    if start != -1 and end > start:
        text = text[:start] + section + text[end + len(END_MARK) :]
    else:
        text = text.rstrip("\n") + "\n\n## Latest figures\n\n" + section + "\n"
    README.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- main


SCENARIOS = ("B1", "B2", "P1", "P2", "P4")
P4_MODES = ("prefetch=1", "concurrency=8")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="Speed of bessa_async as ratios against raw aiohttp (and httpx), and memory.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes and 3 repetitions (a smoke run)"
    )
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to run ({','.join(SCENARIOS)})",
    )
    parser.add_argument("--receipts", type=int, help="receipts to page through in B1 (20000)")
    parser.add_argument("--page-size", type=int, default=100, help="limit= of every page (100)")
    parser.add_argument("--requests", type=int, help="concurrent requests of B2 (200)")
    parser.add_argument("--latency", type=float, default=20.0, help="B2's latency in ms")
    parser.add_argument("--p1-receipts", type=int, help="receipts streamed in P1 (100000)")
    parser.add_argument("--p2-receipts", type=int, help="receipts of P2's window (50000)")
    parser.add_argument("--p2-latency", type=float, default=25.0, help="P2's latency in ms")
    parser.add_argument("--p4-items", type=int, help="items streamed in P4 (1000000)")
    parser.add_argument(
        "--p4-receipts",
        type=int,
        default=0,
        help="give P4 a sandbox of its own with this many receipts (default: reuse P1's and "
        "list it again until --p4-items are streamed)",
    )
    parser.add_argument("--repeats", type=int, help="repetitions per side (5; 3 with --quick)")
    parser.add_argument(
        "--startup-timeout", type=float, default=300.0, help="seconds to wait for a sandbox"
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch README.md")
    parser.add_argument("--p4-child", help=argparse.SUPPRESS)  # internal: P4's clean process
    return parser


def _sizes(value: int | None, quick: int, full: int, *, is_quick: bool) -> int:
    return value if value is not None else (quick if is_quick else full)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.p4_child:
        print(json.dumps(asyncio.run(_stream_child(json.loads(args.p4_child)))), flush=True)
        return 0
    q = args.quick
    receipts = _sizes(args.receipts, 5_000, 20_000, is_quick=q)
    requests = _sizes(args.requests, 100, 200, is_quick=q)
    p1_receipts = _sizes(args.p1_receipts, 20_000, 100_000, is_quick=q)
    p2_receipts = _sizes(args.p2_receipts, 10_000, 50_000, is_quick=q)
    p4_items = _sizes(args.p4_items, 200_000, 1_000_000, is_quick=q)
    repeats = _sizes(args.repeats, 3, 5, is_quick=q)
    sizes = (receipts, requests, p1_receipts, p2_receipts, p4_items, repeats, args.page_size)
    if min(sizes) < 1 or args.p4_receipts < 0:
        raise SystemExit("sizes and repetitions must be positive")
    only = {name.strip().upper() for name in args.only.split(",") if name.strip()}
    if not only or only - set(SCENARIOS):
        raise SystemExit(f"--only takes a comma-separated subset of {','.join(SCENARIOS)}")
    command = shlex.join(["python", "benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])
    source = source_state()  # at the start: what the sandboxes and clients import
    results = Results(scenarios=[], listings=[], sharded=None, memories=[])
    max_limit = max(500, args.page_size)  # no clamping: the page count stays as asked

    def memory(info: SandboxInfo) -> None:
        for mode in P4_MODES:
            print(f"P4: streaming {p4_items} items ({mode}) in a fresh process ...", flush=True)
            results.memories.append(
                bench_memory(info, items=p4_items, page_size=args.page_size, mode=mode)
            )

    if "B1" in only:
        print(f"B1: starting a sandbox with {receipts} receipts ...", flush=True)
        with sandbox_process(
            receipts=receipts,
            latency_ms=0,
            startup_timeout=args.startup_timeout,
            max_limit=max_limit,
        ) as info:
            results.scenarios.append(
                asyncio.run(
                    bench_paging(info, receipts=receipts, page_size=args.page_size, repeats=repeats)
                )
            )
    if "B2" in only:
        print(f"B2: starting a sandbox with {args.latency:g} ms latency ...", flush=True)
        with sandbox_process(
            receipts=10, latency_ms=args.latency, startup_timeout=args.startup_timeout
        ) as info:
            results.scenarios.append(
                asyncio.run(
                    bench_concurrent(
                        info, requests=requests, latency_ms=args.latency, repeats=repeats
                    )
                )
            )
    shared_p4 = "P4" in only and not args.p4_receipts
    if "P1" in only or shared_p4:
        print(f"P1: starting a sandbox with {p1_receipts} receipts ...", flush=True)
        started = time.perf_counter()
        with sandbox_process(
            receipts=p1_receipts,
            latency_ms=0,
            startup_timeout=args.startup_timeout,
            max_limit=max_limit,
        ) as info:
            print(f"    ready in {time.perf_counter() - started:.1f} s", flush=True)
            if "P1" in only:
                results.listings.append(
                    asyncio.run(
                        bench_stream(
                            info, receipts=p1_receipts, page_size=args.page_size, repeats=repeats
                        )
                    )
                )
            if shared_p4:
                memory(info)
    if "P2" in only:
        print(
            f"P2: starting a sandbox with {p2_receipts} receipts, {args.p2_latency:g} ms latency",
            flush=True,
        )
        with sandbox_process(
            receipts=p2_receipts,
            latency_ms=args.p2_latency,
            startup_timeout=args.startup_timeout,
            max_limit=max_limit,
        ) as info:
            results.sharded = asyncio.run(
                bench_sharded(
                    info,
                    receipts=p2_receipts,
                    page_size=args.page_size,
                    latency_ms=args.p2_latency,
                    repeats=repeats,
                )
            )
            results.listings.append(results.sharded.listing)
    if "P4" in only and args.p4_receipts:
        print(f"P4: starting a sandbox with {args.p4_receipts} receipts ...", flush=True)
        started = time.perf_counter()
        with sandbox_process(
            receipts=args.p4_receipts,
            latency_ms=0,
            startup_timeout=args.startup_timeout,
            max_limit=max_limit,
        ) as info:
            print(f"    ready in {time.perf_counter() - started:.1f} s", flush=True)
            memory(info)

    print()
    print("\n".join(results.lines()))
    if not args.no_write:
        write_readme(figures_section(results, command, repeats, source))
        print(f"figures written to {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
