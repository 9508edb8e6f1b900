"""The shop's suite: every way an order can go, against the bundled sandbox.

It uses only public names: the pytest plugin's ``bessa_sandbox``, ``bessa_client`` and
``bessa_clock`` fixtures (installed with bessa_async), ``sandbox.fixtures`` for well-known data
and the magic references of :mod:`bessa_async.testing.magic`. On ``bessa_clock`` the till's
processing, the shop's waiting and the client's retry backoff take no real time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bessa_async import BessaClient, SalesPoint
from bessa_async.testing import FakeClock, Fault, Sandbox
from bessa_async.testing.magic import FAILURE_CODES, fail_reference

from .shop import WAIT_SECONDS, create_app


@pytest.fixture
async def shop(
    bessa_client: BessaClient, bessa_clock: FakeClock
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(bessa_client)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://shop") as http,
    ):
        yield http


def _order(
    sandbox: Sandbox, reference: str | None = None, sales_point: SalesPoint | None = None
) -> dict[str, Any]:
    fixtures = sandbox.fixtures
    return {
        "reference": reference or f"shop-{uuid.uuid4().hex[:8]}",
        "sales_point": str((sales_point or fixtures.sales_point).id),
        "lines": [{"article": str(fixtures.article.id), "quantity": "2"}],
    }


def _posts(sandbox: Sandbox) -> int:
    return sum(r.method == "POST" for r in sandbox.requests)


async def test_an_order_completes_and_a_retried_request_reaches_the_same_one(
    shop: httpx.AsyncClient, bessa_sandbox: Sandbox
) -> None:
    order = _order(bessa_sandbox)
    first = await shop.post("/orders", json=order)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "completed"
    again = await shop.post("/orders", json=order)  # the customer pressed the button twice
    assert again.json() == first.json()
    assert len(bessa_sandbox.jobs()) == 1


async def test_an_offline_till_answers_202_then_the_token_brings_the_order(
    shop: httpx.AsyncClient, bessa_sandbox: Sandbox, bessa_clock: FakeClock
) -> None:
    offline = bessa_sandbox.fixtures.offline_sales_point
    started = bessa_clock()
    waiting = await shop.post("/orders", json=_order(bessa_sandbox, sales_point=offline))
    assert waiting.status_code == 202
    assert bessa_clock() - started >= WAIT_SECONDS  # it waited, on the test's clock
    token = waiting.json()["token"]
    still = await shop.get("/orders/pending", params={"token": token})
    assert still.status_code == 202
    bessa_sandbox.set_sales_point_online(offline.id)
    done = await shop.get("/orders/pending", params={"token": token})
    assert done.status_code == 201
    assert done.json()["status"] == "completed"


@pytest.mark.parametrize("code", FAILURE_CODES)
async def test_each_failure_code_of_the_till_is_a_409(
    shop: httpx.AsyncClient, bessa_sandbox: Sandbox, code: str
) -> None:
    reference = fail_reference(code, tag=uuid.uuid4().hex[:8])
    answer = await shop.post("/orders", json=_order(bessa_sandbox, reference=reference))
    assert answer.status_code == 409
    assert answer.json()["code"] == code


async def test_a_bad_token_is_a_422_at_the_token(shop: httpx.AsyncClient) -> None:
    answer = await shop.get("/orders/pending", params={"token": "not a token"})
    assert answer.status_code == 422
    assert [error["loc"] for error in answer.json()["detail"]] == [["query", "token"]]


async def test_a_bad_quantity_is_a_422_at_its_line_and_sends_nothing(
    shop: httpx.AsyncClient, bessa_sandbox: Sandbox
) -> None:
    order = _order(bessa_sandbox)
    order["lines"].append({"article": order["lines"][0]["article"], "quantity": "-2"})
    answer = await shop.post("/orders", json=order)
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "lines", 1]
    assert "quantity" in error["msg"]
    assert _posts(bessa_sandbox) == 0


async def test_no_lines_is_a_422_and_sends_nothing(
    shop: httpx.AsyncClient, bessa_sandbox: Sandbox
) -> None:
    answer = await shop.post("/orders", json={**_order(bessa_sandbox), "lines": []})
    assert answer.status_code == 422, answer.text
    assert "lines" in answer.json()["detail"][0]["msg"]
    assert _posts(bessa_sandbox) == 0


async def test_an_article_the_api_does_not_know_is_a_422_at_that_field(
    shop: httpx.AsyncClient, bessa_sandbox: Sandbox
) -> None:
    order = _order(bessa_sandbox)
    order["lines"][0]["article"] = str(uuid.uuid4())
    answer = await shop.post("/orders", json=order)
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "lines", 0, "article"]
    assert bessa_sandbox.jobs() == []


async def test_a_reference_reused_with_another_basket_is_a_409(
    shop: httpx.AsyncClient, bessa_sandbox: Sandbox
) -> None:
    order = _order(bessa_sandbox)
    assert (await shop.post("/orders", json=order)).status_code == 201
    order["lines"][0]["quantity"] = "3"
    answer = await shop.post("/orders", json=order)
    assert answer.status_code == 409, answer.text
    assert "reference" in answer.json()["detail"]
    assert len(bessa_sandbox.jobs()) == 1


@pytest.mark.bessa_sandbox(faults="429@requests/orders/")
async def test_an_api_that_keeps_throttling_is_a_503_with_retry_after(
    shop: httpx.AsyncClient, bessa_sandbox: Sandbox
) -> None:
    answer = await shop.post("/orders", json=_order(bessa_sandbox))
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    assert bessa_sandbox.jobs() == []


async def test_a_passing_503_is_retried_with_the_same_key(
    shop: httpx.AsyncClient, bessa_sandbox: Sandbox
) -> None:
    bessa_sandbox.inject(Fault.status(503), path="requests/orders/", method="POST", times=1)
    answer = await shop.post("/orders", json=_order(bessa_sandbox))
    assert answer.status_code == 201
    posts = [r for r in bessa_sandbox.requests if r.method == "POST"]
    assert [r.status for r in posts] == [503, 202]  # the API accepts a job with 202
    assert len({r.headers["Idempotency-Key"] for r in posts}) == 1
    assert len(bessa_sandbox.jobs()) == 1


@pytest.mark.bessa_sandbox(faults="503@requests/orders/")
async def test_an_api_that_stays_down_is_a_502_and_places_no_order(
    shop: httpx.AsyncClient, bessa_sandbox: Sandbox
) -> None:
    answer = await shop.post("/orders", json=_order(bessa_sandbox))
    assert answer.status_code == 502
    assert bessa_sandbox.jobs() == []
    assert {r.status for r in bessa_sandbox.requests if r.method == "POST"} == {503}


@pytest.mark.bessa_sandbox(faults="401@requests/orders/")
async def test_a_refused_token_is_the_shops_500_not_the_apis_502(
    shop: httpx.AsyncClient, bessa_sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await shop.post("/orders", json=_order(bessa_sandbox))
    assert answer.status_code == 500, answer.text
    assert bessa_sandbox.token not in answer.text + caplog.text
    assert "refused the shop" in caplog.text
