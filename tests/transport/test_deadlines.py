"""One deadline covers a whole composite call: a submission with its lookup, a wait, a stream
of waits, a doctor run.

A hanging server is played in virtual time: the sandbox holds each request for some seconds of
the shared FakeClock (``Fault.latency`` with ``Sandbox(sleep=clock.sleep)``), then a gateway in
front of it gives up (``Fault.status(504)``) — the ambiguous failure a client's own timer would
also end in. Every assertion reads that clock, never the wall clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import final

import attrs
import pytest

from bessa_async import (
    BessaClient,
    JobStatus,
    JobTimeoutError,
    Order,
    OrderLine,
    PollPolicy,
    SubmissionOutcomeUnknownError,
)
from bessa_async.testing import FakeClock, Fault, Sandbox

STEADY = PollPolicy(initial=0.5, floor=0.25, ceiling=30, multiplier=1.5, jitter=0)


@final
@attrs.define
class Env:
    clock: FakeClock
    sb: Sandbox
    client: BessaClient

    def order(self, reference: str, *, online: bool = True) -> Order:
        point = next(p["id"] for p in self.sb.data.sales_points if p["status"] == "active")
        article = next(a for a in self.sb.data.articles if a["active"] and a["type"] == "standard")
        return Order(
            sales_point=point,
            lines=[OrderLine(article=article["id"], quantity=Decimal(1))],
            reference=reference,
        )

    def hang(self, seconds: float, path: str | None = None, method: str | None = None) -> None:
        """Hold matching requests ``seconds`` of virtual time, then answer 504."""
        self.sb.inject(Fault.latency(seconds), path=path, method=method)
        self.sb.inject(Fault.status(504), path=path, method=method)


@contextlib.asynccontextmanager
async def environment(job_duration: float | None = None, **client: object) -> AsyncIterator[Env]:
    """A sandbox whose latency passes on the client's FakeClock, and that client."""
    clock = FakeClock()
    async with (
        Sandbox(
            receipts=20, clock=clock, sleep=clock.sleep, job_delay=1, job_duration=job_duration
        ) as sb,
        BessaClient(
            sb.token,
            base_url=sb.url,
            clock=clock,
            sleep=clock.sleep,
            **client,  # type: ignore[arg-type]
        ) as bessa,
    ):
        yield Env(clock, sb, bessa)


# --- submit: the POST and its lookup share the call's deadline --------------------------------


async def test_submit_timeout_covers_the_lookup_against_a_hanging_server() -> None:
    """submit(timeout=5) against a server that holds everything 5 s: it ends at 5 s with
    SubmissionOutcomeUnknownError (key and reference kept), and sends no lookup it has no time
    left for. It used to look the job up under a fresh deadline and end at 10 s or later."""
    async with environment() as env:
        env.hang(5)
        start = env.clock()
        with pytest.raises(SubmissionOutcomeUnknownError) as info:
            await env.client.orders.submit(
                env.order("hang-1"), idempotency_key="key-hang-1", timeout=5
            )
        ended = env.clock()
        assert ended <= start + 5, f"ended at {ended - start} s"
        assert info.value.idempotency_key == "key-hang-1"
        assert info.value.reference == "hang-1"
        assert "deadline" in info.value.reason
        assert [r.method for r in env.sb.requests] == ["POST"]


async def test_the_lookup_gets_what_is_left_of_the_deadline() -> None:
    """With 3 of 5 s left after the POST, the lookup (retried like any read) starts no request
    at or after the call's deadline."""
    async with environment() as env:
        env.hang(2)
        start = env.clock()
        with pytest.raises(SubmissionOutcomeUnknownError) as info:
            await env.client.orders.submit(
                env.order("hang-2"), idempotency_key="key-hang-2", timeout=5
            )
        assert info.value.idempotency_key == "key-hang-2"
        assert info.value.reference == "hang-2"
        methods = [r.method for r in env.sb.requests]
        assert methods[0] == "POST"
        assert "GET" in methods
        assert all(r.time < start + 5 for r in env.sb.requests)


async def test_the_clients_timeout_is_the_whole_submissions_deadline() -> None:
    """Without timeout=, the client's Timeout.total covers the submission, lookup included."""
    async with environment(timeout=8) as env:
        env.hang(8)
        start = env.clock()
        with pytest.raises(SubmissionOutcomeUnknownError):
            await env.client.orders.submit(env.order("hang-3"))
        assert env.clock() <= start + 8
        assert [r.method for r in env.sb.requests] == ["POST"]


async def test_a_resend_needs_time_left_too() -> None:
    """Lost before it landed and proven absent, but the deadline passed during the lookup:
    unknown outcome (not a second POST after the deadline, nor a bare timeout)."""
    async with environment() as env:
        env.sb.inject(Fault.drop(), path="requests/orders/", method="POST", times=1)
        env.sb.inject(Fault.latency(6), path="requests/orders/", method="GET")
        with pytest.raises(SubmissionOutcomeUnknownError) as info:
            await env.client.orders.submit(
                env.order("hang-4"), idempotency_key="key-hang-4", timeout=5
            )
        assert info.value.idempotency_key == "key-hang-4"
        assert [r.method for r in env.sb.requests] == ["POST", "GET"]
        assert env.sb.jobs() == []


# --- waits: one deadline however the polls go -------------------------------------------------


async def test_wait_ends_at_its_deadline_when_polls_hang() -> None:
    """Every poll hangs 4 s then fails: wait(timeout=10) raises JobTimeoutError naming the
    last poll's error, and starts no poll at or after its deadline."""
    async with environment() as env:
        handle = await env.client.orders.submit(env.order("wait-1"))
        env.hang(4, path=handle.path)
        start = env.clock()
        with pytest.raises(JobTimeoutError) as info:
            await handle.wait(timeout=10)
        assert info.value.last_error is not None
        polls = [r for r in env.sb.requests if r.path == handle.path]
        assert polls
        assert all(r.time < start + 10 for r in polls)


async def test_an_answer_after_the_wait_deadline_does_not_count() -> None:
    """A poll sent at 6.25 s that the server holds 5 s answers "completed" at 11.25 s, after
    wait(timeout=10)'s deadline: JobTimeoutError, as a real clock's timer would have raised at
    10 s; the handle keeps the job for the next wait."""
    async with environment(job_duration=11, poll=STEADY) as env:
        handle = await env.client.orders.submit(env.order("wait-2"))
        env.sb.inject(Fault.latency(5), path=handle.path)
        with pytest.raises(JobTimeoutError):
            await handle.wait(timeout=10, poll=STEADY)
        polls = [r.time for r in env.sb.requests if r.path == handle.path]
        assert len(polls) == 2
        assert polls[-1] < 10 < env.clock()
        assert (await handle.wait(timeout=60)).status is JobStatus.COMPLETED


async def test_as_completed_counts_its_deadline_from_the_start() -> None:
    """Time the caller spends on a handle already done counts against as_completed's timeout:
    the rest are not given a fresh one after it."""
    async with environment() as env:
        done = await env.client.orders.submit(env.order("stream-1"))
        await done.wait(timeout=60)
        env.sb.set_sales_point_online(None, False)
        stuck = await env.client.orders.submit(env.order("stream-2"))
        start = env.clock()
        seen = []

        async def consume() -> None:
            async for finished in env.client.jobs.as_completed([done, stuck], timeout=30):
                seen.append(finished)
                await env.clock.sleep(20)  # the caller's own work on the first one

        with pytest.raises(JobTimeoutError) as info:
            await consume()
        assert seen == [done]
        assert info.value.handles == (stuck,)
        assert info.value.timeout == 30
        assert env.clock() <= start + 30


# --- doctor: one deadline for the whole run ---------------------------------------------------


async def test_doctor_timeout_covers_the_whole_run() -> None:
    """Every read hangs 3 s: doctor(timeout=10) sends no request at or after 10 s and still
    returns a report, saying what it could not check."""
    async with environment() as env:
        env.sb.inject(Fault.latency(3))
        start = env.clock()
        report = await env.client.doctor(timeout=10)
        assert all(r.time < start + 10 for r in env.sb.requests)
        assert len(env.sb.requests) < 5
        assert any("deadline" in error for error in report.errors)


async def test_doctor_defaults_to_the_clients_timeout_for_the_run() -> None:
    """Without timeout=, the client's Timeout.total bounds the run, not each read."""
    async with environment(timeout=7) as env:
        env.sb.inject(Fault.latency(2))
        start = env.clock()
        report = await env.client.doctor()
        assert all(r.time < start + 7 for r in env.sb.requests)
        assert report.errors
