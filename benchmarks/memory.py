"""P4: the peak RSS of a fresh process that streams receipts through the library."""

from __future__ import annotations

import contextlib
import gc
import json
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import SandboxInfo
from scenarios import WINDOW

from bessa_async import BessaClient

_RUN = Path(__file__).resolve().with_name("run.py")

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


async def stream_child(config: dict[str, Any]) -> dict[str, Any]:
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
    """P4: run :func:`stream_child` in a fresh interpreter and read its figures."""
    config = {
        "url": info.url,
        "token": info.token,
        "items": items,
        "page_size": page_size,
        "mode": mode,
    }
    done = subprocess.run(
        [sys.executable, str(_RUN), "--p4-child", json.dumps(config)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the P4 child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Memory(**json.loads(done.stdout.strip().splitlines()[-1]))
