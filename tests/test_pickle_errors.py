"""Every public error survives pickle with its attributes: Celery stores a failed task's
exception by pickling it, and arq pickles job results. Each error comes from a real call
against the sandbox (or the one call that raises it), never built by hand."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

import bessa_async
from bessa_async import (
    APIError,
    BessaClient,
    BessaError,
    JobHandle,
    Order,
    OrderLine,
    PollPolicy,
    RetryPolicy,
    business_day,
)
from bessa_async._jobs.model import Job
from bessa_async._models.records import NO_EXTRA
from bessa_async.testing import FakeClock, Fault, Sandbox


@attrs.frozen
class Env:
    clock: FakeClock
    sb: Sandbox
    client: BessaClient

    def order(self, reference: str | None = None) -> Order:
        point = next(p["id"] for p in self.sb.data.sales_points if p["status"] == "active")
        article = next(a for a in self.sb.data.articles if a["active"] and a["type"] == "standard")
        return Order(
            sales_point=point,
            lines=[OrderLine(article=article["id"], quantity=Decimal(2))],
            reference=reference,
        )


@asynccontextmanager
async def environment() -> AsyncIterator[Env]:
    clock = FakeClock()
    async with (
        Sandbox(receipts=50, clock=clock, job_delay=1) as sb,
        BessaClient(
            sb.token,
            base_url=sb.url,
            clock=clock,
            sleep=clock.sleep,
            poll=PollPolicy(initial=0.5, jitter=0),
        ) as client,
    ):
        yield Env(clock, sb, client)


NO_RETRY = RetryPolicy.disabled()
JUNE = {
    "timestamp__gte": datetime(2026, 5, 31, 22, tzinfo=UTC),
    "timestamp__lt": datetime(2026, 6, 30, 22, tzinfo=UTC),
}


async def _naive(env: Env) -> object:
    return await env.client.request("GET", "receipts/", params={"x": datetime(2026, 6, 1)})


async def _float(env: Env) -> object:
    return await env.client.request("GET", "receipts/", params={"x": 1.5})


async def _blank_token(env: Env) -> object:
    return BessaClient(" ", base_url=env.sb.url)


async def _zone(env: Env) -> object:
    return await asyncio.to_thread(business_day, date(2026, 6, 1), tz="Europe/Wien")


async def _resume_token(env: Env) -> object:
    return env.client.receipts.list(
        timestamp__gte=JUNE["timestamp__gte"],
        timestamp__lt=JUNE["timestamp__lt"],
        limit=10,
        concurrency=4,
        cursor="{",
    )


async def _foreign(env: Env) -> object:
    return await env.client.request("GET", "https://evil.example/v1/public/receipts/")


async def _cut(env: Env) -> object:
    env.sb.inject(Fault.truncate(), path="articles/")
    return await env.client.request("GET", "articles/", retry=NO_RETRY)


async def _refused(env: Env) -> object:
    await env.sb.close()
    return await env.client.request("GET", "articles/", retry=NO_RETRY)


async def _slow(env: Env) -> object:
    env.sb.inject(Fault.latency(5.0), path="articles/")
    async with BessaClient(env.sb.token, base_url=env.sb.url, timeout=0.2) as client:
        return await client.request("GET", "articles/", retry=NO_RETRY)


async def _status(status: int, env: Env, **fault: Any) -> object:
    env.sb.inject(Fault.status(status, **fault), path="articles/")
    return await env.client.request("GET", "articles/", retry=NO_RETRY)


async def _invalid_order(env: Env) -> object:
    return await env.client.request("POST", "requests/orders/", json={"lines": "x"})


async def _bad_token(env: Env) -> object:
    async with BessaClient("not-a-real-token", base_url=env.sb.url) as client:
        return await client.request("GET", "articles/")


async def _restricted(env: Env) -> object:
    async with BessaClient(env.sb.restricted_token, base_url=env.sb.url) as client:
        return await client.request("GET", "receipts/")


async def _missing(env: Env) -> object:
    return await env.client.request("GET", "articles/00000000-0000-0000-0000-000000000000/")


async def _conflict(env: Env) -> object:
    order = env.order(reference="webshop-1")
    key = "4a7f7f0e-5d55-4a3e-9d3f-1c2b3a4d5e6f"
    await env.client.orders.submit(order, idempotency_key=key)
    other = attrs.evolve(order, reference="other")
    return await env.client.orders.submit(other, idempotency_key=key)


async def _throttled(env: Env) -> object:
    env.sb.inject(Fault.rate_limit(retry_after=3600), path="articles/")
    return await env.client.request("GET", "articles/")


async def _not_allowed(env: Env) -> object:
    return await env.client.request("DELETE", "articles/")


async def _html(env: Env) -> object:
    env.sb.inject(Fault.non_json(), path="articles/")
    return await env.client.request("GET", "articles/", retry=NO_RETRY)


async def _cycling(env: Env) -> object:
    env.sb.inject(Fault.cycle_next(), path="receipts/")
    return await env.client.receipts.list(limit=10).collect()


async def _failed_midway(env: Env) -> object:
    listing = env.client.with_options(retry=NO_RETRY).receipts.list(limit=10)
    async for _ in listing:
        env.sb.inject(Fault.status(503), path="receipts/")
    return None


async def _job_failed(env: Env) -> object:
    env.sb.set_job_failure("printer_on_fire", "The kitchen printer is on fire.")
    handle = await env.client.orders.submit(env.order())
    return await handle.wait(timeout=60)


async def _job_timeout(env: Env) -> object:
    handle = await env.client.orders.submit(env.order())
    env.sb.set_job_status(str(handle.id), "waiting_for_printer")
    return await handle.wait(timeout=60)


async def _lost(env: Env) -> object:
    env.sb.inject(Fault.drop(), path="requests/orders/", method="POST", times=2)
    return await env.client.orders.submit(env.order(reference="lost-3"))


async def _other_loop(env: Env) -> object:
    await env.client.request("GET", "articles/")  # the client now belongs to this loop
    return await asyncio.to_thread(asyncio.run, env.client.request("GET", "companies/"))


async def _closed(env: Env) -> object:
    await env.client.aclose()
    return await env.client.request("GET", "articles/")


CASES: dict[str, tuple[type[BessaError], Callable[[Env], Awaitable[object]]]] = {
    "InvalidValueError": (bessa_async.InvalidValueError, _naive),
    "InvalidTypeError": (bessa_async.InvalidTypeError, _float),
    "ConfigurationError": (bessa_async.ConfigurationError, _blank_token),
    "UnknownTimeZoneError": (bessa_async.UnknownTimeZoneError, _zone),
    "ResumeTokenError": (bessa_async.ResumeTokenError, _resume_token),
    "ForeignOriginError": (bessa_async.ForeignOriginError, _foreign),
    "TransportError": (bessa_async.TransportError, _cut),
    "ConnectError": (bessa_async.ConnectError, _refused),
    "RequestTimeout": (bessa_async.RequestTimeout, _slow),
    "BadRequestError": (bessa_async.BadRequestError, lambda env: _status(400, env)),
    "ValidationError": (bessa_async.ValidationError, _invalid_order),
    "AuthenticationError": (bessa_async.AuthenticationError, _bad_token),
    "PermissionDeniedError": (bessa_async.PermissionDeniedError, _restricted),
    "NotFoundError": (bessa_async.NotFoundError, _missing),
    "ConflictError": (bessa_async.ConflictError, _conflict),
    "RateLimitError": (bessa_async.RateLimitError, _throttled),
    "ServerError": (bessa_async.ServerError, lambda env: _status(503, env, retry_after=7)),
    "APIError": (APIError, _not_allowed),
    "DecodeError": (bessa_async.DecodeError, _html),
    "PaginationLoopError": (bessa_async.PaginationLoopError, _cycling),
    "a listing failed midway": (bessa_async.ServerError, _failed_midway),
    "JobFailedError": (bessa_async.JobFailedError, _job_failed),
    "JobTimeoutError": (bessa_async.JobTimeoutError, _job_timeout),
    "SubmissionOutcomeUnknownError": (bessa_async.SubmissionOutcomeUnknownError, _lost),
    "WrongEventLoopError": (bessa_async.WrongEventLoopError, _other_loop),
    "ClientClosedError": (bessa_async.ClientClosedError, _closed),
}


def _same(before: object, after: object) -> bool:
    """Equal as values: handles by what they know, exceptions by type, args and attributes."""
    if isinstance(before, JobHandle):
        return isinstance(after, JobHandle) and before.to_token() == after.to_token()
    if isinstance(before, BaseException):
        return (
            type(after) is type(before)
            and after.args == before.args
            and _same(vars(before), vars(after))
        )
    if isinstance(before, tuple | list):
        return (
            isinstance(after, tuple | list)
            and len(before) == len(after)
            and all(_same(b, a) for b, a in zip(before, after, strict=True))
        )
    if isinstance(before, dict):
        return (
            isinstance(after, dict)
            and before.keys() == after.keys()
            and all(_same(before[k], after[k]) for k in before)
        )
    return before == after


def test_every_public_error_has_a_case() -> None:
    public = {
        name
        for name in bessa_async.__all__
        if isinstance(getattr(bessa_async, name), type)
        and issubclass(getattr(bessa_async, name), BessaError)
        and name not in ("BessaError", "InputError")  # abstract: raised only as a subclass
    }
    assert public <= {cls.__name__ for cls, _ in CASES.values()}


@pytest.mark.parametrize("name", list(CASES))
async def test_an_error_from_a_real_call_survives_pickle(name: str) -> None:
    expected, call = CASES[name]
    async with environment() as env:
        with pytest.raises(BessaError) as caught:
            await call(env)
    error = caught.value
    assert type(error) is expected
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert repr(again) == repr(error)
    assert again.resume_cursor == error.resume_cursor
    assert _same(error, again), vars(again)
    if name == "a listing failed midway":
        assert error.resume_cursor is not None
    for kept in ("status", "detail", "errors", "retry_after", "request_sent", "job", "handles"):
        if hasattr(error, kept):
            assert _same(getattr(error, kept), getattr(again, kept)), kept


async def test_a_failed_jobs_job_round_trips_with_its_unknown_fields() -> None:
    """The Job a JobFailedError carries, its ``extra`` included (empty or not), and the
    handles of a JobTimeoutError, which come back knowing their job but no client."""
    async with environment() as env:
        with pytest.raises(bessa_async.JobFailedError) as failed:
            await _job_failed(env)
        job = failed.value.job
        assert job.extra is NO_EXTRA or isinstance(job.extra, dict)
        with_extra = attrs.evolve(job, extra={"till": {"printer": ["on fire"]}})
        for value in (job, with_extra):
            assert pickle.loads(pickle.dumps(value)) == value
        assert pickle.loads(pickle.dumps(job)).extra is NO_EXTRA or job.extra
        with pytest.raises(bessa_async.JobTimeoutError) as timed_out:
            await _job_timeout(env)
    handle = pickle.loads(pickle.dumps(timed_out.value)).handle
    assert handle.to_token() == timed_out.value.handle.to_token()
    assert isinstance(handle.job, Job | None)
    with pytest.raises(bessa_async.InvalidValueError, match="unpickled"):
        await handle.wait(timeout=1)
    with pytest.raises(bessa_async.InvalidValueError, match="unpickled"):
        await handle.refresh()
