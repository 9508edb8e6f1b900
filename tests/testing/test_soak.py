"""Fault soak: long listings while the sandbox misbehaves at random (with a fixed seed).

CI runs a short version as part of the suite; ``nox -s soak`` sets ``BESSA_SOAK=long`` for the
full one (20k receipts) and prints the figures (retries used, time overhead vs fault-free).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bessa_async import (
    BessaClient,
    JobHandle,
    JobStatus,
    Order,
    OrderLine,
    RetryPolicy,
    SubmissionOutcomeUnknownError,
)
from bessa_async._cli.app import main
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
    1 % bodies cut mid-transfer, 1 % complete answers with their JSON cut in half, and latency
    on a fifth of the requests."""
    return [
        sandbox.inject(Fault.latency(0.002), path=path, rate=0.2),
        sandbox.inject(Fault.status(503), path=path, rate=0.05),
        sandbox.inject(Fault.status(503, body="html"), path=path, rate=0.05 / 0.95),
        sandbox.inject(Fault.rate_limit(retry_after=0), path=path, rate=0.015),
        sandbox.inject(Fault.rate_limit(retry_after=1), path=path, rate=0.015),
        sandbox.inject(Fault.drop(after_handler=True), path=path, rate=0.02),
        sandbox.inject(Fault.truncate(), path=path, rate=0.01),
        sandbox.inject(Fault.truncated_json(), path=path, rate=0.01),
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
    """Under random 503/429/drops/truncation/cut JSON: exactly the window's ids, once each, in
    order."""
    sandbox = await asyncio.to_thread(Sandbox, receipts=RECEIPTS, seed=7)
    summary = await _weather(sandbox, window=window)
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


ORDERS = 1_000 if LONG else 200


async def test_orders_survive_lost_answers_and_a_flapping_till(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """5 % of answers lost after the job was made while the till flaps off- and online:
    exactly one job per order on the server, and every caller told the truth."""
    clock = FakeClock()
    sandbox = Sandbox(receipts=50, clock=clock, job_delay=1, job_expiry=1e9)
    async with (
        sandbox,
        BessaClient(sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep) as client,
    ):
        lost = sandbox.inject(
            Fault.drop(after_handler=True), path="requests/orders/", method="POST", rate=0.05
        )
        point = next(p["id"] for p in sandbox.data.sales_points if p["status"] == "active")
        article = next(
            a["id"] for a in sandbox.data.articles if a["active"] and a["type"] == "standard"
        )
        done = asyncio.Event()
        flips = 0

        async def flap() -> None:
            nonlocal flips
            coin = random.Random(7)  # not strictly every other step: polls must not fall in step
            while not done.is_set():
                await clock.sleep(90)  # virtual minutes: the shop's Wi-Fi comes and goes
                flips += 1
                sandbox.set_sales_point_online(None, coin.random() < 0.5)

        async def submit(n: int) -> JobHandle | SubmissionOutcomeUnknownError:
            order = Order(
                sales_point=point,
                lines=[OrderLine(article=article, quantity=Decimal(1))],
                reference=f"soak-{n}",
            )
            try:
                return await client.orders.submit(order)
            except SubmissionOutcomeUnknownError as exc:
                return exc

        outcomes: list[JobHandle | SubmissionOutcomeUnknownError] = []
        for start in range(0, ORDERS, 50):  # in batches: a debug-mode loop stays responsive
            outcomes += await asyncio.gather(*(submit(n) for n in range(start, start + 50)))
        # Flapping from here: each of its steps moves the shared clock 90 s, which would pass
        # every submission's deadline while its POST is out, leaving no time to reconcile.
        flapper = asyncio.create_task(flap())
        handles = [o for o in outcomes if isinstance(o, JobHandle)]
        finished = [h async for h in client.jobs.as_completed(handles, timeout=30 * 24 * 3600)]
        done.set()
        await flapper
        jobs = sandbox.jobs()
    by_reference = Counter(j["reference"] for j in jobs)
    assert len(jobs) == ORDERS
    assert max(by_reference.values()) == 1
    ids = {j["reference"]: j["id"] for j in jobs}
    for handle in handles:
        assert handle.reference is not None
        assert ids[handle.reference] == str(handle.id)  # its own job, not another's
    unknown = [o for o in outcomes if isinstance(o, SubmissionOutcomeUnknownError)]
    assert all(error.reference in ids for error in unknown)  # and can be reconciled later
    assert len(finished) == len(handles)
    assert all(h.status == JobStatus.COMPLETED for h in finished)
    assert flips > 2
    with capsys.disabled():
        print(
            f"\n[soak] jobs: {ORDERS} orders, {lost.hits} answers lost after creation, "
            f"{len(unknown)} outcomes left unknown (reconcilable), till flipped {flips} times; "
            f"{len(jobs)} jobs on the server, 0 duplicates"
        )


EXPORTS = 40 if LONG else 8


async def test_an_export_never_leaves_a_partial_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bessa export` failing at random points: the file is yesterday's or the complete export,
    never part of one, and what was written before the failure is a prefix of the export."""
    old = b"yesterday's complete export\n"
    target = tmp_path / "week.csv"
    argv = [
        *("export", "receipts", "--day", "2026-06-08", "--to", "2026-06-14"),
        *("--limit", "100", "--concurrency", "1", "--output", str(target)),
    ]
    outcomes: Counter[int] = Counter()
    async with Sandbox(receipts=RECEIPTS, seed=7) as sandbox:
        argv = ["--base-url", sandbox.url, "--token", sandbox.token, *argv]
        assert await asyncio.to_thread(main, argv) == 0
        complete = await asyncio.to_thread(target.read_bytes)
        # A refused request is not retried: the export stops wherever it meets one.
        sandbox.inject(Fault.status(403), path="receipts/", rate=0.1)
        for _ in range(EXPORTS):
            await asyncio.to_thread(target.write_bytes, old)
            code = await asyncio.to_thread(main, argv)
            outcomes[code] += 1
            after = await asyncio.to_thread(target.read_bytes)
            if code == 0:
                assert after == complete
                continue
            assert code == 3
            assert after == old
            if not await asyncio.to_thread(Path(f"{target}.part").exists):
                # Refused before the first receipt: no .part, it would hold nothing.
                last = capsys.readouterr().err.splitlines()[-1]
                assert last == f"export stopped: {target} is unchanged"
                continue
            part = await asyncio.to_thread(Path(f"{target}.part").read_bytes)
            assert complete.startswith(part)
            assert (
                capsys.readouterr()
                .err.splitlines()[-1]
                .startswith(f"export stopped: {target} is unchanged; the ")
            )
    assert outcomes[3] > 0
    with capsys.disabled():
        print(
            f"\n[soak] export: {EXPORTS} exports of {len(complete)} bytes with 10 % of reads "
            f"refused: {outcomes[0]} complete, {outcomes[3]} stopped with the old file intact"
        )
