"""Q1: four processes sharing one token against a DRF throttle, with and without a shared gate.

What is measured
----------------
The sandbox (its own process, ``--latency`` 25 ms) throttles every token at ``--throttle``
(``30/s``: DRF's ``UserRateThrottle``, ``Retry-After: 1``). ``--processes`` (4) worker
processes each make their share of ``--calls`` (600) ``GET articles/?limit=1`` through one
client of the same token, ``--in-flight`` (16) at a time, all started together once every one is
ready. Three ways, one after the other in the same run against the same sandbox, the throttle's
window let to empty in between:

* **a gate each**: the library's default, each process pausing for its own 429s;
* **shared pause**: ``RedisRateGate(redis, rate=None)``: one pause after a 429 for all;
* **shared pace**: ``RedisRateGate(redis, rate=THROTTLE)``: the pause, and one pace kept by all.

Per way, summed over the processes (counts, not timings; the wall time is for information):
calls that failed, and the 429s the server sent (each process counts its own from the
``on_response`` hook). The ratio is the 429s of "a gate each" over the way's.

Needs a Redis server: ``--redis`` (default ``BESSA_TEST_REDIS``, else
``redis://127.0.0.1:6379/0``). The workers are ``tests/gate_worker.py``.

Run: ``python benchmarks/shared_gate.py [--calls 600] [--no-write]``; the figures go into
``benchmarks/README.md`` between the shared-gate markers unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from harness import SandboxInfo, sandbox_process
from report import README, command_line, machine_facts, preamble, source_state, write_section

from bessa_async._base.rates import parse_rate

BEGIN_MARK = (
    "<!-- shared-gate:begin (written by benchmarks/shared_gate.py; edits here are overwritten) -->"
)
END_MARK = "<!-- shared-gate:end -->"
WORKER = Path(__file__).resolve().parent.parent / "tests" / "gate_worker.py"
WAYS = (("alone", "a gate each"), ("pause", "shared pause"), ("pace", "shared pace"))


@dataclass(frozen=True)
class Way:
    name: str
    calls: int
    ok: int
    failed: int
    throttled: int  # 429s the server sent
    seconds: float


async def run_way(
    info: SandboxInfo, args: argparse.Namespace, mode: str, label: str, prefix: str
) -> Way:
    """One way: the processes started, ready, let go together; their counts summed."""
    share, extra = divmod(args.calls, args.processes)
    env = {**os.environ, "BESSA_TOKEN": info.token}
    children = []
    for number in range(args.processes):
        calls = share + (number < extra)
        children.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(WORKER),
                info.url,
                args.redis,
                mode,
                prefix,
                str(calls),
                str(args.in_flight),
                args.throttle,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=env,
            )
        )
    for child in children:
        assert child.stdout is not None
        line = await child.stdout.readline()
        if line != b"ready\n":
            raise SystemExit(f"a worker did not start: {line!r}")
    started = time.perf_counter()
    for child in children:
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        await child.stdin.drain()
    counts = []
    for child in children:
        out, _ = await child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"a worker failed with exit code {child.returncode}")
        counts.append(json.loads(out))
    seconds = time.perf_counter() - started
    return Way(
        name=label,
        calls=args.calls,
        ok=sum(c["ok"] for c in counts),
        failed=sum(c["failed"] for c in counts),
        throttled=sum(c["429s"] for c in counts),
        seconds=seconds,
    )


async def bench(info: SandboxInfo, args: argparse.Namespace) -> list[Way]:
    store = aioredis.Redis.from_url(args.redis)
    try:
        await store.ping()
    except Exception as exc:
        raise SystemExit(f"Redis at {args.redis} does not answer ({exc}); start one") from None
    finally:
        await store.aclose()
    _, period = parse_rate(args.throttle)
    prefix = f"bessa-bench:{uuid.uuid4().hex}"
    found = []
    for mode, label in WAYS:
        await asyncio.sleep(period + 1)  # the throttle's window empties
        way = await run_way(info, args, mode, label, prefix)
        print(
            f"{label}: {way.failed} failed, {way.throttled} 429s, {way.seconds:.1f} s", flush=True
        )
        found.append(way)
    return found


def table(found: Sequence[Way]) -> list[str]:
    base = found[0].throttled
    rows = [
        "| Way | Calls | Succeeded | Failed | 429s | 429s of a gate each ÷ this | Wall time |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for way in found:
        ratio = "∞" if way.throttled == 0 else f"{base / way.throttled:.1f}x"
        rows.append(
            f"| {way.name} | {way.calls} | {way.ok} | {way.failed} | {way.throttled} "
            f"| {ratio} | {way.seconds:.1f} s |"
        )
    return rows


def section(found: Sequence[Way], command: str, args: argparse.Namespace) -> str:
    facts = machine_facts()
    lines = [
        *preamble(BEGIN_MARK, command),
        f"- Machine: {facts['cores']} cores, {facts['cpu']}, {facts['os']}",
        f"- Versions: {facts['python']}, aiohttp {facts['aiohttp']}, "
        f"bessa_async {facts['bessa_async']}",
        f"- Source: {source_state()}",
        f"- Q1: {args.processes} worker processes, one token, a sandbox throttling at "
        f"{args.throttle} per token (DRF's UserRateThrottle, Retry-After 1 s), "
        f"{args.latency:g} ms latency; {args.calls} calls in all, {args.in_flight} in flight "
        "per process, the default RetryPolicy; one run per row, in this order",
        "- Goals: 0 failed with either shared way; the shared pace at least 10 times fewer 429s "
        "than a gate each",
        "",
        *table(found),
        "",
        END_MARK,
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/shared_gate.py",
        description="Q1: processes sharing a token, with and without a gate in Redis.",
    )
    parser.add_argument("--calls", type=int, default=600, help="calls in all (600)")
    parser.add_argument("--processes", type=int, default=4, help="worker processes (4)")
    parser.add_argument("--in-flight", type=int, default=16, help="per process (16)")
    parser.add_argument("--throttle", default="30/s", help="the DRF rate (30/s)")
    parser.add_argument("--latency", type=float, default=25.0, help="the sandbox's latency, ms")
    parser.add_argument(
        "--redis",
        default=os.environ.get("BESSA_TEST_REDIS", "redis://127.0.0.1:6379/0"),
        help="the Redis server (BESSA_TEST_REDIS, else redis://127.0.0.1:6379/0)",
    )
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    parser.add_argument("--no-write", action="store_true", help="do not touch README.md")
    args = parser.parse_args(argv)
    if min(args.calls, args.processes, args.in_flight) < 1:
        raise SystemExit("--calls, --processes and --in-flight must be positive")
    command = command_line("benchmarks/shared_gate.py", argv)
    with sandbox_process(
        receipts=10,
        latency_ms=args.latency,
        startup_timeout=args.startup_timeout,
        extra=["--throttle", args.throttle],
    ) as info:
        found = asyncio.run(bench(info, args))
    print("\n".join(table(found)))
    if not args.no_write:
        text = section(found, command, args)
        write_section(text, begin_mark=BEGIN_MARK, end_mark=END_MARK, heading="Shared gate figures")
        print(f"\nfigures written to {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
