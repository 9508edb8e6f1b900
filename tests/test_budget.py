"""A long read's retry budget: scattered faults never stop a listing, a down server still
fails fast. The rule is pure; the listings run on the sandbox's seeded faults in virtual time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async import BessaClient, RetryPolicy, ServerError
from bessa_async._retry import RetryBudget
from bessa_async.testing import FakeClock, Fault, Sandbox

WINDOW = (datetime(2026, 5, 31, tzinfo=UTC), datetime(2026, 7, 2, tzinfo=UTC))
# Two attempts per request: a request failing twice in a row (about one in 40 under the
# weather below) stopped the whole listing before it had a budget.
SHORT = RetryPolicy(attempts=2, initial_backoff=0.01, max_backoff=0.1)


# --- the rule ---------------------------------------------------------------------------------


@given(
    st.lists(st.sampled_from(["success", "begin", "within", "beyond"]), max_size=300),
    st.integers(min_value=0, max_value=30),
    st.floats(min_value=0, max_value=1),
)
def test_retries_beyond_attempts_stay_a_share_of_successes(
    steps: list[str], reserve: int, ratio: float
) -> None:
    """A retry within a request's attempts always goes ahead; one beyond them only when other
    requests succeeded since the retried one began, and every retry of the read stays within
    the reserve plus ``ratio`` of its successes."""
    policy = RetryPolicy(budget_reserve=reserve, budget_ratio=ratio)
    budget = RetryBudget()
    began = 0
    for step in steps:
        if step == "success":
            budget.succeeded()
            continue
        if step == "begin":  # another request begins: the one retried from here on
            began = budget.successes
            continue
        before = budget.retries
        granted = budget.draw(policy, beyond_attempts=step == "beyond", successes_before=began)
        if step == "within":
            assert granted
        else:
            assert granted is (
                budget.successes > began and before + 1 <= reserve + ratio * budget.successes
            )
        assert budget.retries == before + granted


def test_a_down_server_gets_nothing_beyond_the_attempts() -> None:
    """Nothing succeeds while a request is retried: no retry beyond its attempts, however much
    the read earned before."""
    budget = RetryBudget()
    for _ in range(100):
        budget.succeeded()
    assert not any(
        budget.draw(RetryPolicy(), beyond_attempts=True, successes_before=100) for _ in range(9)
    )


def test_no_retries_means_none_beyond_either() -> None:
    """RetryPolicy.disabled() is never overridden by a budget."""
    budget = RetryBudget()
    for _ in range(100):
        budget.succeeded()
    assert not budget.draw(RetryPolicy.disabled(), beyond_attempts=True, successes_before=0)


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
