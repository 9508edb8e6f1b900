"""The speed scenarios: B1 and B2 (the session layer), P1 and P2 (listing).

Each returns the sides it measured; :mod:`figures` turns them into tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from harness import Run, SandboxInfo, Scenario, Side, httpx, measure, measure_sides

from bessa_async import (
    DEFAULT_MAX_IN_FLIGHT,
    BessaClient,
    BlockingClient,
    Hooks,
    opentelemetry_hooks,
)
from bessa_async._instrument.summary import RequestTally

try:  # the traced side of P1 needs an SDK; `nox -s bench` installs it
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
except ImportError:  # pragma: no cover - depends on the environment
    TracerProvider = None  # type: ignore[assignment,misc]


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


LIB_TYPED = "BessaClient, typed (prefetch=1)"
LIB_NO_PREFETCH = "BessaClient, typed, prefetch=0"
LIB_SHARDED = "BessaClient, typed, concurrency=8"
LIB_UNORDERED = "BessaClient, typed, concurrency=8, ordered=False"
LIB_DICTS = "BessaClient, dicts (client.resource)"
LIB_EMPTY_HOOKS = "BessaClient, typed, Hooks() with none set"
LIB_COUNTING = "BessaClient, typed, counting hooks (the CLI's tally)"
LIB_OTEL = "BessaClient, typed, OpenTelemetry (SDK, in-memory)"
LIB_BLOCKING = "BlockingClient, typed (a plain iterator, from a thread)"
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

        def hooked(hooks: Hooks) -> BessaClient:
            return BessaClient(info.token, base_url=info.url, hooks=hooks)

        empty = await stack.enter_async_context(hooked(Hooks()))
        counting = await stack.enter_async_context(hooked(RequestTally().hooks()))

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
            (LIB_EMPTY_HOOKS, lambda: _count(empty.receipts.list(limit=page_size))),
            (LIB_COUNTING, lambda: _count(counting.receipts.list(limit=page_size))),
        ]
        # Q3: the blocking client as sync code uses it (a thread of the caller's, here one the
        # benchmark's loop hands the whole listing to), against the async client it runs.
        blocking = BlockingClient(info.token, base_url=info.url)
        stack.push_async_callback(asyncio.to_thread, blocking.close)

        def blocking_count() -> int:
            return sum(1 for _ in blocking.receipts.list(limit=page_size))

        runs.append((LIB_BLOCKING, lambda: asyncio.to_thread(blocking_count)))
        notes = []
        if TracerProvider is None:
            notes.append("opentelemetry-sdk is not installed: the traced side was skipped")
        else:
            spans = InMemorySpanExporter()
            tracing = TracerProvider()
            tracing.add_span_processor(SimpleSpanProcessor(spans))
            metering = MeterProvider(metric_readers=[InMemoryMetricReader()])
            stack.callback(tracing.shutdown)
            stack.callback(metering.shutdown)
            otel = await stack.enter_async_context(
                hooked(opentelemetry_hooks(tracer_provider=tracing, meter_provider=metering))
            )

            async def traced() -> int:
                spans.clear()  # memory stays flat over the repetitions
                return await _count(otel.receipts.list(limit=page_size))

            runs.append((LIB_OTEL, traced))
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
