"""Hooks: every event of a listing under faults, failing hooks, the rules that keep events safe."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import date
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from bessa_async import (
    BessaClient,
    ConfigurationError,
    Hooks,
    JobTimeoutError,
    NotFoundError,
    Order,
    OrderLine,
    RequestTimeout,
    RetryPolicy,
    ServerError,
)
from bessa_async._base.errors import ConnectError, DecodeError, RateLimitError
from bessa_async._instrument.events import REDACTED, path_template, redact_query, retry_reason
from bessa_async._instrument.hooks import operation
from bessa_async._instrument.summary import RequestTally, call_line
from bessa_async.hooks import ALLOWED_QUERY_KEYS, CallEvent
from bessa_async.testing import FakeClock, Fault, Sandbox
from bessa_async.testing.magic import NEVER_REFERENCE

NAMES = (
    "on_request",
    "on_response",
    "on_retry",
    "on_rate_limited",
    "on_call",
    "on_page",
    "on_poll",
    "on_operation",
)


class Recorder:
    """Hooks recording every event, half of them sync and half async."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def of(self, name: str) -> list[Any]:
        return [event for hook, event in self.events if hook == name]

    def hooks(self) -> Hooks:
        def sync(name: str) -> Any:
            def hook(event: Any) -> None:
                self.events.append((name, event))

            return hook

        def asynchronous(name: str) -> Any:
            async def hook(event: Any) -> None:
                self.events.append((name, event))

            return hook

        return Hooks(
            **{name: (sync if i % 2 else asynchronous)(name) for i, name in enumerate(NAMES)}
        )


@pytest_asyncio.fixture
async def recorded(
    sandbox: Sandbox, clock: FakeClock
) -> AsyncIterator[tuple[BessaClient, Recorder]]:
    recorder = Recorder()
    async with BessaClient(
        sandbox.token,
        base_url=sandbox.url,
        clock=clock,
        sleep=clock.sleep,
        retry=RetryPolicy(attempts=8),
        hooks=recorder.hooks(),
    ) as client:
        yield client, recorder


# --- pure rules -------------------------------------------------------------------------------


def test_path_templates_name_the_endpoint_not_the_item() -> None:
    item = uuid.uuid4()
    assert path_template(f"requests/orders/{item}/") == "requests/orders/{id}/"
    assert path_template(f"receipts/{item.hex}/?cursor=x") == "receipts/{id}/"
    assert path_template("reports/2026/06/") == "reports/{id}/{id}/"
    assert path_template("articles/") == "articles/"


@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=8))
def test_only_allow_listed_query_values_survive(pairs: list[tuple[str, str]]) -> None:
    """Every value whose key is not on the allow-list is redacted; keys and order stay."""
    redacted = redact_query(pairs)
    assert [k for k, _ in redacted] == [k for k, _ in pairs]
    for (key, value), (_, shown) in zip(pairs, redacted, strict=True):
        assert shown == (value if key in ALLOWED_QUERY_KEYS else REDACTED)


def test_the_allow_list_keeps_cursors_and_time_bounds_only() -> None:
    pairs = [("cursor", "cD0y"), ("timestamp__gte", "2026-06-13T00:00:00Z"), ("reference", "r1")]
    assert redact_query(pairs) == (
        ("cursor", "cD0y"),
        ("timestamp__gte", "2026-06-13T00:00:00Z"),
        ("reference", REDACTED),
    )
    assert {"sales_point", "reference", "token", "search"}.isdisjoint(ALLOWED_QUERY_KEYS)


def test_retry_reasons_are_short_words() -> None:
    assert retry_reason(ServerError(status=503, detail="x", method="GET", path="a/")) == "503"
    assert retry_reason(RateLimitError(status=429, detail="x", method="GET", path="a/")) == "429"
    assert retry_reason(ConnectError("GET a/: refused", method="GET", path="a/")) == "ConnectError"
    assert retry_reason(DecodeError("x", status=200)) == "not JSON"


def test_a_call_line_says_outcome_time_and_retries() -> None:
    def call(**changes: Any) -> CallEvent:
        facts: dict[str, Any] = {
            "call": 1,
            "method": "GET",
            "path": "receipts/",
            "server": "h",
            "attempts": 1,
            "status": 200,
            "error": None,
            "elapsed": 0.0421,
        }
        return CallEvent(**{**facts, **changes})

    assert call_line(call()) == "GET receipts/ -> 200 in 0.042 s"
    assert call_line(call(attempts=2)) == "GET receipts/ -> 200 in 0.042 s (1 retry)"
    assert call_line(call(attempts=3, status=503, error="ServerError")).endswith(
        "-> 503 ServerError in 0.042 s (2 retries)"
    )
    assert call_line(call(status=None, error="ConnectError")).startswith(
        "GET receipts/ -> ConnectError"
    )
    assert call(attempts=3).retries == 2


def test_a_tally_summary_counts_in_words() -> None:
    tally = RequestTally(requests=1, retries=1, rate_limited=1, rate_limited_wait=2.0)
    assert tally.summary(3.414) == "1 request, 1 retry, 1 429 wait (2.0 s), 3.41 s"
    assert RequestTally(requests=3, retries=2).summary(0) == (
        "3 requests, 2 retries, 0 429 waits (0.0 s), 0.00 s"
    )


def test_hooks_are_frozen_and_optional() -> None:
    hooks = Hooks()
    assert all(getattr(hooks, name) is None for name in NAMES)
    with pytest.raises(AttributeError):
        hooks.on_call = print  # type: ignore[misc]


# --- against the sandbox ----------------------------------------------------------------------


async def test_hooks_see_every_event_of_a_listing_under_faults(
    recorded: tuple[BessaClient, Recorder], sandbox: Sandbox, clock: FakeClock
) -> None:
    """Requests, answers, retries, 429 pauses and pages match what the sandbox saw."""
    client, recorder = recorded
    sandbox.inject(Fault.status(503), path="receipts/", times=2)
    sandbox.inject(Fault.rate_limit(retry_after=2), path="receipts/", times=1)
    sandbox.inject(Fault.truncate(), path="receipts/", times=1)
    sandbox.inject(Fault.non_json(), path="receipts/", times=1)
    listing = client.receipts.list(limit=40)
    items = await listing.collect()
    assert len(items) == 300

    sent = len(sandbox.requests)
    assert len(recorder.of("on_request")) == sent
    assert len(recorder.of("on_response")) == sent
    calls = recorder.of("on_call")
    assert len(calls) == listing.stats.pages == len(recorder.of("on_page"))
    assert sum(call.attempts for call in calls) == sent
    retries = recorder.of("on_retry")
    assert len(retries) == sent - len(calls) == 5
    assert Counter(r.reason for r in retries) == Counter(
        {"503": 2, "429": 1, "TransportError": 1, "not JSON": 1}
    )
    assert [e.wait for e in recorder.of("on_rate_limited")] == [2.0]
    assert 2.0 in clock.sleeps
    pages = recorder.of("on_page")
    assert sum(p.items for p in pages) == 300
    assert [p.has_next for p in pages] == [True] * (len(pages) - 1) + [False]
    statuses = Counter(e.status for e in recorder.of("on_response"))
    assert statuses[503] == 2
    assert statuses[429] == 1
    assert statuses[None] == 1
    assert all(e.path == "receipts/" and e.method == "GET" for e in recorder.of("on_request"))
    # The cursor is shown as sent; every attempt of a call shares its number.
    assert any(dict(e.query).get("cursor") for e in recorder.of("on_request"))
    assert {e.call for e in recorder.of("on_request")} == {c.call for c in calls}
    (done,) = recorder.of("on_operation")
    assert (done.name, done.error) == ("list", None)
    assert dict(done.attributes) == {
        "bessa.resource": "receipts",
        "bessa.pages": listing.stats.pages,
        "bessa.items": 300,
        "bessa.shards": 1,
    }


async def test_a_listing_left_early_or_failed_ends_its_operation(
    recorded: tuple[BessaClient, Recorder], sandbox: Sandbox
) -> None:
    client, recorder = recorded
    async with aclosing(client.receipts.list(limit=10).pages()) as pages:
        async for _ in pages:
            break  # leaving early is a normal end
    sandbox.inject(Fault.status(404), path="receipts/")
    with pytest.raises(NotFoundError):
        await client.receipts.list(limit=10).collect()
    left, failed = recorder.of("on_operation")
    assert (left.error, dict(left.attributes)["bessa.items"]) == (None, 10)
    assert (failed.error, dict(failed.attributes)["bessa.pages"]) == ("NotFoundError", 0)


async def test_a_sharded_listing_reports_its_pages(
    recorded: tuple[BessaClient, Recorder],
) -> None:
    """Each page read is an event, pages a shard's split made redundant included."""
    client, recorder = recorded
    listing = client.receipts.for_day(date(2026, 6, 13), limit=5, concurrency=4)
    items = await listing.collect()
    assert len(recorder.of("on_page")) == listing.stats.pages
    assert sum(p.items for p in recorder.of("on_page")) >= len(items) == 14


async def test_a_changes_run_reports_its_pages_and_ends_with_a_sync_event(
    recorded: tuple[BessaClient, Recorder], sandbox: Sandbox
) -> None:
    client, recorder = recorded
    feed = client.articles.changes(limit=7)
    items = [item async for batch in feed for item in batch.items]
    pages = recorder.of("on_page")
    assert len(pages) == feed.stats.pages
    assert sum(p.items for p in pages) == len(items) > 7
    (done,) = recorder.of("on_operation")
    facts = dict(done.attributes)
    assert (done.name, done.error, facts["bessa.resource"]) == ("sync", None, "articles")
    assert (facts["bessa.requests"], facts["bessa.new"]) == (feed.stats.requests, len(items))
    assert len(recorder.of("on_call")) == feed.stats.requests


async def test_a_raising_hook_never_breaks_a_listing(
    sandbox: Sandbox, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Every hook raises (sync and async); the listing and its retries go on, each failure
    logged as a warning naming the event."""

    def boom(event: object) -> None:
        raise RuntimeError("hook bug")

    async def aboom(event: object) -> None:
        raise RuntimeError("async hook bug")

    hooks = Hooks(**{name: (boom if i % 2 else aboom) for i, name in enumerate(NAMES)})
    sandbox.inject(Fault.status(500), path="receipts/", times=1)
    sandbox.inject(Fault.rate_limit(retry_after=1), path="receipts/", times=1)
    async with BessaClient(
        sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep, hooks=hooks
    ) as client:
        with caplog.at_level(logging.WARNING, logger="bessa_async.hooks"):
            assert len(await client.receipts.list(limit=100).collect()) == 300
    failures = [r for r in caplog.records if r.name == "bessa_async.hooks"]
    assert {r.getMessage().split(" on ")[1].split(";")[0] for r in failures} >= {
        "RequestEvent",
        "ResponseEvent",
        "RetryEvent",
        "RateLimitedEvent",
        "CallEvent",
        "PageEvent",
    }


async def test_a_failed_call_ends_with_its_error(
    recorded: tuple[BessaClient, Recorder], sandbox: Sandbox
) -> None:
    client, recorder = recorded
    with pytest.raises(NotFoundError):
        await client.receipts.get(uuid.uuid4())
    (call,) = recorder.of("on_call")
    assert (call.path, call.status, call.error, call.attempts) == (
        "receipts/{id}/",
        404,
        "NotFoundError",
        1,
    )
    assert recorder.of("on_page") == []


async def test_a_write_is_one_attempt_and_its_retry_events_say_why(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    """A retried connection refusal before a write: both attempts are seen, one retry."""
    recorder = Recorder()
    sandbox.inject(Fault.status(503), path="companies/", times=3)
    async with BessaClient(
        sandbox.token,
        base_url=sandbox.url,
        clock=clock,
        sleep=clock.sleep,
        retry=RetryPolicy(attempts=2),
        hooks=recorder.hooks(),
    ) as client:
        with pytest.raises(ServerError):
            await client.companies.list().collect()
    (call,) = recorder.of("on_call")
    assert (call.attempts, call.status, call.error) == (2, 503, "ServerError")
    assert [r.reason for r in recorder.of("on_retry")] == ["503"]


async def test_every_operation_is_timed_on_the_clients_clock(clock: FakeClock) -> None:
    """A listing, a changes pass and a job's wait report ``elapsed`` on the injected clock:
    with a FakeClock, exactly the virtual time that passed (the server's latency, the waits)."""
    recorder = Recorder()
    async with Sandbox(receipts=30, clock=clock, sleep=clock.sleep, job_delay=2.0) as sb:
        sb.inject(Fault.latency(5), path="receipts/", times=1)
        sb.inject(Fault.latency(7), path="articles/", times=1)
        point = next(p for p in sb.data.sales_points if p["status"] == "active")
        article = next(a for a in sb.data.articles if a["active"] and a["type"] == "standard")
        async with BessaClient(
            sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep, hooks=recorder.hooks()
        ) as client:
            took: list[float] = []
            started = clock()
            await client.receipts.list(limit=100).collect()
            took.append(clock() - started)
            started = clock()
            assert [batch async for batch in client.articles.changes()]
            took.append(clock() - started)
            order = Order(
                sales_point=point["id"], lines=[OrderLine(article=article["id"], quantity=1)]
            )
            handle = await client.orders.submit(order)
            started = clock()
            await handle.wait(timeout=600)
            took.append(clock() - started)
    listing, sync, wait = recorder.of("on_operation")
    assert [listing.name, sync.name, wait.name] == ["list", "sync", "job.wait"]
    assert [listing.elapsed, sync.elapsed, wait.elapsed] == took
    assert took[0] == 5
    assert took[1] >= 7
    assert took[2] > 0


async def test_job_polls_and_the_wait_are_events(clock: FakeClock) -> None:
    recorder = Recorder()
    async with Sandbox(receipts=0, clock=clock, sleep=clock.sleep, job_delay=2.0) as jobs_sb:
        point = next(p for p in jobs_sb.data.sales_points if p["status"] == "active")
        article = next(a for a in jobs_sb.data.articles if a["active"] and a["type"] == "standard")
        async with BessaClient(
            jobs_sb.token,
            base_url=jobs_sb.url,
            clock=clock,
            sleep=clock.sleep,
            hooks=recorder.hooks(),
        ) as client:
            handle = await client.orders.submit(
                Order(
                    sales_point=point["id"],
                    lines=[OrderLine(article=article["id"], quantity=1)],
                )
            )
            job = await handle.wait(timeout=600)
    polls = recorder.of("on_poll")
    assert polls
    assert all(p.job == job.id for p in polls)
    assert polls[-1].next_delay is None
    assert polls[-1].status == str(job.status)
    assert polls[-1].detection_lag is not None
    assert polls[-1].detection_lag >= 0
    assert all(p.next_delay is not None and p.detection_lag is None for p in polls[:-1])
    assert all(p.path == "requests/orders/{id}/" for p in polls)
    (wait,) = recorder.of("on_operation")
    assert wait.name == "job.wait"
    assert wait.error is None
    assert dict(wait.attributes) == {"bessa.job.kind": "order", "bessa.job.status": "completed"}
    assert wait.elapsed > 0


async def test_an_operation_times_and_reports_its_facts(clock: FakeClock) -> None:
    recorder = Recorder()
    async with operation(recorder.hooks(), "sync", clock=clock, resource="receipts") as facts:
        await clock.sleep(3)
        facts["bessa.pages"] = 4
    with pytest.raises(KeyError):
        async with operation(recorder.hooks(), "sync", clock=clock):
            raise KeyError("x")
    done, failed = recorder.of("on_operation")
    assert (done.elapsed, dict(done.attributes)) == (3, {"resource": "receipts", "bessa.pages": 4})
    assert failed.error == "KeyError"
    async with operation(None, "sync", clock=clock, resource="r") as facts:
        assert facts == {"resource": "r"}  # without hooks: only the dict


async def test_trace_configs_reach_the_session_the_client_creates(sandbox: Sandbox) -> None:
    """aiohttp's own tracing sees each request of a client-owned session."""
    starts: list[str] = []

    async def on_request_start(
        session: aiohttp.ClientSession, context: object, params: aiohttp.TraceRequestStartParams
    ) -> None:
        starts.append(params.url.path)

    config = aiohttp.TraceConfig()
    config.on_request_start.append(on_request_start)
    async with BessaClient(sandbox.token, base_url=sandbox.url, trace_configs=[config]) as client:
        await client.companies.list().collect()
    assert starts == ["/v1/public/companies/"]
    assert client.hooks is None


async def test_trace_configs_and_a_borrowed_session_do_not_mix(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ConfigurationError, match="give the trace configs to that"):
            BessaClient(
                sandbox.token,
                base_url=sandbox.url,
                session=session,
                trace_configs=[aiohttp.TraceConfig()],
            )


def test_hooks_with_none_set_build_no_events() -> None:
    """Hooks() is the same as no hooks: the client takes the path that builds no events."""
    assert BessaClient("t0ken", hooks=Hooks()).hooks is None
    counting = Hooks(on_call=lambda event: None)
    assert BessaClient("t0ken", hooks=counting).hooks is counting


# --- a call's deadline covers its hooks ---------------------------------------------------------


class Stuck:
    """An async hook that never returns by itself; records the events it was cancelled on."""

    def __init__(self) -> None:
        self.cut: list[str] = []

    async def __call__(self, event: object) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cut.append(type(event).__name__)
            raise


async def test_a_stuck_on_request_hook_is_cut_off_and_nothing_is_sent(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """timeout=0.2 and an on_request hook that never returns: the call ends with RequestTimeout
    (nothing sent) instead of waiting for the hook; the hook was cancelled and logged."""
    stuck = Stuck()
    async with BessaClient(
        sandbox.token, base_url=sandbox.url, timeout=0.2, hooks=Hooks(on_request=stuck)
    ) as client:
        with pytest.raises(RequestTimeout) as info:
            async with asyncio.timeout(20):  # only a guard: the call must end by itself
                await client.request("GET", "articles/")
    assert not info.value.request_sent
    assert sandbox.requests == []
    assert stuck.cut == ["RequestEvent"]
    assert "cut off by its call's deadline" in caplog.text


@pytest.mark.parametrize("hook", ["on_response", "on_call"])
async def test_a_hook_after_the_answer_is_cut_off_and_the_answer_returned(hook: str) -> None:
    """The answer arrives as the 1 s deadline ends (virtual time); a stuck on_response or
    on_call hook is cancelled at once and the call returns the answer it has."""
    clock = FakeClock()
    stuck = Stuck()
    async with (
        Sandbox(receipts=20, clock=clock, sleep=clock.sleep) as sb,
        BessaClient(
            sb.token,
            base_url=sb.url,
            timeout=1,
            clock=clock,
            sleep=clock.sleep,
            hooks=Hooks(**{hook: stuck}),
        ) as client,
    ):
        sb.inject(Fault.latency(1), path="articles/")
        async with asyncio.timeout(20):  # only a guard: the call must end by itself
            page = await client.request("GET", "articles/")
    assert page["results"]
    assert stuck.cut == [{"on_response": "ResponseEvent", "on_call": "CallEvent"}[hook]]


async def test_a_stuck_on_page_hook_keeps_its_pages_deadline() -> None:
    """A page that arrives as its deadline ends: the stuck on_page hook is cancelled and the
    listing goes on with the page."""
    clock = FakeClock()
    stuck = Stuck()
    async with (
        Sandbox(receipts=20, clock=clock, sleep=clock.sleep) as sb,
        BessaClient(
            sb.token,
            base_url=sb.url,
            timeout=1,
            clock=clock,
            sleep=clock.sleep,
            hooks=Hooks(on_page=stuck),
        ) as client,
    ):
        sb.inject(Fault.latency(1), path="articles/")
        async with asyncio.timeout(20):  # only a guard: the listing must end by itself
            items = await client.articles.list(limit=1000).collect()
    assert items
    assert stuck.cut == ["PageEvent"]


async def test_a_hook_within_the_deadline_runs_to_its_end(sandbox: Sandbox) -> None:
    """A hook that awaits briefly, well within the deadline, is not disturbed."""
    seen: list[str] = []

    async def brief(event: object) -> None:
        await asyncio.sleep(0)
        seen.append(type(event).__name__)

    async with BessaClient(
        sandbox.token, base_url=sandbox.url, hooks=Hooks(on_request=brief, on_call=brief)
    ) as client:
        await client.request("GET", "articles/")
    assert seen == ["RequestEvent", "CallEvent"]


async def _never_ending_wait(hooks: Hooks, *, timeout: float) -> None:
    """Submit an order whose job never ends and wait for it ``timeout`` seconds (virtual)."""
    clock = FakeClock()
    async with Sandbox(receipts=0, clock=clock, sleep=clock.sleep) as sb:
        point = next(p for p in sb.data.sales_points if p["status"] == "active")
        article = next(a for a in sb.data.articles if a["active"] and a["type"] == "standard")
        async with BessaClient(
            sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep, hooks=hooks
        ) as client:
            handle = await client.orders.submit(
                Order(
                    sales_point=point["id"],
                    lines=[OrderLine(article=article["id"], quantity=1)],
                    reference=NEVER_REFERENCE,
                )
            )
            with pytest.raises(JobTimeoutError):
                async with asyncio.timeout(10):  # only a guard: the wait must end by itself
                    await handle.wait(timeout=timeout)
            assert clock() >= timeout


async def test_a_stuck_on_operation_hook_keeps_the_waits_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """wait(timeout=1) on a job that never ends: JobTimeoutError at the deadline, though the
    job.wait on_operation hook never returns; the hook is cancelled and logged."""
    stuck = Stuck()
    await _never_ending_wait(Hooks(on_operation=stuck), timeout=1)
    assert stuck.cut == ["OperationEvent"]
    assert "cut off by its call's deadline" in caplog.text


async def test_a_stuck_on_poll_hook_keeps_the_waits_deadline() -> None:
    """A poll's answer comes before the wait's deadline and its on_poll hook never returns:
    the hook is cut off at that deadline, and the wait ends with JobTimeoutError (in virtual
    time, where a hook holding the poller stopped the clock for good)."""
    stuck = Stuck()
    await _never_ending_wait(Hooks(on_poll=stuck), timeout=0.6)
    assert stuck.cut
    assert set(stuck.cut) == {"PollEvent"}
