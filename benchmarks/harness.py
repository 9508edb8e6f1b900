"""The benchmarks' harness: the sandbox in a child process, timed repetitions, the baselines.

A scenario compares the library with a baseline client (raw aiohttp, or naive httpx when it is
installed) against the same sandbox process, interleaving their repetitions.
"""

from __future__ import annotations

import contextlib
import gc
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

try:  # only P1's "what users write instead" needs it; `nox -s bench` installs it
    import httpx
except ImportError:  # pragma: no cover - depends on the environment
    httpx = None

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
        # The scenarios' fixed WINDOW: the standalone default would move with today's date.
        "--start",
        "2026-06-01",
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
