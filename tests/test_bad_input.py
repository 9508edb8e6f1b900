"""The bad-input table: each kind of bad input, its exact error, a message that names the
problem, and (where it applies) proof that no request was sent."""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from bessa_async import (
    BessaClient,
    ConfigurationError,
    DecodeError,
    ForeignOriginError,
    JobTimeoutError,
    Order,
    OrderLine,
    PaginationLoopError,
    Payment,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from bessa_async.testing import FakeClock, Fault, Sandbox

Action = Callable[[BessaClient, Sandbox], Awaitable[object]]


@attrs.frozen
class Row:
    """One kind of bad input."""

    name: str
    action: Action
    error: type[BaseException]
    message: str
    sends_nothing: bool = True
    fault: tuple[Fault, str] | None = None


def _client(**options: Any) -> Action:
    async def build(_: BessaClient, sandbox: Sandbox) -> object:
        return BessaClient(**{"base_url": sandbox.url, **options})

    return build


def _get(path: str, **params: Any) -> Action:
    async def get(client: BessaClient, _: Sandbox) -> object:
        return await client.request("GET", path, params=params)

    return get


def _no_retry(path: str) -> Action:
    async def get(client: BessaClient, _: Sandbox) -> object:
        return await client.request("GET", path, retry=RetryPolicy.disabled())

    return get


async def _receipts_naive(client: BessaClient, _: Sandbox) -> object:
    return client.receipts.list(timestamp__gte=datetime(2026, 6, 1))


async def _receipts_date(client: BessaClient, _: Sandbox) -> object:
    return client.receipts.list(timestamp__gte=date(2026, 6, 1))  # type: ignore[arg-type]


async def _unknown_filter(client: BessaClient, _: Sandbox) -> object:
    return client.receipts.list(timestamp_gte=datetime(2026, 6, 1, tzinfo=UTC))  # type: ignore[call-arg]


def _limit_of(value: int) -> Action:
    async def listing(client: BessaClient, _: Sandbox) -> object:
        return client.articles.list(limit=value)

    return listing


async def _bad_uuid(client: BessaClient, _: Sandbox) -> object:
    return await client.articles.get("5eae070f-f62f-4e49-aab8")


async def _bad_uuid_filter(client: BessaClient, _: Sandbox) -> object:
    return client.receipts.list(sales_point="till-1")


async def _cycling(client: BessaClient, _: Sandbox) -> object:
    return await client.receipts.list(limit=10).collect()


async def _foreign_next(client: BessaClient, _: Sandbox) -> object:
    return await client.request("GET", "https://evil.example/v1/public/receipts/?cursor=abc")


async def _dot_dot(client: BessaClient, _: Sandbox) -> object:
    return await client.request("GET", "articles/../../admin/")


async def _bad_paths(client: BessaClient, sandbox: Sandbox) -> object:
    return BessaClient(sandbox.token, base_url=sandbox.url, paths={"articles": "../x/"})


async def _day_end_before_start(client: BessaClient, _: Sandbox) -> object:
    return await client.reports.sales(
        start=datetime(2026, 6, 2, tzinfo=UTC), end=datetime(2026, 6, 1, tzinfo=UTC)
    )


async def _concurrency_zero(client: BessaClient, _: Sandbox) -> object:
    return client.receipts.list(concurrency=0)


async def _header_injection(client: BessaClient, _: Sandbox) -> object:
    return await client.request("GET", "articles/", headers={"X-Note": "a\r\nX-Evil: 1"})


def _point(sandbox: Sandbox) -> str:
    return str(next(p["id"] for p in sandbox.data.sales_points if p["status"] == "active"))


def _article(sandbox: Sandbox) -> str:
    return str(next(a["id"] for a in sandbox.data.articles if a["active"]))


async def _order_without_lines(client: BessaClient, sandbox: Sandbox) -> object:
    return await client.orders.submit(Order(sales_point=_point(sandbox), lines=[]))


async def _negative_quantity(client: BessaClient, sandbox: Sandbox) -> object:
    line = OrderLine(article=_article(sandbox), quantity=Decimal(-1))
    return await client.orders.submit(Order(sales_point=_point(sandbox), lines=[line]))


async def _float_payment(client: BessaClient, sandbox: Sandbox) -> object:
    payment = Payment(
        sales_point=_point(sandbox),
        order=str(uuid.uuid4()),
        payment_method=str(uuid.uuid4()),
        amount=19.8,  # type: ignore[arg-type]
    )
    return await client.payments.submit(payment)


async def _unknown_status_past_deadline(client: BessaClient, sandbox: Sandbox) -> object:
    line = OrderLine(article=_article(sandbox), quantity=Decimal(1))
    handle = await client.orders.submit(Order(sales_point=_point(sandbox), lines=[line]))
    sandbox.set_job_status(str(handle.id), "waiting_for_printer")
    return await handle.wait(timeout=30)


ROWS = [
    Row("naive datetime", _receipts_naive, ValueError, "naive"),
    Row("date where a timestamp is needed", _receipts_date, ValueError, "business_day"),
    Row("float money", _get("receipts/", total=19.99), TypeError, "float"),
    Row("NaN Decimal", _get("receipts/", total=Decimal("NaN")), ValueError, "NaN|finite"),
    Row("infinite Decimal", _get("receipts/", total=Decimal("Infinity")), ValueError, "finite|Inf"),
    Row("float NaN", _get("receipts/", total=math.nan), TypeError, "float"),
    Row(
        "more than 2 decimals of money",
        _get("receipts/", total=Decimal("1.005")),
        ValueError,
        "2 decimal|two decimal|cents",
    ),
    Row("malformed UUID id", _bad_uuid, ValueError, "id must be a UUID"),
    Row(
        "malformed UUID filter",
        _bad_uuid_filter,
        ValueError,
        "sales_point must be a UUID, got 'till-1'",
    ),
    Row("blank token", _client(token="   "), ConfigurationError, "token"),
    Row("token with a newline", _client(token="abc\nX-Evil: 1"), ConfigurationError, "token"),
    Row(
        "http:// to a remote host",
        _client(token="t0k3n", base_url="http://api.example.com/v1/public/"),
        ConfigurationError,
        "http",
    ),
    Row("a next URL on another origin", _foreign_next, ForeignOriginError, "evil.example"),
    Row("a path with ..", _dot_dot, ValueError, r"'\.\.'"),
    Row("a resource path with ..", _bad_paths, ConfigurationError, "relative"),
    Row("an unknown filter keyword", _unknown_filter, TypeError, "timestamp_gte"),
    Row("limit=0", _limit_of(0), ValueError, "limit must be a positive integer"),
    Row("negative limit", _limit_of(-5), ValueError, "limit must be a positive integer"),
    Row("concurrency=0", _concurrency_zero, ValueError, "concurrency must be a positive integer"),
    Row("a header with a line break", _header_injection, ValueError, "line break"),
    Row(
        "a report window ending before it starts", _day_end_before_start, ValueError, "before start"
    ),
    Row(
        "a cycling cursor",
        _cycling,
        PaginationLoopError,
        "repeats a page",
        False,
        (Fault.cycle_next(), "receipts/"),
    ),
    Row(
        "an HTML 502",
        _no_retry("articles/"),
        ServerError,
        "502",
        False,
        (Fault.status(502, body="html"), "articles/"),
    ),
    Row(
        "an empty 200 body",
        _get("articles/"),
        DecodeError,
        "empty|not JSON|no body",
        False,
        (Fault.status(200, body="empty"), "articles/"),
    ),
    Row(
        "malformed JSON",
        _get("articles/"),
        DecodeError,
        "JSON",
        False,
        (Fault.malformed_json(), "articles/"),
    ),
    Row(
        "an HTML 200 (captive portal)",
        _get("articles/"),
        DecodeError,
        "text/html|JSON",
        False,
        (Fault.non_json(), "articles/"),
    ),
    Row(
        "Retry-After: 3600",
        _get("articles/"),
        RateLimitError,
        "3600|Retry-After",
        False,
        (Fault.rate_limit(retry_after=3600), "articles/"),
    ),
    Row("an order with no lines", _order_without_lines, ValueError, "lines needs at least 1"),
    Row("a negative quantity", _negative_quantity, ValueError, "quantity must be > 0, got -1"),
    Row("float money in a payment", _float_payment, TypeError, "amount is a float"),
    Row(
        "an unknown job status past the deadline",
        _unknown_status_past_deadline,
        JobTimeoutError,
        "30|deadline|timed out|still",
        False,
    ),
]


async def _run(row: Row, client: BessaClient, sandbox: Sandbox) -> None:
    made = await row.action(client, sandbox)
    if hasattr(made, "collect"):  # a listing refused lazily would only fail here
        await made.collect()


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
async def test_bad_input(row: Row, sandbox: Sandbox, client: BessaClient, clock: FakeClock) -> None:
    """The exact error class, a message naming the problem, nothing sent where it applies."""
    if row.fault is not None:
        sandbox.inject(row.fault[0], path=row.fault[1])
    with pytest.raises(row.error, match=row.message) as info:
        await _run(row, client, sandbox)
    if row.sends_nothing:
        assert sandbox.requests == []
    text = f"{info.value} {info.value!r}"
    for token in (sandbox.token, sandbox.other_token, sandbox.restricted_token):
        assert token not in text
    assert clock.slept < 61  # nothing slept through an hour-long Retry-After


def test_the_table_has_at_least_20_rows() -> None:
    """The table covers at least 20 kinds of bad input."""
    assert len(ROWS) >= 30
