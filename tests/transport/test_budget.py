"""A long read's retry budget: scattered faults never stop a listing, a down server still
fails fast. The rule is pure; the listings run on the sandbox's seeded faults in virtual time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async import BessaClient, RetryPolicy, ServerError
from bessa_async._transport.retry import RetryBudget
from bessa_async.testing import FakeClock, Fault, Sandbox

WINDOW = (datetime(2026, 5, 31, tzinfo=UTC), datetime(2026, 7, 2, tzinfo=UTC))
# Two attempts per request: a request failing twice in a row (about one in 40 under the
# weather below) stopped the whole listing before it had a budget.
SHORT = RetryPolicy(attempts=2, initial_backoff=0.01, max_backoff=0.1)


# --- the rule ---------------------------------------------------------------------------------


@given(
    st.lists(
        st.one_of(st.just("success"), st.just("begin"), st.integers(min_value=1, max_value=12)),
        max_size=300,
    ),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=0, max_value=30),
    st.floats(min_value=0, max_value=1),
)
def test_the_budget_rule(steps: list[str | int], attempts: int, reserve: int, ratio: float) -> None:
    """A retry within a request's attempts always goes ahead. Beyond them: when other requests
    succeeded since the retried one began, while every retry of the read stays within the
    reserve plus ``ratio`` of its successes; else at most ``attempts`` more per request, while
    those unproven retries of the read stay within ``ratio`` of its successes alone."""
    policy = RetryPolicy(attempts=attempts, budget_reserve=reserve, budget_ratio=ratio)
    budget = RetryBudget()
    began = 0
    for step in steps:
        if step == "success":
            budget.succeeded()
            continue
        if step == "begin":  # another request begins: the one retried from here on
            began = budget.successes
            continue
        assert isinstance(step, int)
        retries, unproven = budget.retries, budget.unproven
        granted = budget.draw(policy, failed=step, successes_before=began)
        earned = ratio * budget.successes
        if step < attempts:
            expected = True
        elif attempts == 1:
            expected = False
        elif budget.successes > began:
            expected = retries + 1 <= reserve + earned
        else:
            expected = step < 2 * attempts and unproven + 1 <= earned
        assert granted is expected
        assert budget.retries == retries + granted
        assert budget.unproven <= ratio * budget.successes


@given(
    st.integers(min_value=0, max_value=2_000),
    st.integers(min_value=1, max_value=6),
    st.floats(min_value=0, max_value=1),
    st.lists(st.integers(min_value=1, max_value=20), max_size=200),
)
def test_a_server_that_goes_down_costs_a_share_of_what_went_well(
    good: int, attempts: int, ratio: float, failures: list[int]
) -> None:
    """After ``good`` successes nothing succeeds: every request that begins then gets at most
    ``attempts`` retries beyond its attempts, and all of them together at most ``ratio`` of
    ``good`` (none when the server was down from the start)."""
    policy = RetryPolicy(attempts=attempts, budget_ratio=ratio)
    budget = RetryBudget()
    for _ in range(good):
        budget.succeeded()
    beyond = 0
    for failed_in_a_row in failures:  # one request after another, each failing
        granted = 0
        for failed in range(1, failed_in_a_row + 1):
            if not budget.draw(policy, failed=failed, successes_before=good):
                break
            granted += 1
        assert granted <= 2 * attempts - 1
        beyond += max(0, granted - (attempts - 1))
    assert beyond <= ratio * good
    if good == 0:
        assert beyond == 0


def test_a_down_server_gets_nothing_beyond_the_attempts() -> None:
    """Nothing ever succeeded: no retry beyond a request's attempts."""
    budget = RetryBudget()
    assert not any(
        budget.draw(RetryPolicy(), failed=failed, successes_before=0) for failed in range(4, 12)
    )


def test_no_retries_means_none_beyond_either() -> None:
    """RetryPolicy.disabled() is never overridden by a budget."""
    budget = RetryBudget()
    for _ in range(100):
        budget.succeeded()
    assert not budget.draw(RetryPolicy.disabled(), failed=1, successes_before=0)
    assert not budget.draw(RetryPolicy.disabled(), failed=1, successes_before=100)


@pytest.mark.parametrize(("reserve", "ratio"), [(-1, 0.1), (1.5, 0.1), (True, 0.1), (1, -0.1)])
def test_budget_settings_are_checked(reserve: object, ratio: object) -> None:
    with pytest.raises(ValueError, match="budget_"):
        RetryPolicy(budget_reserve=reserve, budget_ratio=ratio)  # type: ignore[arg-type]


# --- long reads under seeded faults -------------------------------------------------------------


def _weather(sandbox: Sandbox, path: str) -> None:
    """10 % 503, 3 % 429, 2 % answers dropped, 1 % JSON cut in half: seeded by the sandbox."""
    sandbox.inject(Fault.status(503), path=path, rate=0.10)
    sandbox.inject(Fault.rate_limit(retry_after=0), path=path, rate=0.03)
    sandbox.inject(Fault.drop(after_handler=True), path=path, rate=0.02)
    sandbox.inject(Fault.truncated_json(), path=path, rate=0.01)


def _in_window(sandbox: Sandbox) -> list[str]:
    return sorted(
        r["id"]
        for r in sandbox.data.receipts
        if WINDOW[0] <= datetime.fromisoformat(r["timestamp"]) < WINDOW[1]
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_long_sharded_listing_rides_out_scattered_faults(seed: int) -> None:
    """5,600 receipts, 8 chains, about 240 pages under 16 % faults: the listing finishes with
    every receipt once, though some requests failed more often than their attempts allow."""
    clock = FakeClock()
    sandbox = await asyncio.to_thread(Sandbox, receipts=5_600, seed=seed)
    async with (
        sandbox,
        BessaClient(
            sandbox.token, base_url=sandbox.url, retry=SHORT, clock=clock, sleep=clock.sleep
        ) as client,
    ):
        expected = await asyncio.to_thread(_in_window, sandbox)
        _weather(sandbox, "receipts/")
        listing = client.receipts.list(
            timestamp__gte=WINDOW[0], timestamp__lt=WINDOW[1], limit=25, concurrency=8
        )
        ids = [str(receipt.id) async for receipt in listing]
    assert sorted(ids) == expected
    assert listing.stats.duplicates == 0
    assert len(sandbox.requests) > listing.stats.pages  # faults were met, and ridden out


async def test_a_down_server_still_fails_fast(clock: FakeClock) -> None:
    """Every request answered 503: the 8-way listing fails with ServerError after at most its
    chains' attempts: nothing succeeds, so nothing goes beyond them."""
    policy = RetryPolicy(initial_backoff=0.01, max_backoff=0.1)
    async with (
        Sandbox(receipts=300) as sandbox,
        BessaClient(
            sandbox.token, base_url=sandbox.url, retry=policy, clock=clock, sleep=clock.sleep
        ) as client,
    ):
        sandbox.inject(Fault.status(503), path="receipts/")
        with pytest.raises(ServerError):
            await client.receipts.list(
                timestamp__gte=WINDOW[0], timestamp__lt=WINDOW[1], limit=25, concurrency=8
            ).collect()
    assert 0 < len(sandbox.requests) <= 8 * policy.attempts


# --- a single chain earns its own extra retries -------------------------------------------------


async def _sandbox(receipts: int, seed: int) -> Sandbox:
    return await asyncio.to_thread(Sandbox, receipts=receipts, seed=seed)


@pytest.mark.parametrize("seed", [1, 3, 4])
async def test_a_long_single_chain_listing_rides_out_scattered_faults(seed: int) -> None:
    """One chain, about 140 pages under 16 % faults with two attempts per request: a request
    failing twice in a row (one in 40) stopped it; now it earns extra retries from its own
    pages read, and delivers every receipt once."""
    clock = FakeClock()
    sandbox = await _sandbox(3_500, seed)
    async with (
        sandbox,
        BessaClient(
            sandbox.token, base_url=sandbox.url, retry=SHORT, clock=clock, sleep=clock.sleep
        ) as client,
    ):
        expected = await asyncio.to_thread(_in_window, sandbox)
        _weather(sandbox, "receipts/")
        listing = client.receipts.list(
            timestamp__gte=WINDOW[0], timestamp__lt=WINDOW[1], limit=25, concurrency=1
        )
        ids = [str(receipt.id) async for receipt in listing]
    assert sorted(ids) == expected
    assert listing.stats.duplicates == 0
    assert len(sandbox.requests) > listing.stats.pages


@pytest.mark.parametrize("seed", [1, 3])
async def test_a_changes_feed_on_one_chain_rides_out_scattered_faults(seed: int) -> None:
    """The changes feed at its default concurrency (one chain) under the same weather: every
    receipt once, where two attempts per request used to stop it."""
    clock = FakeClock()
    sandbox = await _sandbox(3_000, seed)
    async with (
        sandbox,
        BessaClient(
            sandbox.token, base_url=sandbox.url, retry=SHORT, clock=clock, sleep=clock.sleep
        ) as client,
    ):
        expected = sorted(str(r["id"]) for r in sandbox.data.receipts)
        _weather(sandbox, "receipts/")
        ids = [str(r.id) async for batch in client.receipts.changes(limit=25) for r in batch.items]
    assert sorted(ids) == expected
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("good_pages", [0, 4, 40])
async def test_a_server_down_after_good_pages_fails_after_a_share_of_them(
    good_pages: int,
) -> None:
    """A single chain reads ``good_pages`` pages, then every request is answered 503: it fails
    after its attempts plus at most ``budget_ratio`` of the requests that succeeded (never more
    than its attempts again), and after its attempts alone when nothing succeeded."""
    clock = FakeClock()
    policy = RetryPolicy(attempts=3, initial_backoff=0.01, max_backoff=0.1)
    async with (
        Sandbox(receipts=3_000) as sandbox,
        BessaClient(
            sandbox.token, base_url=sandbox.url, retry=policy, clock=clock, sleep=clock.sleep
        ) as client,
    ):
        listing = client.receipts.list(limit=25, concurrency=1, prefetch=0)
        pages = listing.pages()
        for _ in range(good_pages):
            await anext(pages)
        good = len(sandbox.requests)
        sandbox.inject(Fault.status(503), path="receipts/")
        with pytest.raises(ServerError):
            await anext(pages)
        await pages.aclose()
    after = len(sandbox.requests) - good
    extra = min(policy.attempts, int(policy.budget_ratio * good))
    assert good >= good_pages
    assert after <= policy.attempts + extra
    if good_pages == 0:
        assert after == policy.attempts
