"""Benchmarks of the session layer: ``BessaClient.request`` against raw aiohttp, as ratios.

What is measured
----------------
The cost the library adds on top of aiohttp for one logical call: building and checking the
URL and query, headers, the per-call deadline, the retry loop (tenacity), the rate gate, the
in-flight semaphore, reading the body and decoding the JSON, the DEBUG log check. Two scenarios:

* **B1, sequential paging at zero latency**: list every receipt of the sandbox's tenant A
  (``--receipts``, 20 000 by default) in pages of ``--page-size`` (100) by following each page's
  ``next`` URL. The baseline is a plain ``aiohttp.ClientSession`` loop (``resp.json()`` on each
  page, dicts). Nothing waits on the network here, so the figure is CPU bound: client work plus
  the sandbox's own work per page.
* **B2, concurrent requests with latency**: the sandbox adds 20 ms to every answer;
  ``--requests`` (200) ``GET articles/?limit=1`` are started at once with ``asyncio.gather``.
  The baseline is raw aiohttp with ``TCPConnector(limit=16)``; the library runs with its default
  ``max_in_flight`` (16). The ceiling for both is 16 / 20 ms = 800 requests/s.

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
repeated ``--repeats`` times (raw and library alternating, the order flipped every round); the
table shows min / median / max of the rate.

Run: ``nox -s bench`` or ``python benchmarks/run.py [--quick] [--receipts N] [--no-write]``.
The figures are written to ``benchmarks/README.md`` under "Latest figures" unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import platform
import queue
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import aiohttp

from bessa_async import DEFAULT_MAX_IN_FLIGHT, BessaClient, __version__

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
    *, receipts: int, latency_ms: float, startup_timeout: float, max_limit: int = 500
) -> Iterator[SandboxInfo]:
    """Start the sandbox in a child process, yield its URL and token, terminate it at the end."""
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


async def measure(raw: Run, lib: Run, *, expected: int, repeats: int) -> tuple[Side, Side]:
    """Warm each side up once, then alternate them ``repeats`` times (order flipped each round)."""
    await _timed(raw, expected)
    await _timed(lib, expected)
    timings: dict[str, list[tuple[float, float]]] = {"raw": [], "lib": []}
    for i in range(repeats):
        order = (("raw", raw), ("lib", lib)) if i % 2 == 0 else (("lib", lib), ("raw", raw))
        for name, run in order:
            timings[name].append(await _timed(run, expected))

    def side(name: str, key: str) -> Side:
        wall, cpu = zip(*timings[key], strict=True)
        return Side(name, list(wall), list(cpu), expected)

    return side("raw aiohttp", "raw"), side("BessaClient", "lib")


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
        "bessa_async": __version__,
    }


def figures_section(scenarios: Sequence[Scenario], command: str, repeats: int) -> str:
    facts = machine_facts()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN_MARK,
        "",
        f"- Date: {when}",
        f"- Command: `{command}`",
        f"- Machine: {facts['cores']} cores, {facts['cpu']}, {facts['os']}",
        f"- Versions: {facts['python']}, aiohttp {facts['aiohttp']}, "
        f"bessa_async {facts['bessa_async']}",
        f"- Repetitions: {repeats} per side after one warm-up; ratio = median library rate ÷ "
        "median raw rate (in brackets: the range of the per-round ratios)",
        "",
        *table(scenarios),
        "",
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="Session-layer speed of bessa_async as ratios against raw aiohttp.",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes and 3 repetitions")
    parser.add_argument("--receipts", type=int, help="receipts to page through in B1 (20000)")
    parser.add_argument("--page-size", type=int, default=100, help="limit= of B1's pages")
    parser.add_argument("--requests", type=int, help="concurrent requests of B2 (200)")
    parser.add_argument("--latency", type=float, default=20.0, help="B2's latency in ms")
    parser.add_argument("--repeats", type=int, help="repetitions per side (5; 3 with --quick)")
    parser.add_argument(
        "--startup-timeout", type=float, default=60.0, help="seconds to wait for the sandbox"
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch README.md")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    receipts = args.receipts if args.receipts is not None else (5_000 if args.quick else 20_000)
    requests = args.requests if args.requests is not None else (100 if args.quick else 200)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 5)
    if min(receipts, requests, repeats, args.page_size) < 1:
        raise SystemExit("sizes and repetitions must be positive")
    command = shlex.join(["python", "benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])
    scenarios: list[Scenario] = []

    print(f"B1: starting a sandbox with {receipts} receipts ...", flush=True)
    with sandbox_process(
        receipts=receipts,
        latency_ms=0,
        startup_timeout=args.startup_timeout,
        max_limit=max(500, args.page_size),  # no clamping: the page count stays as asked
    ) as info:
        scenarios.append(
            asyncio.run(
                bench_paging(info, receipts=receipts, page_size=args.page_size, repeats=repeats)
            )
        )
    print(f"B2: starting a sandbox with {args.latency:g} ms latency ...", flush=True)
    with sandbox_process(
        receipts=10, latency_ms=args.latency, startup_timeout=args.startup_timeout
    ) as info:
        scenarios.append(
            asyncio.run(
                bench_concurrent(info, requests=requests, latency_ms=args.latency, repeats=repeats)
            )
        )

    print()
    print("\n".join(table(scenarios)))
    if not args.no_write:
        write_readme(figures_section(scenarios, command, repeats))
        print(f"\nfigures written to {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
