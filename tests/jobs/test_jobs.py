"""Orders and payments through the client, against the sandbox over loopback, in virtual time.

One FakeClock drives both the sandbox's Sales Points and the client's polling, so hours of
waiting for an offline till take milliseconds, and poll counts are exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import itertools
import json
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, final

import attrs
import pytest

from bessa_async import (
    BessaClient,
    ClientClosedError,
    ConflictError,
    Job,
    JobFailedError,
    JobHandle,
    JobStatus,
    JobTimeoutError,
    NotFoundError,
    Order,
    OrderLine,
    Payment,
    PollPolicy,
    SubmissionOutcomeUnknownError,
    ValidationError,
)
from bessa_async.testing import FakeClock, Fault, RecordedRequest, Sandbox

STEADY = PollPolicy(initial=0.5, floor=0.25, ceiling=30, multiplier=1.5, jitter=0)


@final
@attrs.define
class Env:
    """A sandbox and a client sharing one virtual clock."""

    clock: FakeClock
    sb: Sandbox
    client: BessaClient

    def points(self, *, active: bool = True) -> list[str]:
        """Sales Point ids of tenant A."""
        return [p["id"] for p in self.sb.data.sales_points if (p["status"] == "active") == active]

    def point(self, *, active: bool = True) -> str:
        """A Sales Point id of tenant A."""
        return self.points(active=active)[0]

    def article(self, *, active: bool = True) -> dict[str, Any]:
        """A standard article of tenant A."""
        return next(
            a for a in self.sb.data.articles if a["active"] == active and a["type"] == "standard"
        )

    def order(
        self, *, reference: str | None = None, active: bool = True, point: str | None = None
    ) -> Order:
        """A one-line order of two of an article."""
        return Order(
            sales_point=point or self.point(),
            lines=[OrderLine(article=self.article(active=active)["id"], quantity=Decimal(2))],
            reference=reference,
        )

    def requests(self, method: str, path: str = "requests/orders/") -> list[RecordedRequest]:
        """Recorded requests of ``method`` on ``path`` (shell wildcards allowed)."""
        return [
            r for r in self.sb.requests if r.method == method and fnmatch.fnmatchcase(r.path, path)
        ]

    def polls(self, handle: JobHandle) -> list[RecordedRequest]:
        """The GETs of one job's detail URL."""
        return [r for r in self.sb.requests if r.method == "GET" and r.path == handle.path]


@contextlib.asynccontextmanager
async def environment(
    *,
    poll: PollPolicy | None = None,
    max_in_flight: int = 16,
    sleep: Callable[[FakeClock, Sandbox], Callable[[float], Awaitable[None]]] | None = None,
    **sandbox: Any,
) -> AsyncIterator[Env]:
    """A fresh sandbox (``job_delay=1`` unless told) and a client on the same FakeClock.

    ``sleep`` builds the client's sleep from the clock and the sandbox (to act at a time).
    """
    clock = FakeClock()
    sandbox.setdefault("job_delay", 1)
    extra: dict[str, Any] = {} if poll is None else {"poll": poll}
    async with (
        Sandbox(receipts=50, clock=clock, **sandbox) as sb,
        BessaClient(
            sb.token,
            base_url=sb.url,
            clock=clock,
            sleep=clock.sleep if sleep is None else sleep(clock, sb),
            max_in_flight=max_in_flight,
            **extra,
        ) as client,
    ):
        yield Env(clock, sb, client)


async def _settle() -> None:
    """Let finished and cancelled tasks run to their end."""
    for _ in range(20):
        await asyncio.sleep(0)


async def _until(condition: Callable[[], bool]) -> None:
    """Yield to the loop until ``condition`` holds (bounded: fails rather than hangs)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


def _bessa_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("bessa_async")]


# --- success, failure, expiry, unknown status ----------------------------------------------------


async def test_submit_then_wait_returns_the_completed_job() -> None:
    """A submitted order is pending at once; wait() returns it completed with its open order."""
    async with environment() as env:
        handle = await env.client.orders.submit(env.order(reference="webshop-10045"))
        assert handle.status is JobStatus.PENDING
        assert handle.reference == "webshop-10045"
        assert handle.path == f"requests/orders/{handle.id}/"
        done = await handle.wait(timeout=120)
        assert isinstance(done, Job)
        assert done.status is JobStatus.COMPLETED
        assert done.result is not None
        assert done.result.order is not None
        assert handle.done
        assert handle.job == done
        polls = len(env.polls(handle))
        assert 1 <= polls <= 4
        assert env.clock.now < 4
        assert await handle.wait() == done  # known: no request
        assert len(env.polls(handle)) == polls
        await _settle()
        assert not _bessa_tasks()


async def test_a_failed_job_raises_with_the_tills_code() -> None:
    """An inactive article fails on the till: JobFailedError with code and detail."""
    async with environment() as env:
        handle = await env.client.orders.submit(env.order(active=False))
        with pytest.raises(JobFailedError) as info:
            await handle.wait(timeout=60)
        assert info.value.code == "article_inactive"
        assert info.value.detail is not None
        assert "not available" in info.value.detail
        assert info.value.job.status is JobStatus.FAILED
        assert handle.status is JobStatus.FAILED
        with pytest.raises(JobFailedError):
            await handle.wait()


async def test_an_expired_job_raises_job_failed_error() -> None:
    """A job no till picks up before its expiry ends expired: JobFailedError, code expired."""
    async with environment(job_expiry=600) as env:
        env.sb.set_sales_point_online(None, False)
        handle = await env.client.orders.submit(env.order())
        with pytest.raises(JobFailedError) as info:
            await handle.wait(timeout=3600)
        assert (info.value.status, info.value.code) == ("expired", "expired")
        assert 600 <= env.clock.now <= 600 + 30
        assert len(env.polls(handle)) < 70  # the ramp to the ceiling, then 2 a minute


async def test_a_cancelled_job_raises_job_failed_error() -> None:
    """A job withdrawn on the server ends the wait with status cancelled."""
    async with environment() as env:
        env.sb.set_sales_point_online(None, False)
        handle = await env.client.orders.submit(env.order())
        env.sb.cancel_job(str(handle.id))
        with pytest.raises(JobFailedError) as info:
            await handle.wait(timeout=60)
        assert info.value.status == "cancelled"


async def test_a_forced_unknown_code_is_still_a_failure() -> None:
    """A failure code the library does not know is carried, with its detail, as a failure."""
    async with environment() as env:
        env.sb.set_job_failure("printer_on_fire", "The kitchen printer is on fire.")
        handle = await env.client.orders.submit(env.order())
        with pytest.raises(JobFailedError) as info:
            await handle.wait(timeout=60)
        assert info.value.code == "printer_on_fire"
        assert info.value.detail == "The kitchen printer is on fire."


async def test_an_unknown_status_word_means_not_finished() -> None:
    """A status the library does not know is waited through until the deadline, never success."""
    async with environment() as env:
        handle = await env.client.orders.submit(env.order())
        env.sb.set_job_status(str(handle.id), "waiting_for_printer")
        with pytest.raises(JobTimeoutError) as info:
            await handle.wait(timeout=60)
        assert handle.status == "waiting_for_printer"
        assert not handle.done
        assert info.value.handle is handle
        assert len(env.polls(handle)) > 3
        env.sb.set_job_status(str(handle.id), "pending")
        assert (await handle.wait(timeout=60)).status is JobStatus.COMPLETED


# --- waiting for a till that is off --------------------------------------------------------------


async def test_an_offline_till_for_hours_costs_about_two_polls_a_minute() -> None:
    """Three simulated hours offline: polls back off to the 30 s ceiling, then the job completes."""

    def back_at_three_hours(clock: FakeClock, sb: Sandbox) -> Callable[[float], Awaitable[None]]:
        async def sleep(seconds: float) -> None:
            await clock.sleep(seconds)
            if clock.now >= 3 * 3600:
                sb.set_sales_point_online(None, True)

        return sleep

    async with environment(job_expiry=6 * 3600, sleep=back_at_three_hours) as env:
        env.sb.set_sales_point_online(None, False)
        handle = await env.client.orders.submit(env.order())
        done = await handle.wait(timeout=5 * 3600)
        assert done.status is JobStatus.COMPLETED
        times = [r.time for r in env.polls(handle)]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert max(gaps) <= 30 * 1.0001
        assert 3 * 3600 <= times[-1] <= 3 * 3600 + 2 * 30 + 2  # back, then 2 s of work
        assert 3 * 3600 / 30 <= len(times) <= 3 * 3600 / 30 + 70
        late = [t for t in times if t > 3600]
        assert len(late) <= 2 * 3600 / 30 * 1.12 + 1  # ~2 a minute, jitter included


async def test_the_deadline_ends_the_wait_and_the_handle_stays_usable() -> None:
    """wait(timeout=60) raises JobTimeoutError at 60 s; later the same handle completes."""
    async with environment() as env:
        env.sb.set_sales_point_online(None, False)
        handle = await env.client.orders.submit(env.order())
        started = env.clock.now
        with pytest.raises(JobTimeoutError) as info:
            await handle.wait(timeout=60)
        assert isinstance(info.value, TimeoutError)
        assert env.clock.now - started == pytest.approx(60)
        assert info.value.handles == (handle,)
        assert handle.status is JobStatus.PENDING
        assert [r.method for r in env.sb.requests].count("POST") == 1
        assert {r.method for r in env.sb.requests} <= {"POST", "GET"}
        env.sb.set_sales_point_online(None, True)
        assert (await handle.wait(timeout=60)).status is JobStatus.COMPLETED


async def test_cancelling_a_wait_leaves_nothing_pending() -> None:
    """A cancelled wait stops local polling at once; no task of the library stays behind."""
    async with environment() as env:
        env.sb.set_sales_point_online(None, False)
        handle = await env.client.orders.submit(env.order())
        waiting = asyncio.create_task(handle.wait(timeout=3600))
        await _until(lambda: len(env.polls(handle)) >= 3)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await _settle()
        assert _bessa_tasks() == []
        assert not env.client._jobs.scheduler.active
        seen = len(env.polls(handle))
        await env.clock.sleep(600)
        await _settle()
        assert len(env.polls(handle)) == seen
        env.sb.set_sales_point_online(None, True)
        assert (await handle.wait(timeout=60)).status is JobStatus.COMPLETED


async def test_aclose_stops_the_scheduler_and_fails_open_waits() -> None:
    """Closing the client ends running waits with ClientClosedError (a BessaError and a
    RuntimeError) and stops every poll."""
    async with environment() as env:
        env.sb.set_sales_point_online(None, False)
        handle = await env.client.orders.submit(env.order())
        waiting = asyncio.create_task(handle.wait())
        await _until(lambda: bool(env.polls(handle)))
        await env.client.aclose()
        with pytest.raises(ClientClosedError, match="closed while waiting"):
            await waiting
        assert _bessa_tasks() == []  # aclose() itself waited for them
        with pytest.raises(ClientClosedError, match="closed"):
            await handle.wait()


async def test_resume_from_a_token_in_a_new_client() -> None:
    """A token saved before closing one client resumes the wait in another."""
    async with environment() as env:
        handle = await env.client.orders.submit(env.order(reference="shop-77"))
        token = handle.to_token()
        await env.client.aclose()
        assert env.sb.token not in token
        assert json.loads(token)["idempotency_key"] == handle.idempotency_key
        async with BessaClient(
            env.sb.token, base_url=env.sb.url, clock=env.clock, sleep=env.clock.sleep
        ) as fresh:
            again = fresh.jobs.resume(token)
            assert (again.id, again.reference, again.status) == (
                handle.id,
                "shop-77",
                JobStatus.PENDING,
            )
            done = await again.wait(timeout=60)
            assert done.status is JobStatus.COMPLETED
            assert len(env.polls(again)) >= 1


async def test_a_token_saved_after_the_job_ended_resumes_to_its_outcome() -> None:
    """Saved after wait(): resume gives the completed job, or JobFailedError for a failed one
    (read from the API, since the token keeps the status only), never an AssertionError."""
    async with environment() as env:
        good = await env.client.orders.submit(env.order(reference="ended-ok"))
        bad = await env.client.orders.submit(env.order(reference="ended-bad", active=False))
        done = await good.wait(timeout=60)
        with pytest.raises(JobFailedError):
            await bad.wait(timeout=60)
        tokens = good.to_token(), bad.to_token()
        again_good, again_bad = (env.client.jobs.resume(t) for t in tokens)
        assert again_good.done
        assert again_bad.done
        with pytest.raises(asyncio.InvalidStateError, match=r"wait\(\)"):
            again_good.outcome()  # nothing read yet: a clear error, not an assert
        assert await again_good.wait(timeout=60) == done
        assert again_good.outcome() == done
        with pytest.raises(JobFailedError) as info:
            await again_bad.wait(timeout=60)
        assert info.value.code == "article_inactive"
        resumed = [env.client.jobs.resume(t) for t in tokens]
        seen = [h async for h in env.client.jobs.as_completed(resumed, timeout=60)]
        assert set(seen) == set(resumed)
        polls = len(env.sb.requests)
        assert await resumed[0].wait() == done  # as_completed read them: answered at once
        with pytest.raises(JobFailedError):
            await resumed[1].wait()
        assert len(env.sb.requests) == polls
        await _settle()
        assert _bessa_tasks() == []


async def test_a_job_submitted_elsewhere() -> None:
    """orders.job(id) knows nothing until asked; refresh() reads it, wait() waits for it."""
    async with environment() as env:
        submitted = await env.client.orders.submit(env.order())
        handle = env.client.orders.job(str(submitted.id))
        assert handle.status is None
        assert not handle.done
        assert (await handle.refresh()).status is JobStatus.PENDING
        assert (await handle.wait(timeout=60)).status is JobStatus.COMPLETED
        with pytest.raises(NotFoundError):
            await env.client.orders.job(uuid.uuid4()).wait(timeout=60)
        with pytest.raises(ValueError, match="job id"):
            env.client.orders.job("nope")


# --- many handles ------------------------------------------------------------------------------


async def test_as_completed_yields_in_completion_order() -> None:
    """Jobs taking 20 s, 2 s and 8 s come out 2, 8, 20; a failed one is yielded too."""
    durations = iter([20.0, 2.0, 8.0, 5.0])
    async with environment(job_duration=lambda _: next(durations)) as env:
        slow = await env.client.orders.submit(env.order(reference="slow"))
        fast = await env.client.orders.submit(env.order(reference="fast"))
        middle = await env.client.orders.submit(env.order(reference="middle"))
        failing = await env.client.orders.submit(env.order(reference="failing", active=False))
        order = []
        async for finished in env.client.jobs.as_completed(
            [slow, fast, middle, failing, fast], timeout=120
        ):
            order.append(finished.reference)
        assert order == ["fast", "failing", "middle", "slow"]
        with pytest.raises(JobFailedError):
            await failing.wait()
        await _settle()
        assert _bessa_tasks() == []


async def test_as_completed_deadline_names_the_unfinished() -> None:
    """At the deadline as_completed raises JobTimeoutError with the jobs still running."""
    async with environment() as env:
        online, offline = env.points()[:2]
        done = await env.client.orders.submit(env.order(point=online))
        env.sb.set_sales_point_online(offline, False)
        stuck = await env.client.orders.submit(env.order(point=offline))
        seen = []

        async def collect() -> None:
            async for finished in env.client.jobs.as_completed([stuck, done], timeout=30):
                seen.append(finished)

        with pytest.raises(JobTimeoutError) as info:
            await collect()
        assert seen == [done]
        assert info.value.handles == (stuck,)
        await _settle()
        assert _bessa_tasks() == []


async def test_leaving_as_completed_early_stops_polling_the_rest() -> None:
    """Breaking out of as_completed (closed with aclosing) drops the other waits."""
    async with environment(job_duration=lambda _: 1.0) as env:
        online, offline = env.points()[:2]
        first = await env.client.orders.submit(env.order(point=online))
        env.sb.set_sales_point_online(offline, False)
        other = await env.client.orders.submit(env.order(point=offline))
        async with contextlib.aclosing(
            env.client.jobs.as_completed([first, other], timeout=600)
        ) as stream:
            async for finished in stream:
                assert finished is first
                break
        await _settle()
        assert _bessa_tasks() == []
        assert env.client._jobs.scheduler.waiting == 0


async def test_one_scheduler_serves_many_jobs_within_the_in_flight_limit() -> None:
    """60 jobs polled one by one share one poller task and never have more than 4 polls in
    flight."""
    in_step = attrs.evolve(STEADY, jitter=0)  # polls due at the same instant: the limit bites
    async with environment(max_in_flight=4, job_duration=(1.0, 30.0), poll=in_step) as env:
        env.client._jobs.scheduler.batch = False  # per-job polling, as without the jobs list
        handles = [await env.client.orders.submit(env.order()) for _ in range(60)]
        pollers: set[asyncio.Task[Any]] = set()

        async def watch_tasks() -> None:
            while True:
                pollers.update(t for t in _bessa_tasks() if t.get_name().endswith("poller"))
                await asyncio.sleep(0)

        spy = asyncio.create_task(watch_tasks())
        try:
            async for _ in env.client.jobs.as_completed(handles, timeout=120):
                pass
        finally:
            spy.cancel()
            await asyncio.gather(spy, return_exceptions=True)
        assert len(pollers) == 1
        stats = env.client.jobs.stats
        assert stats.peak_in_flight == 4
        assert stats.polls == sum(len(env.polls(h)) for h in handles)
        assert stats.polls / len(handles) < 12
        assert all(h.status is JobStatus.COMPLETED for h in handles)


async def test_retry_after_on_a_job_answer_sets_the_next_delay() -> None:
    """A Retry-After of 7 s spaces the polls 7 s apart; a ceiling of 5 s caps it."""
    async with environment(job_retry_after=7, job_delay=20) as env:
        handle = await env.client.orders.submit(env.order())
        await handle.wait(timeout=120)
        times = [r.time for r in env.polls(handle)]
        assert times[0] == pytest.approx(7)
        assert {round(b - a, 6) for a, b in itertools.pairwise(times)} == {7}
        capped = await env.client.orders.submit(env.order())
        await capped.wait(poll=attrs.evolve(STEADY, ceiling=5), timeout=120)
        times = [r.time for r in env.polls(capped)]
        assert {round(b - a, 6) for a, b in itertools.pairwise(times)} == {5}


async def test_a_per_call_poll_policy_overrides_the_clients() -> None:
    """wait(poll=...) uses that policy: a fixed 4 s period here."""
    async with environment(poll=STEADY, job_delay=10) as env:
        handle = env.client.orders.job((await env.client.orders.submit(env.order())).id)
        fixed = PollPolicy(initial=4, floor=4, ceiling=4, jitter=0)
        await handle.wait(poll=fixed, timeout=120)
        times = [r.time for r in env.polls(handle)]
        assert times == pytest.approx([0, 4, 8, 12, 16, 20])


async def test_each_poll_logs_one_redacted_debug_line(caplog: pytest.LogCaptureFixture) -> None:
    """A DEBUG line per poll names the job, its status and the next delay; never the token."""
    async with environment(poll=STEADY) as env:
        with caplog.at_level(logging.DEBUG, logger="bessa_async.jobs"):
            handle = await env.client.orders.submit(env.order())
            await handle.wait(timeout=60)
        lines = [r.getMessage() for r in caplog.records if r.name == "bessa_async.jobs"]
        assert len(lines) == len(env.polls(handle))
        assert lines[0] == f"job {handle.path}: pending, next poll in 0.75 s"
        assert lines[-1] == f"job {handle.path}: completed"
        assert all(env.sb.token not in line for line in lines)


# --- submitting: idempotency and reconciliation --------------------------------------------------


async def test_the_idempotency_key_is_kept_across_attempts() -> None:
    """A throttled POST is retried with the same Idempotency-Key and body: one job."""
    async with environment() as env:
        env.sb.inject(Fault.rate_limit(1), path="requests/orders/", method="POST", times=1)
        handle = await env.client.orders.submit(env.order())
        posts = env.requests("POST")
        assert len(posts) == 2
        keys = {p.headers["Idempotency-Key"] for p in posts}
        assert keys == {handle.idempotency_key}
        assert posts[0].body == posts[1].body
        uuid.UUID(str(handle.idempotency_key))
        assert len(env.sb.jobs()) == 1


async def test_each_submission_gets_its_own_key_and_reference() -> None:
    """Two submissions of equal orders are two jobs with different keys and references."""
    async with environment() as env:
        first = await env.client.orders.submit(env.order())
        second = await env.client.orders.submit(env.order())
        assert first.idempotency_key != second.idempotency_key
        assert first.reference != second.reference
        assert first.reference is not None
        assert first.reference.startswith("bessa-async-order-")
        assert len(env.sb.jobs()) == 2


async def test_reconcile_finds_a_job_whose_answer_was_lost() -> None:
    """POST answered by a dropped connection after the job was made: found by reference."""
    async with environment() as env:
        env.sb.inject(
            Fault.drop(after_handler=True), path="requests/orders/", method="POST", times=1
        )
        handle = await env.client.orders.submit(env.order(reference="lost-1"))
        assert [j["id"] for j in env.sb.jobs()] == [str(handle.id)]
        assert len(env.requests("POST")) == 1
        lookups = env.requests("GET")
        assert [dict(r.query)["reference"] for r in lookups] == ["lost-1"]
        assert (await handle.wait(timeout=60)).status is JobStatus.COMPLETED


async def test_reconcile_proves_absence_and_resubmits_once_with_the_same_key() -> None:
    """Dropped before the job was made: the lookup finds nothing, the POST goes once more."""
    async with environment() as env:
        env.sb.inject(Fault.drop(), path="requests/orders/", method="POST", times=1)
        handle = await env.client.orders.submit(env.order(reference="lost-2"))
        posts = env.requests("POST")
        assert len(posts) == 2
        assert {p.headers["Idempotency-Key"] for p in posts} == {handle.idempotency_key}
        assert len(env.sb.jobs()) == 1


async def test_a_gateway_error_on_post_is_reconciled() -> None:
    """A 502 from a proxy leaves the outcome open: looked up, absent, sent again, same key."""
    async with environment() as env:
        env.sb.inject(
            Fault.status(502, body="html"), path="requests/orders/", method="POST", times=1
        )
        handle = await env.client.orders.submit(env.order())
        assert len(env.requests("POST")) == 2
        assert [j["id"] for j in env.sb.jobs()] == [str(handle.id)]


async def test_two_lost_answers_in_a_row_are_an_unknown_outcome() -> None:
    """Absent after both attempts failed ambiguously: SubmissionOutcomeUnknownError, no third."""
    async with environment() as env:
        env.sb.inject(Fault.drop(), path="requests/orders/", method="POST", times=2)
        with pytest.raises(SubmissionOutcomeUnknownError) as info:
            await env.client.orders.submit(env.order(reference="lost-3"))
        assert info.value.reference == "lost-3"
        posts = env.requests("POST")
        assert len(posts) == 2
        assert info.value.idempotency_key == posts[0].headers["Idempotency-Key"]


async def test_a_failed_lookup_is_an_unknown_outcome_with_key_and_reference() -> None:
    """The lookup itself fails: the error carries key and reference; nothing is resubmitted."""
    async with environment() as env:
        env.sb.inject(
            Fault.drop(after_handler=True), path="requests/orders/", method="POST", times=1
        )
        env.sb.inject(Fault.status(503), path="requests/orders/", method="GET")
        with pytest.raises(SubmissionOutcomeUnknownError) as info:
            await env.client.orders.submit(env.order(reference="lost-4"))
        assert info.value.reference == "lost-4"
        assert "failed" in info.value.reason
        assert len(env.requests("POST")) == 1
        assert info.value.idempotency_key == env.requests("POST")[0].headers["Idempotency-Key"]
        assert len(env.sb.jobs()) == 1


async def test_two_jobs_with_the_reference_are_an_unknown_outcome() -> None:
    """If the reference was used twice, the lookup cannot tell which is ours: unknown."""
    async with environment() as env:
        await env.client.orders.submit(env.order(reference="dup"))
        env.sb.inject(
            Fault.drop(after_handler=True), path="requests/orders/", method="POST", times=1
        )
        with pytest.raises(SubmissionOutcomeUnknownError, match="2 jobs carry"):
            await env.client.orders.submit(env.order(reference="dup"))


async def test_a_failed_poll_never_resubmits() -> None:
    """Polls failing with 503 and dropped connections are retried later; the POST is not."""
    async with environment() as env:
        status = env.sb.inject(Fault.status(503), path="requests/orders/*/", method="GET", times=3)
        dropped = env.sb.inject(Fault.drop(), path="requests/orders/*/", method="GET", times=2)
        handle = await env.client.orders.submit(env.order())
        assert (await handle.wait(timeout=120)).status is JobStatus.COMPLETED
        assert (status.hits, dropped.hits) == (3, 2)
        assert len(env.requests("POST")) == 1
        # aiohttp itself repeats a GET once when a reused connection drops: 4 or 5 failed polls.
        assert 4 <= env.client.jobs.stats.errors <= 5
        assert len(env.sb.jobs()) == 1


async def test_a_refused_body_is_a_validation_error_with_the_nested_map() -> None:
    """An unknown article: 400 with DRF's nested field map, not retried, nothing created."""
    async with environment() as env:
        unknown = uuid.uuid4()
        order = Order(sales_point=env.point(), lines=[OrderLine(article=unknown, quantity=1)])
        with pytest.raises(ValidationError) as info:
            await env.client.orders.submit(order)
        assert "does not exist" in info.value.errors["lines"][0]["article"][0]
        assert len(env.requests("POST")) == 1
        assert env.sb.jobs() == []


async def test_a_key_reused_with_another_body_is_a_conflict() -> None:
    """Your own idempotency key reused for a different order: ConflictError, one job."""
    async with environment() as env:
        key = uuid.uuid4()
        first = await env.client.orders.submit(env.order(reference="a"), idempotency_key=key)
        again = await env.client.orders.submit(env.order(reference="a"), idempotency_key=str(key))
        assert again.id == first.id
        with pytest.raises(ConflictError):
            await env.client.orders.submit(env.order(reference="b"), idempotency_key=key)
        with pytest.raises(ValueError, match="idempotency_key"):
            await env.client.orders.submit(env.order(), idempotency_key="has space")
        assert len(env.sb.jobs()) == 1


# --- orders, payments, listing ------------------------------------------------------------------


async def test_order_then_payment_produces_the_receipt() -> None:
    """The order completes with an open order; paying it yields an invoice in receipts/."""
    async with environment() as env:
        article = env.article()
        order = Order(
            sales_point=env.point(),
            lines=[OrderLine(article=article["id"], quantity=Decimal(3))],
        )
        done = await (await env.client.orders.submit(order)).wait(timeout=60)
        assert done.result is not None
        assert done.result.order is not None
        total = Decimal(article["price"]) * 3
        method = next(m for m in env.sb.data.payment_methods if m["type"] == "cash")
        payment = Payment(
            sales_point=env.point(),
            order=done.result.order,
            payment_method=method["id"],
            amount=total,
            tip=Decimal("2.00"),
            reference="psp-1",
        )
        paid = await (await env.client.payments.submit(payment)).wait(timeout=60)
        assert paid.result is not None
        assert paid.result.receipt is not None
        receipt = await env.client.receipts.get(paid.result.receipt)
        assert receipt.number == paid.result.number
        assert receipt.total == total
        assert receipt.tip == Decimal("2.00")
        assert receipt.orders == (done.result.order,)
        wrong = attrs.evolve(payment, amount=total + 1, reference="psp-2")
        with pytest.raises(JobFailedError) as info:
            await (await env.client.payments.submit(wrong)).wait(timeout=60)
        assert info.value.code in ("amount_mismatch", "order_already_paid")


async def test_orders_list_is_a_paginator_of_jobs_with_filters() -> None:
    """orders.list(status=, reference=, created__gte=) reads typed jobs across pages."""
    async with environment() as env:
        before = datetime.now(UTC) - timedelta(minutes=1)
        handles = [await env.client.orders.submit(env.order(reference=f"r{i}")) for i in range(5)]
        jobs = await env.client.orders.list(limit=2).collect()
        by_change = sorted(handles, key=lambda h: (h.job and h.job.updated, str(h.id)))
        assert [j.id for j in jobs] == [h.id for h in by_change]  # by updated, then id
        assert all(isinstance(j, Job) for j in jobs)
        found = await env.client.orders.list(reference="r3").collect()
        assert [j.id for j in found] == [handles[3].id]
        pending = env.client.orders.list(status=JobStatus.PENDING, created__gte=before)
        assert len(await pending.collect()) == 5
        assert (
            await env.client.orders.list(
                created__gte=datetime.now(UTC) + timedelta(days=9)
            ).collect()
            == []
        )
        assert await env.client.payments.list().collect() == []
        with pytest.raises(TypeError):
            env.client.orders.list(state="pending")  # type: ignore[call-arg]
        (query,) = [dict(r.query) for r in env.requests("GET") if ("status", "pending") in r.query]
        assert query["created__gte"] == before.isoformat()


async def test_paths_can_be_overridden() -> None:
    """paths={"orders": ...} points submissions and polls elsewhere (here: a 404)."""
    clock = FakeClock()
    async with (
        Sandbox(receipts=20, clock=clock) as sb,
        BessaClient(
            sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep, paths={"orders": "jobs/"}
        ) as client,
    ):
        assert client.paths["orders"] == "jobs/"
        assert client.paths["payments"] == "requests/payments/"
        assert client.orders.job(uuid.uuid4()).path.startswith("jobs/")
        env = Env(clock, sb, client)
        with pytest.raises(NotFoundError):
            await client.orders.submit(env.order())
        assert [r.path for r in sb.requests] == ["jobs/"]


# --- lost answers at scale ---------------------------------------------------------------------


async def test_r2_five_percent_lost_answers_never_duplicate_or_lose_an_order() -> None:
    """500 orders, 5 % of POST answers dropped after the job was made: 500 jobs, 0 duplicates."""
    async with environment() as env:
        rule = env.sb.inject(
            Fault.drop(after_handler=True), path="requests/orders/", method="POST", rate=0.05
        )
        point, article = env.point(), env.article()["id"]

        async def one(n: int) -> JobHandle | SubmissionOutcomeUnknownError:
            order = Order(
                sales_point=point,
                lines=[OrderLine(article=article, quantity=Decimal(1))],
                reference=f"r2-{n}",
            )
            try:
                return await env.client.orders.submit(order)
            except SubmissionOutcomeUnknownError as exc:
                return exc

        tasks = []
        for n in range(500):  # in steps: creating 500 tasks at once blocks a debug-mode loop
            tasks.append(asyncio.create_task(one(n)))
            if n % 50 == 49:
                await asyncio.sleep(0)
        outcomes = await asyncio.gather(*tasks)
        jobs = env.sb.jobs()
        references = Counter(j["reference"] for j in jobs)
        assert rule.hits >= 10
        assert len(jobs) == 500
        assert max(references.values()) == 1
        handles = [o for o in outcomes if isinstance(o, JobHandle)]
        unknown = [o for o in outcomes if isinstance(o, SubmissionOutcomeUnknownError)]
        assert len(handles) + len(unknown) == 500
        by_reference = {j["reference"]: j["id"] for j in jobs}
        for handle in handles:  # each caller told the truth: its handle is its job
            assert handle.reference is not None
            assert by_reference[handle.reference] == str(handle.id)
        for error in unknown:  # and an unknown outcome is one that can be looked up
            assert error.reference in by_reference
        assert len(env.requests("POST")) == 500
        assert len(env.requests("GET")) == rule.hits
