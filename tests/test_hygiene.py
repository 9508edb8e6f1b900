"""Hygiene the suite enforces: redaction over a whole demo, cancellation at random points,
connection reuse, and the loop-hygiene fixture itself."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bessa_async import BessaClient
from bessa_async._cli.demo import walkthrough
from bessa_async.testing import FakeClock, Fault, Sandbox

pytest_plugins = ["pytester"]


async def test_the_token_never_reaches_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    """A full demo run logged at DEBUG (every logger) never shows a token."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="bessa_async")
    clock = FakeClock()
    out = io.StringIO()
    assert await walkthrough(out, 300, 0, clock=clock, sleep=clock.sleep) == 0
    records = [r for r in caplog.records if r.name.startswith("bessa_async")]
    assert len(records) > 10  # the client did log each attempt
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records) + out.getvalue()
    for token in Sandbox.tokens_for(0):
        assert token not in text


def test_a_client_repr_hides_the_token() -> None:
    """repr and str of a client show the base URL, never the token."""
    client = BessaClient("0123456789abcdef-secret", base_url="http://127.0.0.1:9/v1/public/")
    assert "secret" not in repr(client)
    assert "secret" not in str(client)
    assert "secret" not in repr(vars(client))


@settings(max_examples=15, deadline=None)
@given(delay=st.floats(min_value=0.0, max_value=0.03), concurrency=st.sampled_from([1, 4]))
def test_cancelling_a_listing_at_any_point(delay: float, concurrency: int) -> None:
    """Cancel a listing at a random moment: nothing pending, nothing yielded twice."""

    async def run() -> None:
        async with (
            Sandbox(receipts=400) as sandbox,
            BessaClient(sandbox.token, base_url=sandbox.url) as client,
        ):
            sandbox.inject(Fault.latency(0.002), path="receipts/")
            seen: list[str] = []
            start, end = (
                sandbox.data.receipts[0]["timestamp"],
                sandbox.data.receipts[-1]["timestamp"],
            )
            from datetime import datetime, timedelta

            listing = client.receipts.list(
                timestamp__gte=datetime.fromisoformat(start),
                timestamp__lt=datetime.fromisoformat(end) + timedelta(seconds=1),
                limit=10,
                concurrency=concurrency,
            )

            async def consume() -> None:
                async for receipt in listing:
                    seen.append(str(receipt.id))

            task = asyncio.create_task(consume())
            await asyncio.sleep(delay)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert len(seen) == len(set(seen))
            assert seen == [r["id"] for r in sandbox.data.receipts[: len(seen)]]
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not pending

    asyncio.run(run())


async def test_a_long_listing_reuses_its_connections(sandbox: Sandbox) -> None:
    """300 receipts in 30 pages over one client: one keep-alive connection."""
    async with BessaClient(sandbox.token, base_url=sandbox.url) as client:
        assert len(await client.receipts.list(limit=10, prefetch=0).collect()) == 300
    assert sandbox.connections_opened == 1


_HYGIENE_CASES = """
import asyncio
import logging
import time

async def test_sleeps():
    time.sleep(0.2)  # blocks the loop: no other task can run

async def test_swallows_it():
    try:
        with open(__file__, encoding="utf-8") as handle:  # blocking file I/O in the loop
            handle.read()
    except Exception:
        pass  # caught by the code under test: the fixture still sees it

async def test_leaks():
    asyncio.get_running_loop().create_task(asyncio.Event().wait())

async def test_busy_but_innocent():
    until = time.perf_counter() + 0.3
    while time.perf_counter() < until:  # slow, but makes no blocking call
        pass

def test_sleeps_outside_a_loop():
    time.sleep(0.01)  # no loop is running: nothing to block

async def test_logs_and_offloads():
    logging.getLogger("bessa_async").warning("logging stays allowed")
    await asyncio.to_thread(time.sleep, 0.01)
"""


def _run_hygiene_cases(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> pytest.RunResult:
    # The project's Hypothesis cache, so the copied conftest need not build its tables again.
    monkeypatch.setenv(
        "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(__file__).parent.parent / ".hypothesis")
    )
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(_HYGIENE_CASES)
    return pytester.runpytest_subprocess(
        "-o",
        "asyncio_mode=auto",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "-p",
        "no:cacheprovider",
    )


def test_the_hygiene_fixtures_catch_blocking_calls_and_leaks(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """time.sleep(0.2) in a coroutine, a swallowed blocking read and a leaked task each fail
    their test; a slow but non-blocking step, and sleeping outside a loop, do not."""
    result = _run_hygiene_cases(pytester, monkeypatch)
    # time.sleep raises in test_sleeps itself; the fixtures fail three teardowns.
    result.assert_outcomes(passed=5, failed=1, errors=3)
    output = result.stdout.str()
    for test in ("test_sleeps", "test_swallows_it", "test_leaks"):
        assert f"ERROR at teardown of {test} " in output
    assert "made a blocking call inside the event loop: Blocking call to time.sleep" in output
    assert "Blocking call to io.TextIOWrapper.read" in output
    assert "left 1 task(s) pending" in output
    assert "steps of the event loop" not in output  # the diagnostic is off by default


def test_the_slow_step_diagnostic_reports_and_never_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BESSA_SLOW_CALLBACK lists the steps over the threshold; the outcomes stay the same."""
    monkeypatch.setenv("BESSA_SLOW_CALLBACK", "0.1")
    result = _run_hygiene_cases(pytester, monkeypatch)
    result.assert_outcomes(passed=5, failed=1, errors=3)
    output = result.stdout.str()
    assert "steps of the event loop over 0.1 s (wall clock)" in output
    assert "::test_busy_but_innocent: Executing <Task" in output
