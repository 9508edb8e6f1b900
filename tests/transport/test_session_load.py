"""The session layer under load, against the sandbox: no request leaves while a 429's pause
lasts, a burst stays within a DRF throttle instead of spending its attempts on 429s, and a
thousand callers share one client within its in-flight limit.

Time is virtual and shared by client and sandbox, so the request log's stamps are the
client's time.
"""

from __future__ import annotations

import asyncio
import logging
import math

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bessa_async import DEFAULT_MAX_IN_FLIGHT, BessaClient, RateLimitError, RetryPolicy
from bessa_async.testing import FakeClock, Fault, Sandbox
from bessa_async.testing.__main__ import _parser as sandbox_parser
from bessa_async.testing.__main__ import main as sandbox_main
from bessa_async.testing._throttle import Throttle, parse_rate


async def test_no_request_starts_while_the_429_pause_lasts() -> None:
    """Calls queued for an in-flight slot wait for Retry-After too: after the 429, only the
    requests already in flight (at most max_in_flight - 1) reach the server before it ends.

    Without retries no call sleeps for its own sake: only a wait at the gate moves the clock.
    """
    clock = FakeClock()
    limit, calls = 4, 40
    async with (
        Sandbox(receipts=10, clock=clock) as sandbox,
        BessaClient(
            sandbox.token,
            base_url=sandbox.url,
            clock=clock,
            sleep=clock.sleep,
            max_in_flight=limit,
        ) as client,
    ):
        sandbox.inject(Fault.rate_limit(retry_after=1), path="articles/", times=1)
        once = RetryPolicy.disabled()
        outcomes = await asyncio.gather(
            *(client.request("GET", "articles/", retry=once) for _ in range(calls)),
            return_exceptions=True,
        )
    assert sum(isinstance(o, RateLimitError) for o in outcomes) == 1
    assert sum(isinstance(o, dict) for o in outcomes) == calls - 1
    first, *rest = sandbox.requests
    assert len(rest) == calls - 1
    during_pause = [r for r in rest if r.time < first.time + 1]
    assert len(during_pause) <= limit - 1


class SettlingClock:
    """Virtual time in which concurrent waits overlap, as real ones do.

    FakeClock moves time by each wait in turn, so sixteen calls waiting out one second move
    it sixteen seconds, and the requests a faulty gate lets through arrive after the pause
    instead of during it. Here a wait first lets the loop settle (everything runnable runs:
    requests in flight arrive and are answered), then moves time to its own end if nothing
    has moved it further: waits begun together end together.
    """

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        end = self.now + max(0.0, float(seconds))
        for _ in range(_SETTLE):
            await asyncio.sleep(0)
        self.now = max(self.now, end)


_SETTLE = 50  # loop steps: enough for a loopback round trip to arrive and be answered


async def _burst(calls: int, *, rate: str = "30/s") -> tuple[int, int, int]:
    """``calls`` at once through one client against a DRF throttle: (completed, throttled,
    requests)."""
    clock = SettlingClock()
    async with (
        Sandbox(receipts=10, clock=clock, throttle=rate) as sandbox,
        BessaClient(sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep) as client,
    ):
        outcomes = await asyncio.gather(
            *(client.request("GET", "articles/", params={"limit": 1}) for _ in range(calls)),
            return_exceptions=True,
        )
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert failures == []
    return len(outcomes), sandbox.throttled, len(sandbox.requests)


@pytest.mark.parametrize("calls", [150, 300])
async def test_a_burst_completes_within_a_drf_throttle(
    calls: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """A burst through one client against 30 requests/s (Retry-After: 1) completes without a
    RateLimitError, and draws only the 429s of the requests already in flight when the
    window filled: at most max_in_flight per window."""
    done, throttled, requests = await _burst(calls)
    assert done == calls
    assert requests == calls + throttled
    windows = -(-calls // 30)
    assert throttled <= windows * DEFAULT_MAX_IN_FLIGHT
    with capsys.disabled():
        print(f"\n[throttle] burst of {calls}: {throttled} x 429 in {requests} requests")


async def test_the_sandbox_throttles_per_token_as_drf_does() -> None:
    """Within a period a token gets N answers; then 429 with Retry-After and DRF's detail,
    not counted in the window; another token has its own window; 401s are never throttled."""
    clock = FakeClock()
    async with (
        Sandbox(receipts=10, clock=clock, throttle="3/minute") as sandbox,
        aiohttp.ClientSession() as http,
    ):

        async def get(token: str) -> aiohttp.ClientResponse:
            url = f"{sandbox.url}companies/"
            async with http.get(url, headers={"Authorization": f"Token {token}"}) as answer:
                await answer.read()
                return answer

        assert [(await get(sandbox.token)).status for _ in range(3)] == [200, 200, 200]
        clock.advance(20)
        refused = await get(sandbox.token)
        assert refused.status == 429
        assert refused.headers["Retry-After"] == "40"
        assert await refused.json() == {
            "detail": "Request was throttled. Expected available in 40 seconds."
        }
        assert (await get(sandbox.other_token)).status == 200
        assert (await get("not-a-token")).status == 401
        clock.advance(39.5)
        one = await get(sandbox.token)
        assert await one.json() == {
            "detail": "Request was throttled. Expected available in 1 second."
        }
        clock.advance(0.5)
        assert (await get(sandbox.token)).status == 200
        assert sandbox.throttled == 2
        sandbox.set_throttle(None)
        assert [(await get(sandbox.token)).status for _ in range(5)] == [200] * 5
        assert sandbox.throttled == 0


@pytest.mark.parametrize("rate", ["30", "0/s", "30/fortnight", "x/s", ""])
def test_a_rate_drf_would_not_read_is_refused(rate: str) -> None:
    """The rate is DRF's N/PERIOD; anything else fails at once, saying what is expected."""
    with pytest.raises(ValueError, match=r"e\.g\. '30/s'"):
        Sandbox(throttle=rate)


def test_drf_rates_read_the_first_letter_of_the_period() -> None:
    """'30/s', '30/second', '100/minute', '1000/hour' and '5000/day', as DRF parses them."""
    assert parse_rate("30/s") == parse_rate("30/second") == (30, 1.0)
    assert parse_rate("100/minute") == (100, 60.0)
    assert parse_rate("1000/hour") == (1000, 3600.0)
    assert parse_rate("5000/day") == (5000, 86400.0)


async def test_a_thousand_callers_share_one_client() -> None:
    """1,000 concurrent calls through one client against 25 ms of latency: every one
    succeeds, and the server never has more than max_in_flight of them at once (and has that
    many: the limit is used, not undershot)."""
    clock = SettlingClock()
    async with (
        Sandbox(receipts=10, clock=clock, sleep=clock.sleep, latency=0.025) as sandbox,
        BessaClient(sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep) as client,
    ):
        pages = await asyncio.gather(
            *(client.request("GET", "articles/", params={"limit": 1}) for _ in range(1000))
        )
    assert len(pages) == 1000
    assert all(len(page["results"]) == 1 for page in pages)
    assert len(sandbox.requests) == 1000
    assert sandbox.peak_in_flight == DEFAULT_MAX_IN_FLIGHT


async def test_the_debug_line_gives_the_wait_for_a_slot_apart_from_the_server_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each attempt's line gives the exchange's time and, apart from it, how long the call
    waited to be sent (for an in-flight slot, or a 429's pause); the record carries both."""
    caplog.set_level(logging.DEBUG, logger="bessa_async")
    clock = SettlingClock()
    async with (
        Sandbox(receipts=10, clock=clock, sleep=clock.sleep, latency=0.025) as sandbox,
        BessaClient(
            sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep, max_in_flight=1
        ) as client,
    ):
        await asyncio.gather(*(client.request("GET", "articles/") for _ in range(3)))
    records = [r for r in caplog.records if r.name == "bessa_async"]
    assert len(records) == 3
    for record in records:
        assert "waiting to be sent" in record.getMessage()
        elapsed, waited = getattr(record, "elapsed", None), getattr(record, "waited", None)
        assert isinstance(elapsed, float)
        assert isinstance(waited, float)
        assert elapsed >= 0
        assert waited >= 0
        assert f"{elapsed:.3f} s, after {waited:.3f} s waiting" in record.getMessage()


@settings(max_examples=200, deadline=None)
@given(
    requests=st.integers(min_value=1, max_value=5),
    arrivals=st.lists(
        st.tuples(st.floats(min_value=0, max_value=2.0), st.sampled_from(["a", "b"])),
        max_size=60,
    ),
)
def test_the_throttle_is_drfs_sliding_window(
    requests: int, arrivals: list[tuple[float, str]]
) -> None:
    """Whatever the arrivals: a token's request is accepted exactly when fewer than N of its
    accepted requests lie within the last period, and a refusal's Retry-After is the wait
    until the oldest of them leaves the window, rounded up, as DRF computes it."""
    clock = FakeClock()
    throttle = Throttle(f"{requests}/s", clock)
    accepted: dict[str, list[float]] = {"a": [], "b": []}
    for gap, token in arrivals:
        clock.advance(gap)
        recent = [t for t in accepted[token] if t > clock.now - 1.0]
        answer = throttle.check(token)
        if len(recent) < requests:
            assert answer is None
            accepted[token].append(clock.now)
        else:
            assert answer is not None
            assert answer.status == 429
            whole = math.ceil(1.0 - (clock.now - min(recent)))
            # DRF sends no Retry-After for a wait that rounds to 0 (only float rounding can).
            assert answer.headers.get("Retry-After") == (str(whole) if whole else None)


def test_the_standalone_sandbox_takes_a_throttle(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m bessa_async.testing --throttle 30/s`` reads DRF's rate; a bad one is a
    usage error that says what is expected, before anything starts."""
    assert sandbox_parser().parse_args(["--throttle", "30/s"]).throttle == "30/s"
    with pytest.raises(SystemExit) as info:
        sandbox_main(["--throttle", "30 per second"])
    assert info.value.code == 2
    assert "e.g. '30/s'" in capsys.readouterr().err
