"""Q2: many tenants synced from a task queue, by one, two and four arq workers.

What is measured
----------------
The worker of ``examples/arq_tenants`` (as shipped, less its schedule: ten jobs at a time per
worker, a poll of the queue every 0.5 s, the copy in one SQLite file) copies ``--tenants``
(100) tenants of one sandbox, receipts and articles, each a job; Redis and the sandbox run on
this machine, each in its own process. For each worker count the
copy starts empty (a first load: ``--receipts`` ÷ 10 receipts per tenant, tenant A ten times
that) and then runs again with nothing changed (the steady state: one request per feed). Wall
time runs from queueing ``sync_all`` to the last job's end (workers already started); requests
are the sandbox's own count. The sandbox's and the workers' CPU time (from ``/proc``) say which
side is the limit: the sandbox is one process, so it can use at most one core.

Run: ``python benchmarks/queues.py [--tenants N] [--workers 1,2,4] [--no-write]``; the figures
go into ``benchmarks/README.md`` between the queue markers unless ``--no-write``. Two knobs
find where the time goes: ``--poll-delay S`` (arq's pause between polls of the queue) and
``--store-per-worker`` (each worker its own SQLite file, so no writer waits for another's lock;
a first load only, since no store then holds every checkpoint).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import sandbox_process
from report import command_line, machine_facts, preamble, source_state, write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from arq import create_pool  # noqa: E402
from arq.connections import RedisSettings  # noqa: E402

from examples.arq_tenants import worker  # noqa: E402
from examples.arq_tenants.tenants import RESOURCES  # noqa: E402

# The example's worker without its schedule, so that only the runs measured are queued (arq
# reads a settings class's own attributes, not inherited ones).
WorkerSettings = type(
    "WorkerSettings",
    (),
    {**{k: v for k, v in vars(worker.WorkerSettings).items() if not k.startswith("__")}},
)
WorkerSettings.cron_jobs = []
if poll := os.environ.get("BESSA_BENCH_POLL_DELAY"):  # --poll-delay, in the workers
    WorkerSettings.poll_delay = float(poll)

BEGIN_MARK = "<!-- queues:begin (written by benchmarks/queues.py; edits here are overwritten) -->"
END_MARK = "<!-- queues:end -->"
TICKS = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@contextmanager
def _redis_server() -> Iterator[str]:
    """A Redis server of our own on loopback (Debian's redis-server), no persistence."""
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("needs redis-server (apt-get install redis-server)")
    port = _free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait()


def _control(api: str, path: str, method: str = "GET") -> Any:
    root = api.split("/v1/public/")[0]
    request = urllib.request.Request(f"{root}/_sandbox/{path}", method=method)
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


@contextmanager
def _workers(
    count: int, env: dict[str, str], logs: Path, store_each: bool
) -> Iterator[list[subprocess.Popen[bytes]]]:
    started = []
    try:
        for number in range(count):
            log = logs / f"worker-{number}.log"
            with log.open("wb") as out:
                started.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "arq", "queues.WorkerSettings"],
                        env={
                            **os.environ,
                            **env,
                            "PYTHONPATH": f"{ROOT}:{ROOT / 'benchmarks'}",
                            **(
                                {"BESSA_STORE": f"{env['BESSA_STORE']}.{number}"}
                                if store_each
                                else {}
                            ),
                        },
                        cwd=ROOT,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        for number in range(count):
            log = logs / f"worker-{number}.log"
            _wait(lambda log=log: b"Starting worker" in log.read_bytes(), 60, "a worker to start")
        yield started
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            process.wait()


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.01)


def _idle(queue: redis.Redis) -> bool:
    """No job queued, running or still to be picked up."""
    sync: Any = queue
    return sync.zcard("arq:queue") == 0 and not any(sync.scan_iter("arq:in-progress:*"))


@dataclass
class Run:
    workers: int
    phase: str
    seconds: float
    requests: int
    sandbox_cpu: float
    workers_cpu: float


def _one(
    url: str, queue: redis.Redis, api: str, sandbox: int, workers: list[subprocess.Popen[bytes]]
) -> tuple[float, int, float, float]:
    _control(api, "requests", method="DELETE")
    before = _cpu(sandbox), sum(_cpu(w.pid) for w in workers)

    async def enqueue() -> None:
        pool = await create_pool(RedisSettings.from_dsn(url))
        await pool.enqueue_job("sync_all")
        await pool.aclose()

    start = time.perf_counter()
    asyncio.run(enqueue())
    time.sleep(0.02)  # sync_all is picked up and queues the jobs
    _wait(lambda: _idle(queue), 600, "the jobs to finish")
    seconds = time.perf_counter() - start
    after = _cpu(sandbox), sum(_cpu(w.pid) for w in workers)
    requests = int(_control(api, "requests?since=0")["count"])
    return seconds, requests, after[0] - before[0], after[1] - before[1]


def measure(
    tenants: int,
    receipts: int,
    counts: Sequence[int],
    repeats: int,
    poll_delay: float | None,
    store_each: bool,
) -> list[Run]:
    runs = []
    with (
        _redis_server() as url,
        sandbox_process(
            receipts=receipts,
            latency_ms=0,
            startup_timeout=120,
            extra=["--tenants", str(tenants)],
        ) as sandbox,
    ):
        api = sandbox.url
        tokens = {t["name"]: t["token"] for t in _control(api, "tenants")["tenants"]}
        queue = redis.Redis.from_url(url)
        for count in counts:
            for repeat in range(repeats):
                with tempfile.TemporaryDirectory() as tmp:
                    queue.flushdb()
                    tenants_file = Path(tmp) / "tenants.json"
                    tenants_file.write_text(json.dumps(tokens), encoding="utf-8")
                    env = {
                        "REDIS_URL": url,
                        "BESSA_TENANTS_FILE": str(tenants_file),
                        "BESSA_STORE": str(Path(tmp) / "copy.sqlite3"),
                        "BESSA_BASE_URL": api,
                    }
                    if poll_delay is not None:
                        env["BESSA_BENCH_POLL_DELAY"] = str(poll_delay)
                    logs = Path(os.environ.get("BESSA_BENCH_LOGS", tmp))
                    logs.mkdir(parents=True, exist_ok=True)
                    with _workers(count, env, logs, store_each) as workers:
                        # Stores of their own hold no checkpoint of the tenants another
                        # worker copied: only the first load means anything then.
                        phases = ("first load",) if store_each else ("first load", "unchanged")
                        for phase in phases:
                            seconds, requests, s_cpu, w_cpu = _one(
                                url, queue, api, sandbox.pid, workers
                            )
                            runs.append(Run(count, phase, seconds, requests, s_cpu, w_cpu))
                            print(
                                f"{count} worker(s), {phase}, run {repeat + 1}: {seconds:.2f} s,"
                                f" {requests} requests, sandbox CPU {s_cpu:.2f} s,"
                                f" workers CPU {w_cpu:.2f} s",
                                flush=True,
                            )
        queue.close()
    return runs


def table(runs: list[Run], tenants: int) -> list[str]:
    lines = [
        "| Workers | Run | Wall time (median) | Speed-up | Requests | Requests/s | Sandbox CPU"
        " (share of one core) | Workers' CPU |",
        "|--:|---|--:|--:|--:|--:|--:|--:|",
    ]
    for phase in dict.fromkeys(r.phase for r in runs):
        base = None
        for count in sorted({r.workers for r in runs}):
            mine = [r for r in runs if r.workers == count and r.phase == phase]
            seconds = statistics.median(r.seconds for r in mine)
            requests = int(statistics.median(r.requests for r in mine))
            s_cpu = statistics.median(r.sandbox_cpu for r in mine)
            w_cpu = statistics.median(r.workers_cpu for r in mine)
            base = base or seconds
            lines.append(
                f"| {count} | {phase}, {tenants} tenants x {len(RESOURCES)} | {seconds:.2f} s"
                f" | {base / seconds:.2f}x | {requests:,} | {requests / seconds:,.0f}"
                f" | {s_cpu:.2f} s ({s_cpu / seconds:.0%}) | {w_cpu:.2f} s |"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=100, help="tenants synced (100)")
    parser.add_argument("--receipts", type=int, default=2000, help="tenant A's (2000)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts (1,2,4)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per worker count (3)")
    parser.add_argument(
        "--poll-delay",
        type=float,
        default=None,
        help="seconds between a worker's polls of the queue (arq's default: 0.5)",
    )
    parser.add_argument(
        "--store-per-worker",
        action="store_true",
        help="each worker its own SQLite file (no writer waits for another's lock)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch README.md")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.workers.split(",")]
    runs = measure(
        args.tenants, args.receipts, counts, args.repeats, args.poll_delay, args.store_per_worker
    )
    facts = machine_facts()
    section = [
        *preamble(BEGIN_MARK, command_line("benchmarks/queues.py", argv)),
        f"- Machine: {facts['cores']} cores, {facts['cpu']}, {facts['os']}",
        f"- Versions: {facts['python']}, aiohttp {facts['aiohttp']},"
        f" bessa_async {facts['bessa_async']}",
        f"- Source: {source_state()}",
        f"- {args.tenants} tenants ({args.receipts:,} receipts of tenant A, a tenth of that each"
        f" for the others); median of {args.repeats} runs per worker count; each worker runs"
        f" up to {WorkerSettings.max_jobs} jobs at once and polls the queue every"
        f" {args.poll_delay or 0.5} s; the copy in "
        + ("one SQLite file per worker" if args.store_per_worker else "one SQLite file"),
        "",
        *table(runs, args.tenants),
        "",
        END_MARK,
    ]
    text = "\n".join(section)
    print(text)
    if not args.no_write:
        write_section(text, begin_mark=BEGIN_MARK, end_mark=END_MARK, heading="Queue figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
