"""Fault soak: long listings while the sandbox misbehaves at random (with a fixed seed).

CI runs a short version as part of the suite; ``nox -s soak`` sets ``BESSA_SOAK=long`` for the
full one (20k receipts) and prints the figures (retries used, time overhead vs fault-free).
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from datetime import UTC, datetime

import pytest

from bessa_async import BessaClient, RetryPolicy
from bessa_async.testing import FakeClock, Fault, FaultRule, Sandbox

pytestmark = pytest.mark.soak

LONG = os.environ.get("BESSA_SOAK") == "long"
RECEIPTS = 20_000 if LONG else 2_500
PAGE = 100 if LONG else 20
MONTH = (datetime(2026, 5, 31, tzinfo=UTC), datetime(2026, 7, 2, tzinfo=UTC))
# Enough attempts that a request failing every time is practically impossible (0.2 ** 12).
PATIENT = RetryPolicy(attempts=12, initial_backoff=0.01, max_backoff=0.1)


def _inject_weather(sandbox: Sandbox, path: str) -> list[FaultRule]:
    """10 % 503 (half JSON, half HTML), 3 % 429 (Retry-After 0-1 s), 2 % drops mid-response,
    1 % truncated bodies, and latency on a fifth of the requests."""
    return [
        sandbox.inject(Fault.latency(0.002), path=path, rate=0.2),
        sandbox.inject(Fault.status(503), path=path, rate=0.05),
        sandbox.inject(Fault.status(503, body="html"), path=path, rate=0.05 / 0.95),
        sandbox.inject(Fault.rate_limit(retry_after=0), path=path, rate=0.015),
        sandbox.inject(Fault.rate_limit(retry_after=1), path=path, rate=0.015),
        sandbox.inject(Fault.drop(after_handler=True), path=path, rate=0.02),
        sandbox.inject(Fault.truncate(), path=path, rate=0.01),
    ]


async def _listing(sandbox: Sandbox, *, window: bool) -> tuple[list[str], float, int]:
    clock = FakeClock()
    began = time.perf_counter()
    async with BessaClient(
        sandbox.token, base_url=sandbox.url, retry=PATIENT, clock=clock, sleep=clock.sleep
    ) as client:
        if window:
            listing = client.receipts.list(
                timestamp__gte=MONTH[0], timestamp__lt=MONTH[1], limit=PAGE, concurrency=8
            )
        else:
            listing = client.receipts.list(limit=PAGE)
        ids = [str(receipt.id) async for receipt in listing]
    assert listing.stats.duplicates == 0
    return ids, time.perf_counter() - began, listing.stats.pages


@pytest.mark.parametrize("window", [True, False], ids=["sharded-month", "single-chain"])
async def test_listing_survives_the_weather(
    window: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under random 503/429/drops/truncation: exactly the window's ids, once each, in order."""
    sandbox = await asyncio.to_thread(Sandbox, receipts=RECEIPTS, seed=7)
    # The in-process server's 20k receipts are not the client's: keep the collector's full
    # passes over them from counting as the client blocking the loop.
    gc.freeze()
    try:
        summary = await _weather(sandbox, window=window)
    finally:
        gc.unfreeze()
    with capsys.disabled():
        print(summary)


def _expected(sandbox: Sandbox, *, window: bool) -> list[str]:
    return [
        r["id"]
        for r in sandbox.data.receipts
        if not window or MONTH[0] <= datetime.fromisoformat(r["timestamp"]) < MONTH[1]
    ]


async def _weather(sandbox: Sandbox, *, window: bool) -> str:
    async with sandbox:
        expected = await asyncio.to_thread(_expected, sandbox, window=window)
        calm, calm_seconds, _ = await _listing(sandbox, window=window)
        assert calm == expected
        calm_requests = len(sandbox.requests)
        sandbox.clear_requests()
        rules = _inject_weather(sandbox, "receipts/")
        stormy, stormy_seconds, pages = await _listing(sandbox, window=window)
    assert stormy == expected
    assert len(set(stormy)) == len(stormy) == len(expected)
    faults = sum(rule.hits for rule in rules[1:])
    assert faults > 0
    assert len(sandbox.requests) == pages + faults  # every faulted request was retried
    kind = "sharded month, concurrency=8" if window else "single cursor chain"
    return (
        f"\n[soak] {kind}: {len(expected)} receipts, {calm_requests} requests calm; "
        f"under faults {len(sandbox.requests)} requests ({faults} faults retried), "
        f"{stormy_seconds:.2f} s vs {calm_seconds:.2f} s calm "
        f"(x{stormy_seconds / calm_seconds:.2f})\n"
    )
