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

Listing: ``client.receipts.list(...)`` yielding typed models.

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

Incremental sync (S1, S2, in ``sync.py``, which also runs on its own): the requests and time of
``resource.changes()`` runs against a full re-list, on an unchanged tenant (per resource) and
after 2,000 receipts changed (``--sync-receipts``, ``--sync-changed``). Its figures go into their
own README section ("Sync figures").

Each prints min / median / max over ``--repeats`` runs, and the listing targets with where
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

This file is the command line; the sandbox process and the timing are in ``harness.py``, the
scenarios in ``scenarios.py``, ``memory.py`` and ``sync.py``, the tables in ``figures.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence

from figures import BEGIN_MARK, END_MARK, Results, figures_section
from harness import SandboxInfo, sandbox_process
from memory import bench_memory, stream_child
from report import README, command_line, source_state, write_section
from scenarios import bench_concurrent, bench_paging, bench_sharded, bench_stream
from sync import SyncResults, run_sync
from sync import write as write_sync

SCENARIOS = ("B1", "B2", "P1", "P2", "P4", "S1", "S2")
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
    parser.add_argument("--sync-receipts", type=int, help="receipts of S1 and S2's tenant (20000)")
    parser.add_argument(
        "--sync-changed", type=int, default=2000, help="S2's receipts changed since T (2000)"
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
        print(json.dumps(asyncio.run(stream_child(json.loads(args.p4_child)))), flush=True)
        return 0
    q = args.quick
    receipts = _sizes(args.receipts, 5_000, 20_000, is_quick=q)
    requests = _sizes(args.requests, 100, 200, is_quick=q)
    p1_receipts = _sizes(args.p1_receipts, 20_000, 100_000, is_quick=q)
    p2_receipts = _sizes(args.p2_receipts, 10_000, 50_000, is_quick=q)
    p4_items = _sizes(args.p4_items, 200_000, 1_000_000, is_quick=q)
    sync_receipts = _sizes(args.sync_receipts, 5_000, 20_000, is_quick=q)
    repeats = _sizes(args.repeats, 3, 5, is_quick=q)
    sizes = (receipts, requests, p1_receipts, p2_receipts, p4_items, repeats, args.page_size)
    sizes += (sync_receipts, args.sync_changed)
    if min(sizes) < 1 or args.p4_receipts < 0:
        raise SystemExit("sizes and repetitions must be positive")
    only = {name.strip().upper() for name in args.only.split(",") if name.strip()}
    if not only or only - set(SCENARIOS):
        raise SystemExit(f"--only takes a comma-separated subset of {','.join(SCENARIOS)}")
    command = command_line("benchmarks/run.py", argv)
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
    synced: SyncResults | None = None
    if only & {"S1", "S2"}:  # one sandbox and one run for both
        synced = run_sync(
            receipts=sync_receipts,
            changed=args.sync_changed,
            page_size=args.page_size,
            repeats=repeats,
            startup_timeout=args.startup_timeout,
        )

    print()
    print("\n".join(results.lines()))
    if synced is not None:
        print("\n".join(["", *synced.lines()]))
    if not args.no_write:
        if only - {"S1", "S2"}:
            section = figures_section(results, command, repeats, source)
            write_section(
                section, begin_mark=BEGIN_MARK, end_mark=END_MARK, heading="Latest figures"
            )
            print(f"figures written to {README}")
        if synced is not None:
            write_sync(synced, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
