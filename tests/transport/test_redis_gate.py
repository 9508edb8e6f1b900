"""One pause after a 429 and one pace per token across processes: the gate kept in Redis.

The pure parts (DRF's rates, the bound on a wait read from a shared store) need nothing; the
rest runs against a real Redis server (``BESSA_TEST_REDIS``; `.ci/run` starts one) and the
sandbox. Where the waiting is ours, the gate and the clients share one ``FakeClock``; the four
processes use the Redis server's clock and real time, and the test counts 429s, never times.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from conftest import service_from
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from served_sandbox import ServedSandbox

from bessa_async import (
    BessaClient,
    BlockingClient,
    ConfigurationError,
    InvalidTypeError,
    InvalidValueError,
    RateGateBackend,
    RateLimitError,
    RetryPolicy,
)
from bessa_async._base.rates import parse_rate
from bessa_async._transport.gate import bounded_wait, token_key
from bessa_async._transport.secret import Secret
from bessa_async.redis import DEFAULT_PREFIX, RedisRateGate
from bessa_async.testing import FakeClock, Sandbox

REDIS_ENV = "BESSA_TEST_REDIS"
PERIODS = {"s": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0, "h": 3600.0}
PERIODS |= {"hour": 3600.0, "d": 86400.0, "day": 86400.0}


# ----------------------------------------------------------------------------- pure: no loop


@given(count=st.integers(1, 10**6), period=st.sampled_from(sorted(PERIODS)))
def test_a_rate_reads_as_drf_reads_it(count: int, period: str) -> None:
    """N/PERIOD, the period's first letter counting: the pace the gate keeps is PERIOD ÷ N."""
    assert parse_rate(f"{count}/{period}") == (count, PERIODS[period])
    assert parse_rate(f" {count} /{period.upper()}") == (count, PERIODS[period])


@pytest.mark.parametrize("rate", ["30", "0/s", "-1/s", "30/fortnight", "x/s", "", "/s", "٣/s"])
def test_a_rate_drf_would_not_read_is_refused_by_the_gate(rate: str) -> None:
    """The gate and the sandbox's throttle read a rate by one rule, refused the same way."""
    with pytest.raises(InvalidValueError, match=r"e\.g\. '30/s'"):
        RedisRateGate(aioredis.Redis(), rate=rate)
    with pytest.raises(ValueError, match=r"throttle rate .*e\.g\. '30/s'"):
        Sandbox(throttle=rate)


@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.binary(max_size=20),
        st.none(),
    ),
    st.floats(0.001, 3600),
)
def test_a_wait_read_from_the_store_is_bounded(value: object, cap: float) -> None:
    """Whatever the store answers, the wait is a number from 0 to the retry policy's cap."""
    wait = bounded_wait(value, cap)
    assert 0.0 <= wait <= cap


def test_the_gate_knows_a_token_by_its_hash_only() -> None:
    token = "a-token-of-forty-characters-0123456789ab"
    key = token_key(Secret(token))
    assert key == hashlib.sha256(token.encode()).hexdigest()
    assert token not in key


def test_the_gate_type_is_checked() -> None:
    """rate_gate= takes a backend or None; a sync redis client is refused by the gate."""
    with pytest.raises(InvalidTypeError, match="rate_gate must be a RateGateBackend"):
        BessaClient("t" * 40, base_url="http://127.0.0.1:1/", rate_gate="redis://x")  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match=r"redis\.asyncio\.Redis"):
        RedisRateGate(redis.Redis())  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="prefix"):
        RedisRateGate(aioredis.Redis(), prefix="")
    gate = RedisRateGate(aioredis.Redis(), rate="30/s")
    assert isinstance(gate, RateGateBackend)
    assert repr(gate) == f"RedisRateGate(rate='30/s', prefix={DEFAULT_PREFIX!r})"


# ------------------------------------------------------------------------- against real Redis


def test_without_a_redis_server_the_tests_skip_unless_services_are_required() -> None:
    """Without BESSA_TEST_REDIS the Redis tests are skipped with the reason, unless
    BESSA_REQUIRE_SERVICES=1 (CI), where they fail."""
    what = "a Redis URL"
    with pytest.raises(pytest.skip.Exception, match="BESSA_TEST_REDIS is not set"):
        service_from({}, REDIS_ENV, what)
    with pytest.raises(pytest.fail.Exception, match="BESSA_REQUIRE_SERVICES=1"):
        service_from({"BESSA_REQUIRE_SERVICES": "1"}, REDIS_ENV, what)


@pytest.fixture
def redis_url() -> str:
    return service_from(os.environ, REDIS_ENV, "a Redis URL: redis://127.0.0.1:63799/0")


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def prefix() -> str:
    """Keys of this test only (the server may be shared by parallel workers)."""
    return f"bessa-test:{uuid.uuid4().hex}"


async def _keys_and_values(client: aioredis.Redis) -> list[bytes]:
    """Every key of the database and every string value (other types by their name)."""
    found: list[bytes] = []
    async for key in client.scan_iter(count=1000):
        found.append(key)
        if await client.type(key) == b"string":
            found.append(await client.get(key) or b"")
    return found


async def test_the_pace_is_one_interval_per_turn_across_clients(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    """GCRA, one round trip per turn: turns taken at one instant wait 0, 1, 2... intervals;
    time that passes unused is not saved up (no burst beyond one request)."""
    clock = FakeClock(1000.0)
    first = RedisRateGate(redis_client, rate="4/s", prefix=prefix, clock=clock)
    second = RedisRateGate(redis_client, rate="4/s", prefix=prefix, clock=clock)
    assert [await gate.turn("k") for gate in (first, second, first, second)] == [
        0.0,
        0.25,
        0.5,
        0.75,
    ]
    clock.advance(0.6)
    assert await first.turn("k") == pytest.approx(0.4)  # the queue before it: 1.0 - 0.6
    clock.advance(10)
    assert await second.turn("k") == 0.0
    assert await second.turn("k") == 0.25
    # Another token is another key, with its own pace.
    assert await first.turn("other") == 0.0


def _model_waits(steps: Sequence[tuple[int, int]], interval_ms: int) -> list[float]:
    """GCRA as the gate keeps it, in plain Python: each turn is due one interval after the
    previous one, or now if that is past; its wait is the time until it is due."""
    now, due, waits = 0, 0, []
    for advance, turns in steps:
        now += advance
        for _ in range(turns):
            due = max(due, now)
            waits.append((due - now) / 1000)
            due += interval_ms
    return waits


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 5)), min_size=1, max_size=8),
    count=st.sampled_from([1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100]),
)
def test_the_script_keeps_the_pace_the_model_says(
    redis_url: str, steps: list[tuple[int, int]], count: int
) -> None:
    """Any sequence of turns with time passing in between (whole ms) waits exactly what the
    model of the pace says, at any rate."""
    interval_ms = 1000 // count
    rate = f"{count}/s"

    async def run() -> list[float]:
        clock = FakeClock(1_000_000.0)
        store = aioredis.Redis.from_url(redis_url)
        gate = RedisRateGate(store, rate=rate, prefix=f"bessa-test:{uuid.uuid4().hex}", clock=clock)
        waits = []
        try:
            for advance, turns in steps:
                clock.advance(advance / 1000)
                waits += [await gate.turn("k") for _ in range(turns)]
        finally:
            await store.aclose()
        return waits

    assert asyncio.run(run()) == pytest.approx(_model_waits(steps, interval_ms), abs=1e-6)


async def test_a_pause_is_shared_and_never_shortened(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    """A 429's pause holds every turn back; a shorter pause set later does not cut it, and the
    pace resumes after it, one interval apart (not everyone at once)."""
    clock = FakeClock(50.0)
    paused = RedisRateGate(redis_client, prefix=prefix, clock=clock)
    paced = RedisRateGate(redis_client, rate="10/s", prefix=prefix, clock=clock)
    await paused.block("k", 2.0)
    await paused.block("k", 0.5)
    assert await paused.turn("k") == 2.0  # the shared pause alone takes no turn
    assert await paused.turn("k") == 2.0
    assert [await paced.turn("k") for _ in range(3)] == [2.0, pytest.approx(2.1), 2.2]
    clock.advance(5)
    assert await paused.turn("k") == 0.0


@pytest.mark.parametrize(
    "stored", [b"nan", b"inf", b"-inf", b"garbage", b"1e300", b"-5", b"99999999999999999999"]
)
async def test_an_odd_value_in_redis_cannot_hold_a_client_for_long(
    redis_client: aioredis.Redis, prefix: str, stored: bytes
) -> None:
    """A value the gate did not write is read as no pause (or one capped by the retry
    policy): the call goes out after at most max_retry_after."""
    clock = FakeClock(100.0)
    gate = RedisRateGate(redis_client, rate="30/s", prefix=prefix, clock=clock)
    async with Sandbox(receipts=5, clock=clock) as sandbox:
        await redis_client.set(f"{prefix}:{token_key(Secret(sandbox.token))}", stored)
        async with BessaClient(
            sandbox.token,
            base_url=sandbox.url,
            clock=clock,
            sleep=clock.sleep,
            retry=RetryPolicy(max_retry_after=5),
            rate_gate=gate,
        ) as client:
            assert await client.request("GET", "articles/", params={"limit": 1})
    assert sum(clock.sleeps) <= 5


async def test_an_hour_ahead_in_redis_is_capped_by_the_retry_policy(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    clock = FakeClock(100.0)
    gate = RedisRateGate(redis_client, prefix=prefix, clock=clock)
    async with Sandbox(receipts=5, clock=clock) as sandbox:
        await gate.block(token_key(Secret(sandbox.token)), 3600)
        async with BessaClient(
            sandbox.token,
            base_url=sandbox.url,
            clock=clock,
            sleep=clock.sleep,
            timeout=30,
            retry=RetryPolicy(max_retry_after=5),
            rate_gate=gate,
        ) as client:
            assert await client.request("GET", "articles/", params={"limit": 1})
    assert clock.sleeps == [5.0]


async def test_a_shared_pause_past_the_deadline_fails_at_once_and_sends_nothing(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    """As with the client's own pause: a shared wait that would pass the call's deadline is a
    RateLimitError at once, nothing sent, and the in-flight slot is given back."""
    clock = FakeClock()
    gate = RedisRateGate(redis_client, prefix=prefix, clock=clock)
    async with (
        Sandbox(receipts=5, clock=clock) as sandbox,
        BessaClient(
            sandbox.token,
            base_url=sandbox.url,
            clock=clock,
            sleep=clock.sleep,
            timeout=10,
            max_in_flight=1,
            rate_gate=gate,
        ) as client,
    ):
        await gate.block(token_key(Secret(sandbox.token)), 30)
        with pytest.raises(RateLimitError) as caught:
            await client.request("GET", "articles/")
        assert caught.value.retry_after == 30
        assert sandbox.requests == []
        assert clock.sleeps == []
        clock.advance(30)
        assert await client.request("GET", "articles/")  # the one slot is free again


async def test_a_429_pauses_another_client_of_the_token(
    redis_client: aioredis.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Client A draws a 429 (Retry-After: 1); client B, another client of the same token (in
    another process, as far as either knows), waits that pause before its request instead of
    drawing its own 429. The key is the token's hash under the prefix, and no Redis key or
    value, no repr and no log line holds the token."""
    caplog.set_level(logging.DEBUG, logger="bessa_async")
    clock = FakeClock()
    async with Sandbox(receipts=5, clock=clock, throttle="1/s") as sandbox:

        def client() -> BessaClient:
            return BessaClient(
                sandbox.token,
                base_url=sandbox.url,
                clock=clock,
                sleep=clock.sleep,
                retry=RetryPolicy.disabled(),
                rate_gate=RedisRateGate(redis_client, prefix=prefix, clock=clock),
            )

        async with client() as a, client() as b:
            await a.request("GET", "articles/")
            with pytest.raises(RateLimitError):
                await a.request("GET", "articles/")
            assert sandbox.throttled == 1
            assert clock.sleeps == []
            assert await b.request("GET", "articles/")
            assert clock.sleeps == [1.0]
            assert sandbox.throttled == 1
            shown = [repr(a), repr(b), repr(b._sender.shared), caplog.text]
        stored = await _keys_and_values(redis_client)
        key = f"{prefix}:{hashlib.sha256(sandbox.token.encode()).hexdigest()}".encode()
        assert key in stored
        for token in sandbox.tokens:
            assert not any(token.encode() in item for item in stored)
            assert not any(token in text for text in shown)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_redis_unreachable_is_said_once_and_no_call_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With no Redis at the address, the client warns once (without the token) and keeps to
    its own pause: every call succeeds, its own 429 still pauses it."""
    caplog.set_level(logging.WARNING, logger="bessa_async")
    clock = FakeClock()
    unreachable = aioredis.Redis(host="127.0.0.1", port=_free_port(), retry=None)
    try:
        async with (
            Sandbox(receipts=5, clock=clock, throttle="6/s") as sandbox,
            BessaClient(
                sandbox.token,
                base_url=sandbox.url,
                clock=clock,
                sleep=clock.sleep,
                rate_gate=RedisRateGate(unreachable, rate="30/s", clock=clock),
            ) as client,
        ):
            answers = await asyncio.gather(
                *(client.request("GET", "articles/", params={"limit": 1}) for _ in range(12))
            )
            assert len(answers) == 12  # every call answered
            assert sandbox.throttled > 0  # the 429s were met, and waited out by this client
    finally:
        await unreachable.aclose()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, caplog.text
    assert "shared rate gate failed" in warnings[0].getMessage()
    assert sandbox.token not in caplog.text


async def test_a_gate_that_answers_again_is_used_again(
    redis_client: aioredis.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing backend is left aside for a while, then asked again: back to the shared pace."""
    caplog.set_level(logging.INFO, logger="bessa_async")
    clock = FakeClock()
    shared = RedisRateGate(redis_client, rate="2/s", prefix=prefix, clock=clock)

    class Flaky:
        failing = True

        async def turn(self, key: str) -> float:
            if self.failing:
                raise ConnectionError("the store is down")
            return await shared.turn(key)

        async def block(self, key: str, seconds: float) -> None:
            await shared.block(key, seconds)

    flaky = Flaky()
    async with (
        Sandbox(receipts=5, clock=clock) as sandbox,
        BessaClient(
            sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep, rate_gate=flaky
        ) as client,
    ):
        for _ in range(3):
            await client.request("GET", "articles/")
        assert clock.sleeps == []  # no pace while the gate fails
        flaky.failing = False
        await client.request("GET", "articles/")
        assert clock.sleeps == []  # still left aside: no time has passed
        clock.advance(10)
        for _ in range(3):
            await client.request("GET", "articles/")
        assert clock.sleeps == [0.5, 0.5]
    assert [r.getMessage() for r in caplog.records][-1] == "the shared rate gate answers again"


async def test_a_gate_used_before_a_fork_is_left_aside_in_the_child(
    redis_client: aioredis.Redis,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A forked child must not talk over its parent's Redis sockets: the gate says why, once,
    and the child's calls go through its own gate."""
    gate = RedisRateGate(redis_client, rate="30/s", prefix=prefix)
    assert await gate.turn("k") == 0.0
    parent = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: parent + 1)  # as os.getpid() answers in a child
    with pytest.raises(ConfigurationError, match=r"before os\.fork\(\)"):
        await gate.turn("k")
    clock = FakeClock()
    async with (
        Sandbox(receipts=5, clock=clock) as sandbox,
        BessaClient(
            sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep, rate_gate=gate
        ) as client,
    ):
        assert await client.request("GET", "articles/")
    assert "before os.fork()" in caplog.text


def test_a_blocking_client_takes_the_gate(redis_url: str, prefix: str) -> None:
    """BlockingClient accepts rate_gate= as BessaClient does; its turns are taken in Redis."""
    served = ServedSandbox(receipts=5)
    sandbox = served.sandbox
    try:
        connection = aioredis.Redis.from_url(redis_url)
        gate = RedisRateGate(connection, rate="1000/s", prefix=prefix)
        with BlockingClient(sandbox.token, base_url=sandbox.url, rate_gate=gate) as client:
            assert client.request("GET", "articles/")
            # Its connection was made on the client's loop: closed there.
            client._portal.run(lambda _: connection.aclose())
    finally:
        served.close()
    with redis.Redis.from_url(redis_url) as sync:
        assert sync.exists(f"{prefix}:{token_key(Secret(sandbox.token))}") == 1


# --------------------------------------------------------------------- four processes, one token

WORKER = Path(__file__).parents[1] / "gate_worker.py"
CALLS_PER_PROCESS = 16
IN_FLIGHT = 16
PROCESSES = 4


@contextlib.asynccontextmanager
async def _processes(
    sandbox: Sandbox, token: str, redis_url: str, mode: str, prefix: str
) -> AsyncIterator[Callable[[], Awaitable[list[dict[str, int]]]]]:
    """Four processes of ``token``, ready; the function starts them together and returns their
    counts (one dict each). Killed if left running."""
    env = {**os.environ, "BESSA_TOKEN": token}
    argv = [sandbox.url, redis_url, mode, prefix, str(CALLS_PER_PROCESS), str(IN_FLIGHT)]
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        for _ in range(PROCESSES)
    ]

    async def run() -> list[dict[str, int]]:
        for child in children:
            assert child.stdin is not None
            child.stdin.write(b"go\n")
            await child.stdin.drain()
        results = []
        for child in children:
            out, _ = await child.communicate()
            assert child.returncode == 0
            results.append(json.loads(out))
        return results

    try:
        for child in children:
            assert child.stdout is not None
            assert await child.stdout.readline() == b"ready\n"
        yield run
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()


async def test_four_processes_keep_to_one_pace(redis_url: str, prefix: str) -> None:
    """Four processes saturate one token throttled at 30/s. With a gate each, they draw a 429
    for most of the first wave; sharing the pace in Redis, none of their calls fails and they
    draw a small fraction of those 429s (counted by the sandbox, not timed). Both groups start
    up at once (tenant A's and tenant B's tokens), then run one after the other."""
    async with (
        Sandbox(receipts=5, throttle="30/s", tenants=2) as sandbox,
        _processes(sandbox, sandbox.tokens[0], redis_url, "alone", prefix) as alone,
        _processes(sandbox, sandbox.tokens[1], redis_url, "pace", prefix) as paced,
    ):
        alone_counts = await alone()
        throttled_alone = sandbox.throttled
        shared_counts = await paced()
        throttled_shared = sandbox.throttled - throttled_alone
    calls = PROCESSES * CALLS_PER_PROCESS
    assert sum(r["ok"] for r in shared_counts) == calls
    assert sum(r["ok"] + r["failed"] for r in alone_counts) == calls
    assert sum(r["429s"] for r in alone_counts) == throttled_alone
    # 64 calls at once against a window of 30: at least 34 429s for the gates alone.
    assert throttled_alone >= PROCESSES * IN_FLIGHT - 30
    assert throttled_shared * 4 <= throttled_alone, (throttled_shared, throttled_alone)
