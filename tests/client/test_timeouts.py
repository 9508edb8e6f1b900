"""``timeout=`` on every call that sends, with one meaning each: seconds or a ``Timeout`` set
the call's deadline, ``None`` means no deadline, and leaving it out (``USE_CLIENT_DEFAULT``)
means the client's. The docs' table names every such call.

A slow server is played in virtual time: the sandbox holds a request some seconds of the shared
FakeClock (``Fault.latency``), then a gateway gives up (``Fault.status(504)``); a read is retried
while its deadline leaves time, so the number of requests sent shows which deadline applied.
"""

from __future__ import annotations

import contextlib
import inspect
import pickle
import re
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, final

import attrs
import pytest

import bessa_async
from bessa_async import (
    USE_CLIENT_DEFAULT,
    AnyResource,
    BessaClient,
    BlockingClient,
    ChangeFeed,
    InvalidTypeError,
    InvalidValueError,
    JobHandle,
    Order,
    OrderLine,
    Paginator,
    ServerError,
    SubmissionOutcomeUnknownError,
    Timeout,
    UseClientDefault,
)
from bessa_async._registry import TYPED_RESOURCES
from bessa_async._resources.raw import RawResource
from bessa_async.resources import Jobs, OrderJobs, PaymentJobs, Reports
from bessa_async.testing import FakeClock, Fault, Sandbox

CLIENT_TIMEOUT = 8.0
"""The client's deadline in these tests: a 5 s hang leaves time for one retry, not two."""
HANG = 5.0
HANGS = 3
"""Requests answered late with a 504 before the server answers; a fourth attempt succeeds."""


@final
@attrs.define
class Env:
    clock: FakeClock
    sb: Sandbox
    client: BessaClient

    def hang(self, path: str, method: str = "GET", *, times: int | None = HANGS) -> None:
        """Hold matching requests ``HANG`` s of virtual time, then answer 504 (``times`` times)."""
        self.sb.inject(Fault.latency(HANG), path=path, method=method, times=times)
        self.sb.inject(Fault.status(504), path=path, method=method, times=times)

    def sent(self, path: str) -> int:
        return sum(1 for r in self.sb.requests if r.path == path)

    def order(self, reference: str) -> Order:
        point = next(p["id"] for p in self.sb.data.sales_points if p["status"] == "active")
        article = next(a for a in self.sb.data.articles if a["active"] and a["type"] == "standard")
        return Order(
            sales_point=point,
            lines=[OrderLine(article=article["id"], quantity=Decimal(1))],
            reference=reference,
        )


@contextlib.asynccontextmanager
async def environment(timeout: float | Timeout = CLIENT_TIMEOUT) -> AsyncIterator[Env]:
    clock = FakeClock()
    async with (
        Sandbox(receipts=20, clock=clock, sleep=clock.sleep, job_delay=1) as sb,
        BessaClient(
            sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep, timeout=timeout
        ) as bessa,
    ):
        yield Env(clock, sb, bessa)


# --- one read of each kind, under each meaning of timeout= ------------------------------------

Call = Callable[[Env, dict[str, Any]], Awaitable[object]]


def _article(env: Env) -> str:
    return str(env.sb.data.articles[0]["id"])


async def _request(env: Env, kw: dict[str, Any]) -> object:
    return await env.client.request("GET", "companies/", **kw)


async def _get(env: Env, kw: dict[str, Any]) -> object:
    return await env.client.articles.get(_article(env), **kw)


async def _raw_get(env: Env, kw: dict[str, Any]) -> object:
    return await env.client.articles.with_raw_response.get(_article(env), **kw)


async def _list(env: Env, kw: dict[str, Any]) -> object:
    return await env.client.companies.list(**kw).collect()


async def _any_list(env: Env, kw: dict[str, Any]) -> object:
    return await env.client.resource("companies/").list(**kw).collect()


async def _for_day(env: Env, kw: dict[str, Any]) -> object:
    return await env.client.receipts.for_day(datetime(2026, 6, 2).date(), **kw).collect()


async def _changes(env: Env, kw: dict[str, Any]) -> object:
    return [batch async for batch in env.client.companies.changes(**kw)]


async def _sales(env: Env, kw: dict[str, Any]) -> object:
    start, end = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 2, tzinfo=UTC)
    return await env.client.reports.sales(start=start, end=end, **kw)


async def _sales_for_day(env: Env, kw: dict[str, Any]) -> object:
    return await env.client.reports.sales_for_day(datetime(2026, 6, 2).date(), **kw)


async def _job_list(env: Env, kw: dict[str, Any]) -> object:
    return await env.client.orders.list(**kw).collect()


READS: dict[str, tuple[Call, str]] = {
    "request": (_request, "companies/"),
    "get": (_get, "articles/*"),
    "with_raw_response.get": (_raw_get, "articles/*"),
    "list": (_list, "companies/"),
    "resource().list": (_any_list, "companies/"),
    "for_day": (_for_day, "receipts/"),
    "changes": (_changes, "companies/"),
    "sales": (_sales, "reports/sales/"),
    "sales_for_day": (_sales_for_day, "reports/sales/"),
    "orders.list": (_job_list, "requests/orders/"),
}


def _fault_path(env: Env, pattern: str) -> str:
    return f"articles/{_article(env)}/" if pattern == "articles/*" else pattern


@pytest.mark.parametrize("name", list(READS))
async def test_the_clients_timeout_applies_when_timeout_is_left_out(name: str) -> None:
    """Left out or USE_CLIENT_DEFAULT: the client's 8 s; two 5 s hangs do not fit in it."""
    call, pattern = READS[name]
    for kw in ({}, {"timeout": USE_CLIENT_DEFAULT}):
        async with environment() as env:
            path = _fault_path(env, pattern)
            env.hang(path)
            with pytest.raises(ServerError):
                await call(env, kw)
            assert env.sent(path) == 2


@pytest.mark.parametrize("name", list(READS))
async def test_a_per_call_timeout_overrides_the_clients(name: str) -> None:
    """A shorter timeout= gives up after the first hang; a longer one outlasts three of them."""
    call, pattern = READS[name]
    async with environment() as env:
        path = _fault_path(env, pattern)
        env.hang(path)
        with pytest.raises(ServerError):
            await call(env, {"timeout": 3})
        assert env.sent(path) == 1
    async with environment() as env:
        path = _fault_path(env, pattern)
        env.hang(path)
        await call(env, {"timeout": Timeout(total=30)})
        assert env.sent(path) == HANGS + 1


@pytest.mark.parametrize("name", list(READS))
async def test_timeout_none_means_no_deadline(name: str) -> None:
    """None lifts the client's deadline: the slow answer, after three hangs, completes."""
    call, pattern = READS[name]
    async with environment() as env:
        path = _fault_path(env, pattern)
        env.hang(path)
        await call(env, {"timeout": None})
        assert env.sent(path) == HANGS + 1
        assert env.clock() >= HANGS * HANG


async def test_refresh_takes_a_timeout() -> None:
    """A job's refresh(): the client's deadline, a per-call one, or None."""
    async with environment() as env:
        handle = await env.client.orders.submit(env.order("refresh-1"))
        path = handle.path
        env.hang(path, times=2)  # each hang used up by the call it is for
        with pytest.raises(ServerError):
            await handle.refresh()
        assert env.sent(path) == 2
        env.hang(path, times=1)
        with pytest.raises(ServerError):
            await handle.refresh(timeout=3)
        assert env.sent(path) == 3
        env.hang(path)
        job = await handle.refresh(timeout=None)
        assert job.id == handle.id
        assert env.sent(path) == 3 + HANGS + 1


# --- calls made of several requests: one deadline for the whole call --------------------------


async def test_submit_timeout_none_means_no_deadline() -> None:
    """A POST answered 504 after 9 s: past the client's 8 s the outcome is unknown; a longer
    timeout= or None leaves time to look it up by reference and send it once more."""

    def late_post(env: Env) -> None:
        env.sb.inject(Fault.latency(9), path="requests/orders/", method="POST", times=1)
        env.sb.inject(Fault.status(504), path="requests/orders/", method="POST", times=1)

    async with environment() as env:
        late_post(env)
        with pytest.raises(SubmissionOutcomeUnknownError):
            await env.client.orders.submit(env.order("late-1"))
        assert [r.method for r in env.sb.requests] == ["POST"]
    for timeout in (20, None):
        async with environment() as env:
            late_post(env)
            handle = await env.client.orders.submit(env.order("late-2"), timeout=timeout)
            assert [r.method for r in env.sb.requests] == ["POST", "GET", "POST"]
            assert len(env.sb.jobs()) == 1
            assert handle.reference == "late-2"


async def test_doctor_timeout_none_lifts_the_runs_deadline() -> None:
    """Every read takes 2 s: the client's 7 s ends the run early; None lets every check run."""
    async with environment(timeout=7) as env:
        env.sb.inject(Fault.latency(2))
        report = await env.client.doctor()
        assert any("deadline" in error for error in report.errors)
        cut = len(env.sb.requests)
    async with environment(timeout=7) as env:
        env.sb.inject(Fault.latency(2))
        report = await env.client.doctor(timeout=None)
        assert not any("deadline" in error for error in report.errors)
        assert len(env.sb.requests) > cut
        assert env.clock() > 7


async def test_request_timeout_none_lifts_a_views_deadline_too() -> None:
    """request(timeout=None) on a view with a short deadline: no deadline, not the view's."""
    async with environment() as env:
        view = env.client.with_options(timeout=1)
        env.hang("companies/")
        await view.request("GET", "companies/", timeout=None)
        assert env.sent("companies/") == HANGS + 1


# --- with_options: left out keeps the current value, None sets no deadline --------------------


async def test_with_options_timeout() -> None:
    async with environment(timeout=Timeout(total=8, connect=2, read=3)) as env:
        client = env.client
        assert client.with_options().timeout == client.timeout
        assert client.with_options(timeout=USE_CLIENT_DEFAULT).timeout == client.timeout
        assert client.with_options(timeout=None).timeout.total is None
        assert client.with_options(timeout=3).timeout.total == 3
        assert client.with_options(timeout=3).with_options().timeout.total == 3


# --- checks: bad values are refused before anything is sent -----------------------------------


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (True, InvalidTypeError),
        (-1, InvalidValueError),
        (0, InvalidValueError),
        (float("nan"), InvalidValueError),
        ("5", InvalidTypeError),
    ],
)
@pytest.mark.parametrize("name", list(READS))
async def test_a_bad_timeout_is_refused_before_sending(
    name: str, value: object, error: type[Exception]
) -> None:
    call, _ = READS[name]
    async with environment() as env:
        before = len(env.sb.requests)
        with pytest.raises(error, match=r"timeout|total"):
            await call(env, {"timeout": value})
        assert len(env.sb.requests) == before


def test_the_sentinel_is_one_readable_value() -> None:
    assert repr(USE_CLIENT_DEFAULT) == "USE_CLIENT_DEFAULT"
    assert isinstance(USE_CLIENT_DEFAULT, UseClientDefault)
    assert list(UseClientDefault) == [USE_CLIENT_DEFAULT]
    assert pickle.loads(pickle.dumps(USE_CLIENT_DEFAULT)) is USE_CLIENT_DEFAULT
    assert {"USE_CLIENT_DEFAULT", "UseClientDefault"} <= set(bessa_async.__all__)


# --- every call that sends takes timeout=, and the docs' table names it -----------------------

_OWNERS: tuple[type[Any], ...] = (
    BessaClient,
    *TYPED_RESOURCES,
    AnyResource,
    RawResource,
    Reports,
    OrderJobs,
    PaymentJobs,
    Jobs,
    JobHandle,
)
_NOT_SENDING = frozenset({"aclose"})
_LISTINGS = (Paginator, ChangeFeed)


def _sends(function: Any) -> bool:
    """Whether a public method sends: a coroutine (an async generator), or one that returns a
    listing or a changes feed, whose requests its arguments shape."""
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        return True
    returned = inspect.signature(function).return_annotation
    if isinstance(returned, str):
        returned = typing.get_type_hints(function).get("return")
    return typing.get_origin(returned) in _LISTINGS or returned in _LISTINGS


def sending_methods() -> dict[str, Any]:
    """Every public method that sends, as ``Owner.name``."""
    found: dict[str, Any] = {}
    for owner in _OWNERS:
        for name, function in inspect.getmembers(owner, inspect.isfunction):
            if name.startswith("_") or name in _NOT_SENDING:
                continue
            if _sends(function):
                found[f"{owner.__name__}.{name}"] = function
    return found


def test_the_introspection_finds_the_calls_that_send() -> None:
    found = sending_methods()
    for expected in (
        "BessaClient.request",
        "BessaClient.doctor",
        "Receipts.get",
        "Receipts.list",
        "Receipts.for_day",
        "Receipts.changes",
        "RawResource.get",
        "AnyResource.list",
        "Reports.sales",
        "Reports.sales_for_day",
        "OrderJobs.submit",
        "PaymentJobs.list",
        "JobHandle.refresh",
        "JobHandle.wait",
        "Jobs.as_completed",
    ):
        assert expected in found
    assert "OrderJobs.job" not in found  # a handle: nothing is sent
    assert "BessaClient.resource" not in found


@pytest.mark.parametrize("qualified", sorted(sending_methods()))
def test_every_call_that_sends_takes_timeout(qualified: str) -> None:
    parameter = inspect.signature(sending_methods()[qualified]).parameters.get("timeout")
    assert parameter is not None, f"{qualified} takes no timeout="
    assert parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    # One meaning of None: no deadline. A default of None is only for waits, which have no
    # client default; every other call defaults to the client's.
    waits = {"JobHandle.wait", "Jobs.as_completed"}
    expected = None if qualified in waits else USE_CLIENT_DEFAULT
    assert parameter.default is expected, f"{qualified}: timeout={parameter.default!r}"


_BLOCKING_NOT_SENDING = frozenset({"close", "with_options", "job", "resume", "request"})
"""Not derived, or sending nothing (``request`` is checked through its overloads)."""


def test_the_blocking_client_mirrors_every_timeout() -> None:
    """The blocking client's calls are derived from the async ones: timeout= comes along."""
    blocking = BlockingClient("t" * 40, base_url="http://127.0.0.1:9/")
    try:
        shims = [blocking, *(getattr(blocking, name) for name in vars(blocking) if name[0] != "_")]
        checked = 0
        for shim in shims:
            for name in dir(type(shim)):
                if name.startswith("_") or name in {
                    "close",
                    "with_options",
                    "job",
                    "resume",
                    "request",
                }:
                    continue
                method = getattr(shim, name)
                if not callable(method):
                    continue
                assert "timeout" in inspect.signature(method).parameters, name
                checked += 1
        assert checked >= 3 * len(TYPED_RESOURCES)
        for variant in typing.get_overloads(BlockingClient.request):
            assert "timeout" in inspect.signature(variant).parameters
    finally:
        blocking.close()


_DOCS = Path(__file__).resolve().parents[2] / "docs" / "quickstart.md"


def _table() -> list[str]:
    """The first column of the timeouts table in the docs."""
    text = _DOCS.read_text(encoding="utf-8")
    section = text.split("## Timeouts", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [row.split("|")[1] for row in rows[1:]]


def test_the_docs_table_names_every_call_that_sends() -> None:
    named = {name for cell in _table() for name in re.findall(r"(\w+)\(\)", cell)}
    missing = {q for q in sending_methods() if q.rpartition(".")[2] not in named}
    assert not missing, f"not in the timeouts table of {_DOCS.name}: {sorted(missing)}"
    assert "with_options" in named
