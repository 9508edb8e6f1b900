"""The sandbox's tills judge a job on the data the API shows when they finish it: an edited
price is charged, an article, Sales Point, table or payment method edited to inactive (or
deleted) fails the job with its code."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bessa_async.testing import FakeClock, Sandbox


@pytest.fixture
def clock() -> FakeClock:
    """The sandbox's clock: jobs finish when it is advanced."""
    return FakeClock()


@pytest_asyncio.fixture
async def sb(clock: FakeClock) -> AsyncIterator[Sandbox]:
    """A sandbox whose jobs take 1 s per step on the FakeClock."""
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    async with Sandbox(receipts=20, clock=clock, now=now, job_delay=1) as sandbox:
        yield sandbox


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session."""
    async with aiohttp.ClientSession() as session:
        yield session


async def _post(http: aiohttp.ClientSession, sb: Sandbox, path: str, body: object) -> Any:
    headers = {"Authorization": f"Token {sb.token}"}
    async with http.post(sb.url + path, json=body, headers=headers) as resp:
        return resp.status, json.loads(await resp.read())


async def _finished(
    http: aiohttp.ClientSession, sb: Sandbox, clock: FakeClock, path: str, body: object
) -> dict[str, Any]:
    """Submit a job, let its till finish it, and read it back through the API."""
    status, job = await _post(http, sb, path, body)
    assert status == 202, job
    clock.advance(5)
    headers = {"Authorization": f"Token {sb.token}"}
    async with http.get(f"{sb.url}{path}{job['id']}/", headers=headers) as resp:
        assert resp.status == 200
        done: dict[str, Any] = json.loads(await resp.read())
    return done


def _order(sb: Sandbox, **line: str) -> dict[str, Any]:
    article = str(sb.fixtures.article.id)
    return {
        "sales_point": str(sb.fixtures.sales_point.id),
        "reference": f"till-{uuid.uuid4().hex[:8]}",
        "lines": [{"article": article, "quantity": "2", **line}],
    }


def _payment(sb: Sandbox, order: dict[str, Any], amount: str) -> dict[str, Any]:
    return {
        "sales_point": str(sb.fixtures.sales_point.id),
        "payment_method": str(sb.fixtures.payment_method.id),
        "order": order["result"]["order"],
        "amount": amount,
    }


def _twice(sb: Sandbox) -> str:
    """Two units at the article's generated price."""
    price = sb.fixtures.article.price
    assert price is not None
    return str(2 * price)


async def test_an_edited_price_is_the_price_charged(
    sb: Sandbox, clock: FakeClock, http: aiohttp.ClientSession
) -> None:
    """After edit(price=5.90) two units are 11.80 to pay, and the invoice lists 5.90."""
    article = str(sb.fixtures.article.id)
    assert _twice(sb) != "11.80"
    sb.edit("articles", article, price="5.90")
    order = await _finished(http, sb, clock, "requests/orders/", _order(sb))
    assert order["status"] == "completed", order
    paid = await _finished(http, sb, clock, "requests/payments/", _payment(sb, order, "11.80"))
    assert paid["status"] == "completed", paid
    [invoice] = [r for r in sb.items("receipts") if r["id"] == paid["result"]["receipt"]]
    assert [(line["unit_price"], line["total"]) for line in invoice["lines"]] == [("5.90", "11.80")]


async def test_a_price_edit_not_yet_visible_is_not_charged(
    sb: Sandbox, clock: FakeClock, http: aiohttp.ClientSession
) -> None:
    """With commit lag the API still lists the old price, and so does the till."""
    sb.edit("articles", str(sb.fixtures.article.id), price="5.90", lag=timedelta(hours=1))
    order = await _finished(http, sb, clock, "requests/orders/", _order(sb))
    assert order["status"] == "completed", order
    paid = await _finished(http, sb, clock, "requests/payments/", _payment(sb, order, _twice(sb)))
    assert paid["status"] == "completed", paid


@pytest.mark.parametrize("how", ["inactive", "soft", "hard"])
async def test_an_article_edited_inactive_or_deleted_fails_the_order(
    sb: Sandbox, clock: FakeClock, http: aiohttp.ClientSession, how: str
) -> None:
    """The order was valid when sent; the till finds the article gone and says so."""
    status, job = await _post(http, sb, "requests/orders/", _order(sb))
    assert status == 202, job
    article = str(sb.fixtures.article.id)
    if how == "inactive":
        sb.edit("articles", article, active=False)
    else:
        sb.delete("articles", article, soft=how == "soft")
    clock.advance(5)
    [done] = [j for j in sb.jobs("order") if j["id"] == job["id"]]
    assert done["status"] == "failed"
    assert done["error"]["code"] == "article_inactive"


async def test_a_sales_point_edited_inactive_fails_the_job(
    sb: Sandbox, clock: FakeClock, http: aiohttp.ClientSession
) -> None:
    """A Sales Point edited to inactive finishes no job: sales_point_inactive."""
    sb.edit("sales-points", str(sb.fixtures.sales_point.id), status="inactive")
    order = await _finished(http, sb, clock, "requests/orders/", _order(sb))
    assert (order["status"], order["error"]["code"]) == ("failed", "sales_point_inactive")


async def test_a_table_and_a_payment_method_edited_inactive_fail_the_job(
    sb: Sandbox, clock: FakeClock, http: aiohttp.ClientSession
) -> None:
    """table_inactive and payment_method_inactive follow the served data too."""
    sb.edit("tables", str(sb.fixtures.table.id), active=False)
    body = {**_order(sb), "table": str(sb.fixtures.table.id)}
    order = await _finished(http, sb, clock, "requests/orders/", body)
    assert (order["status"], order["error"]["code"]) == ("failed", "table_inactive")
    order = await _finished(http, sb, clock, "requests/orders/", _order(sb))
    assert order["status"] == "completed", order
    sb.edit("payment-methods", str(sb.fixtures.payment_method.id), active=False)
    paid = await _finished(http, sb, clock, "requests/payments/", _payment(sb, order, _twice(sb)))
    assert (paid["status"], paid["error"]["code"]) == ("failed", "payment_method_inactive")


async def test_an_article_deleted_before_the_order_is_refused_at_once(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    """The API's 400 for an id that does not exist, as for any unknown article."""
    article = str(sb.fixtures.article.id)
    sb.delete("articles", article, soft=False)
    status, errors = await _post(http, sb, "requests/orders/", _order(sb))
    assert status == 400
    assert errors == {"lines": [{"article": [f'Invalid pk "{article}" - object does not exist.']}]}
