"""H1's worker: one client in a process of its own, timing one listing per request of its parent.

``python benchmarks/hooks_child.py MODE URL TOKEN PAGE_SIZE`` imports ``bessa_async`` from
whatever ``PYTHONPATH`` puts first (today's tree, or the library before hooks), opens one
client (one session) for its whole life, prints a ``H1 {...}`` line saying which package it
imported, then for each ``run`` line on stdin streams every receipt once and prints a
``H1 {...}`` line with the wall and CPU seconds and the items seen (for ``count``, the
function calls of one listing under cProfile). It imports nothing from
the benchmarks (the old tree must not see today's modules) and nothing of the library that
its mode does not use (the old tree has no hooks).
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import gc
import json
import pstats
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

import aiohttp

MODES = ("raw", "typed", "empty", "counting", "otel")


def _nothing() -> int:
    return 0


def _say(**fields: Any) -> None:
    print("H1 " + json.dumps(fields), flush=True)


async def _open(
    stack: contextlib.AsyncExitStack, mode: str, url: str, token: str, page_size: int
) -> tuple[Callable[[], AsyncIterable[Any]], Callable[[], int]]:
    """The listing to time, and a count of what its hooks saw so far (0 without hooks)."""
    if mode == "raw":
        headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        session = await stack.enter_async_context(aiohttp.ClientSession(headers=headers))
        first = f"{url}receipts/?limit={page_size}"

        async def raw_items() -> AsyncIterator[Any]:
            next_url: str | None = first
            while next_url:
                async with session.get(next_url) as resp:
                    resp.raise_for_status()
                    page: dict[str, Any] = await resp.json()
                for item in page["results"]:
                    yield item
                next_url = page["next"]

        return raw_items, _nothing

    from bessa_async import BessaClient

    seen = _nothing
    options: dict[str, Any] = {}
    if mode == "empty":
        from bessa_async import Hooks

        options["hooks"] = Hooks()
    elif mode == "counting":
        from bessa_async._instrument.summary import RequestTally

        tally = RequestTally()
        options["hooks"] = tally.hooks()

        def requests_seen() -> int:
            return tally.requests

        seen = requests_seen
    elif mode == "otel":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from bessa_async import opentelemetry_hooks

        spans = InMemorySpanExporter()
        tracing = TracerProvider()
        tracing.add_span_processor(SimpleSpanProcessor(spans))
        metering = MeterProvider(metric_readers=[InMemoryMetricReader()])
        stack.callback(tracing.shutdown)
        stack.callback(metering.shutdown)
        options["hooks"] = opentelemetry_hooks(tracer_provider=tracing, meter_provider=metering)
        finished = [0]

        def spans_seen() -> int:
            # Kept in memory by the exporter: count them, then drop them so memory stays flat.
            finished[0] += len(spans.get_finished_spans())
            spans.clear()
            return finished[0]

        seen = spans_seen
    client = await stack.enter_async_context(BessaClient(token, base_url=url, **options))
    return lambda: client.receipts.list(limit=page_size), seen


async def _once(listing: Callable[[], AsyncIterable[Any]], seen: Callable[[], int]) -> None:
    before = seen()
    gc.collect()
    cpu_started = time.process_time()
    started = time.perf_counter()
    items = 0
    async for _ in listing():
        items += 1
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    _say(seconds=seconds, cpu=cpu, items=items, events=seen() - before)


async def _count_calls(listing: Callable[[], AsyncIterable[Any]]) -> None:
    """One listing under cProfile: the function calls it made, a figure no load disturbs."""
    profile = cProfile.Profile()
    items = 0
    profile.enable()
    async for _ in listing():
        items += 1
    profile.disable()
    _say(calls=pstats.Stats(profile).total_calls, items=items)  # type: ignore[attr-defined]


def main(argv: list[str]) -> int:
    mode, url, token, page_size = argv[0], argv[1], argv[2], int(argv[3])
    if mode not in MODES:
        raise SystemExit(f"mode must be one of {', '.join(MODES)}")
    with asyncio.Runner() as runner:  # one loop for the whole life: the session stays open
        stack = contextlib.AsyncExitStack()
        listing, seen = runner.run(_open(stack, mode, url, token, page_size))
        import bessa_async

        _say(
            ready=True,
            module=bessa_async.__file__,
            has_hooks=hasattr(bessa_async, "Hooks"),
            version=bessa_async.__version__,
        )
        for line in sys.stdin:
            if line.strip() == "run":
                runner.run(_once(listing, seen))
            elif line.strip() == "count":
                runner.run(_count_calls(listing))
            else:
                break
        runner.run(stack.aclose())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
