"""Sharded listings against the sandbox: resumed after a failure part-way, the buffer bound
under faults, and the resume tokens that are refused."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bessa_async import (
    BessaClient,
    BessaError,
    Receipt,
    ResumeTokenError,
    ServerError,
)
from bessa_async._listing.pagination import ListingRequest, Paginator
from bessa_async._listing.sharding import ShardPlan, raw_identity, raw_time, sharded_pages
from bessa_async.testing import FakeClock, Fault, Sandbox

JUNE: dict[str, Any] = {
    "timestamp__gte": datetime(2026, 5, 31, 22, tzinfo=UTC),
    "timestamp__lt": datetime(2026, 6, 30, 22, tzinfo=UTC),
}


async def _fail_part_way(
    sandbox: Sandbox, listing: Paginator[Receipt], after_pages: int, fault: Fault
) -> tuple[list[uuid.UUID], BessaError]:
    """Read pages until ``after_pages`` were handed over, then break the server for good."""
    got: list[uuid.UUID] = []

    async def read() -> None:
        pages = 0
        async with aclosing(listing.pages()) as stream:
            async for page in stream:
                got.extend(r.id for r in page.results)
                pages += 1
                if pages == after_pages:
                    sandbox.inject(fault, path="receipts/")

    with pytest.raises(BessaError) as info:
        await read()
    return got, info.value


@pytest.mark.parametrize("ordered", [True, False])
@pytest.mark.parametrize(
    "fault", [Fault.status(500), Fault.malformed_json(), Fault.drop()], ids=lambda f: f.kind
)
async def test_a_sharded_month_resumes_after_a_failure_part_way(
    client: BessaClient, sandbox: Sandbox, ordered: bool, fault: Fault
) -> None:
    """concurrency=8 fails part-way; the error's resume_cursor lists the rest: nothing lost,
    nothing repeated, in order when ordered, even when resumed at another concurrency."""
    everything = [r.id for r in await client.receipts.list(**JUNE, limit=10).collect()]
    listing = client.receipts.list(**JUNE, limit=10, concurrency=8, ordered=ordered)
    got, exc = await _fail_part_way(sandbox, listing, 6, fault)
    assert 0 < len(got) < len(everything)
    token = exc.resume_cursor
    assert token is not None
    assert token == listing.resume_cursor
    assert json.loads(token)["v"] == 1
    sandbox.clear_faults()
    rest = client.receipts.list(**JUNE, limit=10, concurrency=3, ordered=ordered, cursor=token)
    after = [r.id for r in await rest.collect()]
    assert rest.resume_cursor is None  # everything handed over
    if ordered:
        assert got + after == everything
    else:
        assert sorted(got + after) == sorted(everything)
        assert len(set(got + after)) == len(everything)


async def test_a_listing_left_early_says_where_to_resume(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """Leaving a sharded listing between pages: its resume_cursor lists the rest."""
    everything = [r.id for r in await client.receipts.list(**JUNE, limit=10).collect()]
    listing = client.receipts.list(**JUNE, limit=10, concurrency=4)
    got: list[uuid.UUID] = []
    async with aclosing(listing.pages()) as pages:
        async for page in pages:
            got.extend(r.id for r in page.results)
            if len(got) >= 95:
                break
    token = listing.resume_cursor
    assert token is not None
    rest = await client.receipts.list(**JUNE, limit=10, concurrency=4, cursor=token).collect()
    assert got + [r.id for r in rest] == everything


async def test_a_failure_before_anything_was_handed_over_starts_again(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """As with one chain: nothing handed over, no token (start again)."""
    sandbox.inject(Fault.status(500), path="receipts/")
    with pytest.raises(ServerError) as info:
        await client.receipts.list(**JUNE, limit=10, concurrency=8).collect()
    assert info.value.resume_cursor is None


async def _token(client: BessaClient, sandbox: Sandbox, **call: Any) -> str:
    listing = client.receipts.list(**JUNE, limit=10, concurrency=4, **call)
    async with aclosing(listing.pages()) as pages:
        async for _ in pages:
            break
    token = listing.resume_cursor
    assert token is not None
    return token


async def test_bad_and_foreign_tokens_are_refused_before_sending(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """A damaged token, one from a newer library, or one another listing made (resource,
    window, filters, ordering) is a ResumeTokenError (a ValueError) at the call."""
    token = await _token(client, sandbox)
    data = json.loads(token)
    point = sandbox.data.sales_points[0]["id"]
    other_window = {**JUNE, "timestamp__lt": JUNE["timestamp__lt"] - timedelta(days=1)}
    outside = {**data, "shards": [{**data["shards"][0], "start": "2026-01-01T00:00:00+00:00"}]}
    cases: list[tuple[dict[str, Any], str, str]] = [
        (JUNE, "{", "not JSON"),
        (JUNE, json.dumps({**data, "v": 2}), "upgrade the library"),
        (JUNE, json.dumps({**data, "shards": [{"start": "x"}]}), "not an aware ISO time"),
        (JUNE, json.dumps(outside), "outside the listing's window"),
        (other_window, token, "for the window"),
        ({**JUNE, "sales_point": point}, token, "filters differ from this call's in sales_point"),
        ({**JUNE, "ordered": False}, token, "ordered=True"),
        ({"timestamp__gte": JUNE["timestamp__gte"]}, token, "same window"),
    ]
    sent = len(sandbox.requests)
    for call, bad, message in cases:
        with pytest.raises(ResumeTokenError, match=message) as info:
            client.receipts.list(**call, limit=10, concurrency=4, cursor=bad)
        assert isinstance(info.value, ValueError)
    with pytest.raises(ResumeTokenError, match="is for 'receipts', this call lists 'closings'"):
        client.closings.list(**JUNE, concurrency=2, cursor=token)
    assert len(sandbox.requests) == sent


async def test_a_token_resumes_at_concurrency_one(client: BessaClient, sandbox: Sandbox) -> None:
    """Forgetting concurrency= when resuming still lists the rest, one shard at a time."""
    everything = [r.id for r in await client.receipts.list(**JUNE, limit=10).collect()]
    listing = client.receipts.list(**JUNE, limit=10, concurrency=8)
    got, exc = await _fail_part_way(sandbox, listing, 4, Fault.status(500))
    sandbox.clear_faults()
    rest = await client.receipts.list(**JUNE, limit=10, cursor=exc.resume_cursor).collect()
    assert got + [r.id for r in rest] == everything


@pytest.mark.parametrize("max_buffered", [60, 400])
async def test_the_buffer_bound_holds_at_8_chains_under_faults(
    clock: FakeClock, max_buffered: int
) -> None:
    """Over HTTP with answers failing and retried, and a consumer slower than the chains: the
    items held never exceed ``max_buffered``."""
    async with (
        Sandbox(receipts=2500) as sandbox,
        BessaClient(sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep) as client,
    ):
        await _bounded_listing(client, sandbox, max_buffered)


async def _bounded_listing(client: BessaClient, sandbox: Sandbox, max_buffered: int) -> None:
    # Fewer failures in all than a call's attempts: every page arrives, some late.
    sandbox.inject(Fault.status(503), path="receipts/", rate=0.3, times=2)
    sandbox.inject(Fault.drop(), path="receipts/", rate=0.1, times=1)
    receipts = client.receipts
    start, end = JUNE["timestamp__gte"], JUNE["timestamp__lt"]
    query = {**JUNE, "limit": 10}
    plan = ShardPlan(
        field="timestamp",
        start=start,
        end=end,
        concurrency=8,
        page_size=10,
        max_buffered=max_buffered,
    )
    request = ListingRequest(
        fetch=receipts._get_json,
        path=receipts.path,
        params=query,
        decode=receipts._decode_page,
        resource="receipts",
        clock=time.monotonic,
    )
    source = sharded_pages(
        request,
        plan=plan,
        when=raw_time("timestamp"),
        ident=raw_identity,
    )
    listing = Paginator(request, sharded=source)
    got: list[uuid.UUID] = []
    async with aclosing(listing.pages()) as pages:
        async for page in pages:
            got.extend(r.id for r in page.results)
            await asyncio.sleep(0.002)  # the consumer's own work, while the chains read on
    everything = [r.id for r in await client.receipts.list(**JUNE, limit=10).collect()]
    assert got == everything
    assert listing.stats.shards > 8
    assert 0 < listing.stats.peak_buffered <= max_buffered
