"""Paginator behaviour over loopback: prefetch, early exit, cancellation, resume, sharding."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import aclosing
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bessa_async import BessaClient, Receipt, ServerError, business_days
from bessa_async.testing import FakeClock, Fault, Sandbox

JUNE = (datetime(2026, 5, 31, 22, tzinfo=UTC), datetime(2026, 6, 30, 22, tzinfo=UTC))


def _others() -> list[asyncio.Task[object]]:
    """Tasks besides this test's own and the in-process sandbox's connection handlers."""
    return [
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task()
        and getattr(t.get_coro(), "__qualname__", "") != "RequestHandler.start"
    ]


def _june(sandbox: Sandbox) -> list[str]:
    start, end = JUNE
    return [
        r["id"]
        for r in sandbox.data.receipts
        if start <= datetime.fromisoformat(r["timestamp"]) < end
    ]


async def _settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_prefetch_requests_exactly_that_many_pages_ahead(
    client: BessaClient, sandbox: Sandbox, prefetch: int
) -> None:
    """While the caller holds page 1, `prefetch` more pages are requested, no more."""
    pages = client.receipts.list(limit=10, prefetch=prefetch).pages()
    async with aclosing(pages):
        await anext(pages)
        await sandbox.wait_for_requests(1 + prefetch)  # however slow the machine
        # Room for an extra request to show up; a busy machine can only hide one, never invent it.
        for _ in range(20):
            await asyncio.sleep(0.005)
        assert len(sandbox.requests) == 1 + prefetch
    await _settle()
    assert not _others()


async def test_leaving_early_cancels_the_request_in_flight(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """break out of async for: the prefetch is cancelled, nothing stays pending."""
    sandbox.inject(Fault.latency(0.2), path="receipts/")
    seen = 0
    async for _ in client.receipts.list(limit=5):
        seen += 1
        if seen == 3:
            break
    await _settle()
    assert not _others()
    assert seen == 3


async def test_cancelling_a_listing_leaves_nothing_pending(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """A consumer task cancelled mid-listing takes its prefetch task with it."""
    sandbox.inject(Fault.latency(5.0), path="receipts/")
    consumer = asyncio.create_task(client.receipts.list(limit=5).collect())
    await asyncio.sleep(0.05)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    await _settle()
    assert not _others()


async def test_resume_after_a_failure_loses_and_repeats_nothing(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """The error carries resume_cursor; list(cursor=...) continues from the failed page."""
    everything = [r.id for r in await client.receipts.list(limit=40).collect()]
    got: list[uuid.UUID] = []

    async def read_until_it_fails() -> None:
        async with aclosing(client.receipts.list(limit=40, prefetch=0).pages()) as pages:
            async for page in pages:
                got.extend(r.id for r in page.results)
                if len(got) == 80:
                    sandbox.inject(Fault.status(500), path="receipts/", times=10)

    with pytest.raises(ServerError) as info:
        await read_until_it_fails()
    cursor = info.value.resume_cursor
    assert cursor is not None
    sandbox.clear_faults()
    rest = await client.receipts.list(limit=40, cursor=cursor).collect()
    assert got + [r.id for r in rest] == everything


async def test_first_page_failure_resumes_from_the_start(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """A failure on the first page has no cursor: start again."""
    sandbox.inject(Fault.status(503), path="receipts/")
    with pytest.raises(ServerError) as info:
        await client.receipts.list().collect()
    assert info.value.resume_cursor is None


async def test_sharded_day_streams_in_api_order(client: BessaClient, sandbox: Sandbox) -> None:
    """for_day with concurrency: the same receipts, same order, as one chain."""
    day = date(2026, 6, 13)
    one = [r.id for r in await client.receipts.for_day(day, limit=5).collect()]
    many = client.receipts.for_day(day, limit=5, concurrency=4)
    assert [r.id for r in await many.collect()] == one
    assert many.stats.shards > 1  # cut to fit the day's 14 receipts in pages of 5


async def test_sharded_month_unordered_is_the_same_set(client: BessaClient) -> None:
    """ordered=False yields as pages arrive: the same ids, each once."""
    start, end = JUNE
    one = [
        r.id for r in await client.receipts.list(timestamp__gte=start, timestamp__lt=end).collect()
    ]
    listing = client.receipts.list(
        timestamp__gte=start, timestamp__lt=end, concurrency=8, ordered=False, limit=10
    )
    many = [r.id async for r in listing]
    assert sorted(many) == sorted(one)
    assert len(set(many)) == len(many)
    assert listing.stats.duplicates == 0


async def test_sharding_needs_both_bounds(client: BessaClient, sandbox: Sandbox) -> None:
    """With one bound only, concurrency falls back to one cursor chain."""
    start, _ = JUNE
    listing = client.receipts.list(timestamp__gte=start, concurrency=8, limit=100)
    assert len(await listing.collect()) == 300
    assert listing.stats.shards == 1


async def test_shards_stay_within_the_in_flight_limit(sandbox: Sandbox) -> None:
    """concurrency=8 on a client allowing 3 in flight opens at most 3 connections."""
    sandbox.inject(Fault.latency(0.01), path="receipts/")
    start, end = JUNE
    async with BessaClient(sandbox.token, base_url=sandbox.url, max_in_flight=3) as client:
        items = await client.receipts.list(
            timestamp__gte=start, timestamp__lt=end, concurrency=8, limit=10
        ).collect()
    assert len(items) == len(_june(sandbox))
    assert sandbox.connections_opened <= 3


async def test_a_429_pauses_every_shard(sandbox: Sandbox, clock: FakeClock) -> None:
    """A throttled shard makes the whole listing wait, then it completes."""
    sandbox.inject(Fault.rate_limit(retry_after=2), path="receipts/", times=1)
    start, end = JUNE
    async with BessaClient(
        sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep
    ) as client:
        items = await client.receipts.list(
            timestamp__gte=start, timestamp__lt=end, concurrency=8, limit=20
        ).collect()
    assert len({r.id for r in items}) == len(items) == len(_june(sandbox))
    assert 2.0 in clock.sleeps


async def test_cursor_and_concurrency_do_not_mix(client: BessaClient) -> None:
    """A cursor names a place in one chain: combining it with shards is refused."""
    start, end = JUNE
    with pytest.raises(ValueError, match="cannot be combined"):
        client.receipts.list(timestamp__gte=start, timestamp__lt=end, cursor="x", concurrency=2)


@pytest.mark.parametrize(
    ("option", "value"), [("concurrency", 0), ("prefetch", -1), ("concurrency", True)]
)
async def test_bad_listing_options(client: BessaClient, option: str, value: object) -> None:
    """Nonsense concurrency or prefetch values are refused at the call."""
    with pytest.raises(ValueError, match=option):
        client.receipts.list(**{option: value})  # type: ignore[arg-type]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    receipts=st.integers(0, 250),
    seed=st.integers(0, 3),
    first=st.dates(min_value=date(2026, 5, 30), max_value=date(2026, 7, 2)),
    days=st.integers(0, 10),
    concurrency=st.integers(1, 9),
    limit=st.integers(1, 60),
    ordered=st.booleans(),
    next_style=st.sampled_from(["url", "cursor"]),
)
def test_sharded_listing_over_http_is_exact(
    receipts: int,
    seed: int,
    first: date,
    days: int,
    concurrency: int,
    limit: int,
    ordered: bool,
    next_style: str,
) -> None:
    """Against the sandbox: the window's receipts, each once, in API order when ordered."""
    windows = business_days(first, date.fromordinal(first.toordinal() + days))
    start, end = next(iter(windows.values()))[0], list(windows.values())[-1][1]

    async def run() -> tuple[list[Receipt], list[str]]:
        async with (
            Sandbox(receipts=receipts, seed=seed, next_style=next_style) as sandbox,  # type: ignore[arg-type]
            BessaClient(sandbox.token, base_url=sandbox.url) as client,
        ):
            listing = client.receipts.list(
                timestamp__gte=start,
                timestamp__lt=end,
                limit=limit,
                concurrency=concurrency,
                ordered=ordered,
            )
            got = await listing.collect()
            expected = [
                r["id"]
                for r in sandbox.data.receipts
                if start <= datetime.fromisoformat(r["timestamp"]) < end
            ]
            return got, expected

    got, expected = asyncio.run(run())
    ids = [str(r.id) for r in got]
    assert sorted(ids) == sorted(expected)
    assert len(set(ids)) == len(ids)
    if ordered:
        assert ids == expected
