"""Leaving a listing part-way, then resuming it: the token stands for exactly what the caller
was handed, whatever the break point, the chains, the ordering or the prefetch."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bessa_async import BessaClient, BessaError, Paginator, ResumeTokenError
from bessa_async.testing import Fault, Sandbox

WEEK: dict[str, Any] = {
    "timestamp__gte": datetime(2026, 6, 1, tzinfo=UTC),
    "timestamp__lt": datetime(2026, 6, 8, tzinfo=UTC),
}


async def _take(listing: Paginator[Any], count: int) -> list[str]:
    """The ids of the first ``count`` items, leaving the loop right after the last one."""
    got: list[str] = []
    if count == 0:
        return got
    async with aclosing(listing.items()) as items:
        async for item in items:
            got.append(str(item.id))
            if len(got) == count:
                break
    return got


async def _ids(listing: Paginator[Any]) -> list[str]:
    return [str(item.id) for item in await listing.collect()]


@pytest.mark.parametrize("taken", [1, 5, 20, 21, 39])
async def test_one_chain_left_part_way_through_a_page_resumes_after_the_last_item(
    client: BessaClient, taken: int
) -> None:
    everything = await _ids(client.receipts.list(limit=20))
    listing = client.receipts.list(limit=20)
    got = await _take(listing, taken)
    rest = await _ids(client.receipts.list(limit=20, cursor=listing.resume_cursor))
    assert got + rest == everything


async def test_articles_left_after_three_of_ten(client: BessaClient) -> None:
    everything = await _ids(client.articles.list(limit=10))
    assert len(everything) > 10
    listing = client.articles.list(limit=10)
    got = await _take(listing, 3)
    rest = client.articles.list(limit=4, cursor=listing.resume_cursor)  # another page size
    assert got + await _ids(rest) == everything
    assert rest.resume_cursor is None


async def test_collect_with_max_items_resumes_after_the_last_item_returned(
    client: BessaClient,
) -> None:
    everything = await _ids(client.receipts.list(limit=20))
    listing = client.receipts.list(limit=20)
    got = [str(r.id) for r in await listing.collect(max_items=7)]
    rest = await _ids(client.receipts.list(limit=20, cursor=listing.resume_cursor))
    assert got + rest == everything


@pytest.mark.parametrize("ordered", [True, False])
@pytest.mark.parametrize("concurrency", [2, 4, 8])
@pytest.mark.parametrize("taken", [1, 5, 19, 21, 47])
async def test_a_sharded_listing_left_part_way_resumes_after_the_last_item(
    client: BessaClient, concurrency: int, ordered: bool, taken: int
) -> None:
    call: dict[str, Any] = {**WEEK, "limit": 20, "ordered": ordered}
    everything = await _ids(client.receipts.list(**WEEK, limit=20))
    listing = client.receipts.list(**call, concurrency=concurrency)
    got = await _take(listing, taken)
    token = listing.resume_cursor
    rest = await _ids(client.receipts.list(**call, concurrency=concurrency, cursor=token))
    if ordered:
        assert got + rest == everything
    else:
        assert sorted(got + rest) == sorted(everything)
        assert len(got + rest) == len(everything)


async def test_a_resumed_page_failing_again_keeps_its_place(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """The skip of a position travels with a failure on the page it names."""
    everything = await _ids(client.receipts.list(limit=20))
    listing = client.receipts.list(limit=20)
    got = await _take(listing, 3)
    token = listing.resume_cursor
    sandbox.inject(Fault.status(500), path="receipts/")
    with pytest.raises(BessaError) as info:
        await client.receipts.list(limit=20, cursor=token).collect()
    sandbox.clear_faults()
    again = info.value.resume_cursor
    assert again == token
    rest = await _ids(client.receipts.list(limit=20, cursor=again))
    assert got + rest == everything


@pytest.mark.parametrize(
    "bad",
    [
        '{"v":1,"kind":"listing position","cursor":null,"skip":0}',
        '{"v":1,"kind":"listing position","cursor":null,"skip":true}',
        '{"v":true,"kind":"listing position","cursor":null,"skip":2}',
        '{"v":1,"kind":"listing position","cursor":5,"skip":2}',
        '{"v":1,"kind":"listing position","cursor":"x","skip":2,"more":1}',
    ],
)
async def test_a_damaged_position_is_refused_before_sending(
    client: BessaClient, sandbox: Sandbox, bad: str
) -> None:
    sent = len(sandbox.requests)
    with pytest.raises(ResumeTokenError):
        client.receipts.list(limit=20, cursor=bad)
    assert len(sandbox.requests) == sent


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],  # no slow "explain"
)
@given(
    receipts=st.integers(0, 120),
    limit=st.integers(1, 25),
    concurrency=st.sampled_from([1, 2, 4, 8]),
    again=st.sampled_from([1, 2, 4, 8]),
    ordered=st.booleans(),
    prefetch=st.sampled_from([0, 1, 3]),
    first=st.floats(0, 1),
    second=st.floats(0, 1),
)
def test_resuming_hands_over_exactly_the_items_after_the_last_one_taken(
    receipts: int,
    limit: int,
    concurrency: int,
    again: int,
    ordered: bool,
    prefetch: int,
    first: float,
    second: float,
) -> None:
    """Break anywhere, resume (at the same or another concurrency when sharded), break again,
    resume to the end: every item once, in API order when ordered."""
    window: dict[str, Any] = {
        "timestamp__gte": datetime(2026, 5, 25, tzinfo=UTC),
        "timestamp__lt": datetime(2026, 7, 5, tzinfo=UTC),
    }

    async def run() -> tuple[list[str], list[str]]:
        async with (
            Sandbox(receipts=receipts) as sandbox,
            BessaClient(sandbox.token, base_url=sandbox.url) as client,
        ):
            options: dict[str, Any] = {"limit": limit, "ordered": ordered, "prefetch": prefetch}
            everything = await _ids(client.receipts.list(**window, limit=limit))
            got: list[str] = []
            token: str | None = None
            chains = concurrency
            for share in (first, second, None):
                if token is None and got:
                    break  # everything was handed over
                listing = client.receipts.list(
                    **window, **options, concurrency=chains, cursor=token
                )
                if share is None:
                    got += await _ids(listing)
                else:
                    got += await _take(listing, round(share * (len(everything) - len(got))))
                token = listing.resume_cursor
                # A chain's position resumes one chain; a sharded token any number of them.
                sharded = token is not None and token.startswith('{"v":1,"kind":"sharded')
                chains = again if sharded else 1
            assert token is None
            return got, everything

    got, everything = asyncio.run(run())
    if ordered:
        assert got == everything
    else:
        assert sorted(got) == sorted(everything)
        assert len(got) == len(everything)
