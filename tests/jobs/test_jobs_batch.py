"""Many waiting jobs read through the jobs list: rounds, inferred filters and their fallbacks.

Every test runs the client and the sandbox on one FakeClock, so minutes of processing take
milliseconds; what is asserted is what went over the wire (the sandbox's request log).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async import (
    BessaClient,
    JobFailedError,
    JobHandle,
    JobStatus,
    JobTimeoutError,
    Order,
    OrderLine,
    Payment,
    PollPolicy,
    ValidationError,
)
from bessa_async._jobs.model import Job
from bessa_async._jobs.pacing import ROUND_FLOOR, next_round_delay, round_policy
from bessa_async._jobs.rounds import ListState, contradicts, lacks_outcome
from bessa_async.testing import FakeClock, Fault, RecordedRequest, Sandbox
from bessa_async.testing._drift import Drift

QUICK = PollPolicy(initial=0.5, floor=0.25, ceiling=10, multiplier=1.5, jitter=0)


class Env:
    def __init__(self, clock: FakeClock, sb: Sandbox, client: BessaClient) -> None:
        self.clock, self.sb, self.client = clock, sb, client

    def order(self, reference: str | None = None) -> Order:
        point = next(p["id"] for p in self.sb.data.sales_points if p["status"] == "active")
        article = next(
            a["id"] for a in self.sb.data.articles if a["active"] and a["type"] == "standard"
        )
        return Order(
            sales_point=point,
            lines=[OrderLine(article=article, quantity=Decimal(1))],
            reference=reference,
        )

    async def orders(self, count: int) -> list[JobHandle]:
        return [await self.client.orders.submit(self.order()) for _ in range(count)]

    def gets(self, path: str = "requests/orders/") -> list[RecordedRequest]:
        return [r for r in self.sb.requests if r.method == "GET" and r.path == path]

    def reads(self, handle: JobHandle) -> int:
        return len(self.gets(handle.path))


@contextlib.asynccontextmanager
async def environment(**sandbox: Any) -> AsyncIterator[Env]:
    clock = FakeClock()
    sandbox.setdefault("job_duration", (1.0, 5.0))
    async with (
        Sandbox(receipts=20, clock=clock, **sandbox) as sb,
        BessaClient(
            sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep, poll=QUICK
        ) as client,
    ):
        yield Env(clock, sb, client)


async def _all(env: Env, handles: list[JobHandle], timeout: float = 600) -> list[JobHandle]:
    return [h async for h in env.client.jobs.as_completed(handles, timeout=timeout)]


async def _until(condition: Any, steps: int = 100_000) -> None:
    """Yield to the loop until ``condition()`` holds (bounded: fails rather than hangs)."""
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


def _bessa_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("bessa_async")]


# --- through the sandbox -------------------------------------------------------------------------


async def test_many_waiting_jobs_are_read_from_the_list_not_one_by_one() -> None:
    """40 orders end through list rounds: no job is read on its own, fewer GETs than jobs x 2
    (polled one by one they take 3 to 4 each)."""
    async with environment() as env:
        handles = await env.orders(40)
        done = await _all(env, handles)
        assert {h.id for h in done} == {h.id for h in handles}
        assert all(h.status is JobStatus.COMPLETED and h.job and h.job.result for h in done)
        assert sum(env.reads(h) for h in handles) == 0
        lists = env.gets()
        assert 0 < len(lists) < 2 * len(handles)
        assert all(("updated__gte" in dict(r.query)) for r in lists)
        assert {r.method for r in env.sb.requests} <= {"GET", "POST"}
        stats = env.client.jobs.stats
        assert stats.list_pages == len(lists)
        assert stats.polls == 0
        assert stats.peak_in_flight == 1


async def test_an_ignored_updated_filter_falls_back_to_the_unfinished_list(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """updated__gte answered unfiltered: said once, then status= lists; each job that leaves
    the unfinished list is read once by id."""
    caplog.set_level(logging.WARNING, "bessa_async.jobs")
    drift = Drift(bare_cursors=False, ignored_filters={"updated__gte"})
    async with environment(drift=drift) as env:
        handles = await env.orders(12)
        await _all(env, handles)
        assert all(h.status is JobStatus.COMPLETED for h in handles)
        warnings = [r.getMessage() for r in caplog.records if "ignores" in r.getMessage()]
        assert warnings == [
            "jobs list requests/orders/ ignores the updated__gte filter: polling through the "
            "list of unfinished jobs instead"
        ]
        lists = env.gets()
        switched = next(i for i, r in enumerate(lists) if "status" in dict(r.query))
        assert all("updated__gte" not in dict(r.query) for r in lists[switched:])
        assert [v for k, v in lists[-1].query if k == "status"] == ["pending", "processing"]
        # Read by id only when it left the list (a job that ended before the switch needs none).
        assert all(env.reads(h) <= 1 for h in handles)
        assert sum(env.reads(h) for h in handles) >= 1


async def test_a_status_filter_that_takes_one_value_is_caught_by_the_jobs_it_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """status=pending&status=processing read as status=processing: a pending job missing from
    the list is read, found pending, and the status rounds stop."""
    caplog.set_level(logging.WARNING, "bessa_async.jobs")
    drift = Drift(bare_cursors=False, ignored_filters={"updated__gte"}, single_filters={"status"})
    async with environment(drift=drift, job_duration=(20.0, 60.0)) as env:
        handles = await env.orders(6)
        await _all(env, handles)
        assert all(h.status is JobStatus.COMPLETED for h in handles)
        messages = [r.getMessage() for r in caplog.records if "ignores" in r.getMessage()]
        assert len(messages) == 2
        assert "status filter" in messages[1]


async def test_every_filter_ignored_polls_one_by_one_and_stays_correct(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "bessa_async.jobs")
    drift = Drift(bare_cursors=False, ignored_filters={"updated__gte", "status"})
    async with environment(drift=drift) as env:
        handles = await env.orders(10)
        await _all(env, handles)
        assert all(h.status is JobStatus.COMPLETED for h in handles)
        messages = [r.getMessage() for r in caplog.records if "ignores" in r.getMessage()]
        assert len(messages) == 2
        assert "one GET per job" in messages[1]
        assert sum(env.reads(h) for h in handles) >= 1
        # A status= round proved that filter ignored too (once a job had ended); from then
        # on, only reads by id.
        lists = env.gets()
        assert "status" in dict(lists[-1].query)
        last = env.sb.requests.index(lists[-1])
        assert any(r.path != "requests/orders/" for r in env.sb.requests[last + 1 :])


async def test_an_unknown_status_word_is_not_finished_in_either_mode() -> None:
    """A job in "queued" keeps its waiter waiting, from the changes list and from its own
    reads once the unfinished list cannot show it."""
    for ignored in (frozenset(), frozenset({"updated__gte"})):
        drift = Drift(bare_cursors=False, ignored_filters=ignored)
        async with environment(drift=drift, job_delay=1, job_duration=None) as env:
            handles = await env.orders(6)
            odd = handles[0]
            env.sb.set_job_status(str(odd.id), "queued")
            with pytest.raises(JobTimeoutError) as caught:
                await _all(env, handles, timeout=60)
            assert caught.value.handles == (odd,)
            assert odd.status == "queued"
            assert not odd.done
            assert all(h.status is JobStatus.COMPLETED for h in handles[1:])


async def test_a_job_that_leaves_the_unfinished_list_is_read_not_assumed_done() -> None:
    """Cancelled on the server: gone from status=pending,processing; one read says how it
    ended (JobFailedError), not a guess."""
    drift = Drift(bare_cursors=False, ignored_filters={"updated__gte"})
    async with environment(drift=drift, job_duration=(20.0, 60.0)) as env:
        handles = await env.orders(5)
        waits = [asyncio.ensure_future(h.wait(timeout=600)) for h in handles]
        await _until(lambda: any("status" in dict(r.query) for r in env.gets()), steps=10**6)
        pending = [i for i, h in enumerate(handles) if h.status == "pending"]
        target = handles[pending[-1]]
        assert (await target.refresh()).status == "pending"
        env.sb.cancel_job(str(target.id))
        with pytest.raises(JobFailedError):
            await waits[pending[-1]]
        assert env.reads(target) == 2  # the test's own refresh, then the one read it needed
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


async def test_orders_and_payments_are_read_from_their_own_lists() -> None:
    async with environment() as env:
        orders = await env.orders(4)
        method = next(m["id"] for m in env.sb.data.payment_methods if m["active"])
        payments = [
            await env.client.payments.submit(
                Payment(
                    sales_point=env.order().sales_point,
                    order=uuid.uuid4(),
                    payment_method=method,
                    amount=Decimal("1.00"),
                )
            )
            for _ in range(4)
        ]
        done = await _all(env, [*orders, *payments])
        assert len(done) == 8
        assert all(h.status is JobStatus.COMPLETED for h in orders)
        assert all(h.status is JobStatus.FAILED for h in payments)  # no such order on the till
        assert env.gets("requests/orders/")
        assert env.gets("requests/payments/")
        # Only a kind's last waiting job may be read on its own (a round of one is a GET).
        assert sum(env.reads(h) for h in [*orders, *payments]) < 8


async def test_a_resumed_handle_is_read_once_then_joins_the_round() -> None:
    async with environment(job_delay=20, job_duration=None) as env:
        handles = await env.orders(6)
        token = handles[0].to_token()
        resumed = env.client.jobs.resume(token)
        assert resumed.job is None
        done = await _all(env, [resumed, *handles[1:]])
        assert resumed in done
        assert resumed.status is JobStatus.COMPLETED
        assert env.reads(resumed) == 1  # its first read; the list did the rest
        assert sum(env.reads(h) for h in handles[1:]) == 0


async def test_cancelling_one_waiter_among_many_leaves_the_others_batched() -> None:
    async with environment(job_delay=20, job_duration=None) as env:
        handles = await env.orders(8)
        waits = [asyncio.ensure_future(h.wait()) for h in handles]
        await _until(lambda: bool(env.gets()))
        waits[3].cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        assert all(w.result().status is JobStatus.COMPLETED for i, w in enumerate(waits) if i != 3)
        assert waits[3].cancelled()
        assert env.client._jobs.scheduler.waiting == 0
        for _ in range(20):
            await asyncio.sleep(0)
        assert _bessa_tasks() == []


async def test_a_429_on_a_list_round_is_waited_out_and_the_round_tried_again() -> None:
    async with environment(job_delay=5, job_duration=None) as env:
        handles = await env.orders(6)
        env.sb.inject(Fault.rate_limit(7), path="requests/orders/", method="GET", times=1)
        await _all(env, handles)
        assert all(h.status is JobStatus.COMPLETED for h in handles)
        lists = env.gets()
        assert env.client.jobs.stats.errors == 1
        # The next round came no sooner than the server asked.
        assert lists[1].time - lists[0].time >= 7 - 1e-9


async def test_a_per_call_ceiling_bounds_the_rounds_of_an_offline_till() -> None:
    """Offline for an hour: rounds back off to the tightest member's ceiling, one page each."""
    async with environment(job_delay=1, job_duration=None, job_expiry=10_000) as env:
        env.sb.set_sales_point_online(None, online=False)
        handles = await env.orders(30)
        tight = PollPolicy(initial=0.5, floor=0.25, ceiling=5, multiplier=1.5, jitter=0)
        waits = [asyncio.ensure_future(h.wait(poll=tight)) for h in handles]
        await _until(lambda: env.clock() >= 3600, steps=10_000_000)
        lists = env.gets()
        assert len(lists) < 3600 / 5 + 20  # about one page per 5 s, not one GET per job
        assert max(b.time - a.time for a, b in itertools.pairwise(lists)) <= 5 + 1e-9
        env.sb.set_sales_point_online(None, online=True)
        back = env.clock()
        jobs = await asyncio.gather(*waits)
        assert all(j.status is JobStatus.COMPLETED for j in jobs)
        assert env.clock() - back <= 2 + 5 + 1e-6  # processing (2 s) + at most one ceiling


async def test_a_list_entry_without_its_outcome_is_read_once_by_id() -> None:
    drift = Drift(bare_cursors=False, renamed={"requests/orders": {"result": "outcome"}})
    async with environment(drift=drift) as env:
        handles = await env.orders(6)
        await _all(env, handles)
        assert all(h.status is JobStatus.COMPLETED for h in handles)
        # Read once by id at the end; only the last one waiting (a round of one) may be read more.
        assert sum(env.reads(h) > 1 for h in handles) <= 1
        assert sum(env.reads(h) >= 1 for h in handles) == len(handles)


async def test_the_sandbox_lists_jobs_by_updated_with_several_statuses() -> None:
    async with environment(job_delay=1, job_duration=None) as env:
        first = await env.client.orders.submit(env.order())
        env.clock.advance(1.5)  # picked up: processing
        second = await env.client.orders.submit(env.order())
        env.clock.advance(0.8)  # the first completed, the second is pending
        third = await env.client.orders.submit(env.order())

        async def ids(**params: Any) -> list[str]:
            page = await env.client.request("GET", "requests/orders/", params=params)
            return [item["id"] for item in page["results"]]

        everything = await ids()
        assert everything == [str(second.id), str(first.id), str(third.id)]  # by updated
        assert await ids(status=["pending", "processing"]) == [str(second.id), str(third.id)]
        assert await ids(status="completed") == [str(first.id)]
        assert second.job is not None
        assert second.job.updated is not None
        later = second.job.updated + timedelta(microseconds=1)
        assert await ids(updated__gte=later) == [str(first.id), str(third.id)]
        assert await ids(created__lt=later) == [str(second.id), str(first.id)]
        with pytest.raises(ValidationError):
            await ids(status=["pending", "queued"])


def test_drift_reads_job_filters_as_a_real_api_might() -> None:
    query = [("status", "pending"), ("status", "processing"), ("updated__gte", "x"), ("limit", "5")]
    ignoring = Drift(ignored_filters={"updated__gte"})
    assert ignoring.job_query(query) == [query[0], query[1], query[3]]
    single = Drift(single_filters={"status"})
    assert single.job_query(query) == [query[2], query[3], ("status", "processing")]


async def _doctor_filters(drift: Any) -> dict[str, bool | None]:
    async with environment(drift=drift, job_delay=1, job_duration=None) as env:
        points = [p["id"] for p in env.sb.data.sales_points if p["status"] == "active"]
        first = await env.client.orders.submit(env.order())
        env.clock.advance(10)
        await env.client.orders.submit(attrs.evolve(env.order(), sales_point=points[-1]))
        await first.refresh()  # completed now: the two jobs differ in every filtered field
        report = await env.client.doctor()
        assert report.jobs is not None
        return dict(report.jobs.filters)


async def test_the_doctor_reports_which_job_list_filters_are_honoured() -> None:
    assert await _doctor_filters(False) == {
        "status": True,
        "updated__gte": True,
        "sales_point": True,
        "reference": True,
    }
    ignored = await _doctor_filters(Drift(bare_cursors=False, ignored_filters={"updated__gte"}))
    assert ignored["updated__gte"] is False
    assert ignored["status"] is True


# --- pure ----------------------------------------------------------------------------------------

_T0 = datetime(2026, 6, 15, 12, tzinfo=UTC)


def test_contradicts_names_the_filter_an_item_disproves() -> None:
    query = {"updated__gte": _T0, "limit": 500}
    assert contradicts({"updated": "2026-06-15T12:00:00Z"}, query) is None
    assert contradicts({"updated": "2026-06-15T11:59:59Z"}, query) == "updated__gte"
    assert contradicts({}, query) == "updated__gte"
    status = {"status": ("pending", "processing")}
    assert contradicts({"status": "processing"}, status) is None
    assert contradicts({"status": "completed"}, status) == "status"
    assert contradicts({"status": "queued"}, status) == "status"


def test_a_finished_entry_without_its_outcome_is_read_by_id() -> None:
    job_id = uuid.uuid4()
    assert lacks_outcome(Job(id=job_id, status="completed"))
    assert lacks_outcome(Job(id=job_id, status="failed"))
    assert not lacks_outcome(Job(id=job_id, status="pending"))
    assert not lacks_outcome(Job(id=job_id, status="queued"))


def test_round_pacing_shares_the_floor_and_backs_off_when_quiet() -> None:
    policy = round_policy([QUICK, PollPolicy(ceiling=4, floor=0.5)])
    assert (policy.floor, policy.ceiling) == (0.25, 4)
    assert next_round_delay(policy, None, members=1000, changed=True) == ROUND_FLOOR
    assert next_round_delay(policy, None, members=2, changed=True) == 0.125
    assert next_round_delay(policy, 2.0, members=2, changed=False) == pytest.approx(2.16)
    assert next_round_delay(policy, 3.9, members=2, changed=False) == 4
    assert next_round_delay(policy, 0.1, members=2, changed=False, retry_after=60) == 4


@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 10_000), st.floats(0, 100)),
        min_size=1,
        max_size=30,
    )
)
def test_the_bound_never_passes_a_joined_job_or_the_newest_stamp(
    steps: list[tuple[bool, int, float]],
) -> None:
    """Whatever joins and rounds come, the next bound is at or before every job joined since
    the last round and at or before the newest stamp seen."""
    state = ListState("requests/orders/")
    waiting: list[datetime] = []
    now = 0.0
    for joins, offset, later in steps:
        stamp = _T0 + timedelta(milliseconds=offset)
        now += later
        if joins:
            state.join(stamp)
            waiting.append(stamp)
        elif state.since(now) is not None:
            state.saw([stamp], now)
            waiting.clear()
        bound = state.since(now)
        if bound is not None:
            assert all(bound <= w for w in waiting)
            assert state.newest is None or bound <= state.newest


def test_the_bound_keeps_an_overlap_while_the_list_moves_then_closes_it() -> None:
    state = ListState("requests/orders/")
    state.join(_T0)
    assert state.since(0.0) == _T0
    state.saw([_T0 + timedelta(seconds=10)], now=5.0)
    assert state.since(6.0) == _T0 + timedelta(seconds=9.5)
    assert state.since(100.0) == _T0 + timedelta(seconds=10)
    state.join(_T0 + timedelta(seconds=2))
    assert state.since(100.0) == _T0 + timedelta(seconds=2)
    assert state.query(100.0)["updated__gte"] == _T0 + timedelta(seconds=2)
    state.updated = False
    assert state.mode == "unfinished"
    assert state.query(0)["status"] == ("pending", "processing")
    assert ListState("requests/orders/", updated=False, status=False).mode == "off"
