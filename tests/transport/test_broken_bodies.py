"""A 2xx whose body is not valid JSON: the sandbox's fault, reads retried, writes reconciled.

A proxy that passes on half an answer, a captive portal's HTML page or an empty 200 is
transient for a read: retried within the call's deadline and attempts. A write it answered was
accepted, so it is looked up by its reference, never sent again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest
import pytest_asyncio

from bessa_async import (
    BessaClient,
    DecodeError,
    Order,
    OrderLine,
    RetryPolicy,
)
from bessa_async.testing import FakeClock, Fault, Sandbox
from bessa_async.testing._faults import parse_faults


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_truncated_json_is_a_complete_answer_with_half_the_json(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    """Status, Content-Type and a matching Content-Length: only the JSON is broken, and the
    connection stays usable (unlike Fault.truncate, which closes it mid-body)."""
    sandbox.inject(Fault.truncated_json(), path="articles/", times=1)
    headers = {"Authorization": f"Token {sandbox.token}"}
    async with http.get(f"{sandbox.url}articles/", headers=headers) as cut:
        body = await cut.read()
        assert cut.status == 200
        assert cut.content_type == "application/json"
        assert cut.headers["Content-Length"] == str(len(body))
    async with http.get(f"{sandbox.url}articles/", headers=headers) as whole:
        full = await whole.read()
    assert full.startswith(body)
    assert len(body) == len(full) // 2
    json.loads(full)
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert sandbox.connections_opened == 1


def test_the_fault_spec_knows_truncated_json() -> None:
    """``--faults truncated-json:0.01@receipts/`` is the same fault at that rate and path."""
    assert parse_faults("truncated-json:0.01@receipts/") == [
        (Fault.truncated_json(), "receipts/", 0.01)
    ]
    assert parse_faults("truncate") == [(Fault.truncate(), None, 1.0)]


async def test_a_listing_survives_one_percent_of_cut_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Thousands of receipts, 1 % of the pages cut in half by a 'proxy': every receipt once,
    in order, each cut page read again."""
    clock = FakeClock()
    sandbox = await asyncio.to_thread(Sandbox, receipts=5_600, seed=3)
    async with sandbox:
        expected = [r["id"] for r in sandbox.data.receipts]
        cut = sandbox.inject(Fault.truncated_json(), path="receipts/", rate=0.01)
        async with BessaClient(
            sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep
        ) as client:
            listing = client.receipts.list(limit=10)
            ids = [str(receipt.id) async for receipt in listing]
    assert ids == expected
    assert cut.hits > 0
    assert len(sandbox.requests) == listing.stats.pages + cut.hits
    with capsys.disabled():
        print(
            f"\n[broken bodies] {len(ids)} receipts in {listing.stats.pages} pages; "
            f"{cut.hits} pages cut, each retried once more ({len(sandbox.requests)} requests)"
        )


async def test_a_persistent_cut_body_fails_with_the_resume_cursor(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    """When the second page stays broken past the attempts: DecodeError with resume_cursor,
    and listing from it gives the rest."""
    async with BessaClient(
        sandbox.token,
        base_url=sandbox.url,
        clock=clock,
        sleep=clock.sleep,
        retry=RetryPolicy(attempts=3),
    ) as client:
        seen: list[str] = []

        async def read() -> None:
            async for receipt in client.receipts.list(limit=50, prefetch=0):
                seen.append(str(receipt.id))
                if len(seen) == 50:
                    sandbox.inject(Fault.truncated_json(), path="receipts/", times=3)

        with pytest.raises(DecodeError) as info:
            await read()
        assert info.value.resume_cursor is not None
        rest = [str(r.id) async for r in client.receipts.list(cursor=info.value.resume_cursor)]
    assert seen + rest == [r["id"] for r in sandbox.data.receipts]


async def test_an_order_accepted_with_a_cut_answer_is_reconciled_not_resent(
    clock: FakeClock,
) -> None:
    """The POST's 202 arrives with half its JSON: the order landed, so it is found by its
    reference (one POST, one lookup), and the handle is that job."""
    async with (
        Sandbox(receipts=20, clock=clock) as sandbox,
        BessaClient(sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep) as client,
    ):
        cut = sandbox.inject(
            Fault.truncated_json(), path="requests/orders/", method="POST", times=1
        )
        point = next(p["id"] for p in sandbox.data.sales_points if p["status"] == "active")
        article = next(
            a["id"] for a in sandbox.data.articles if a["active"] and a["type"] == "standard"
        )
        order = Order(
            sales_point=point,
            lines=[OrderLine(article=article, quantity=Decimal(1))],
            reference="cut-answer",
        )
        handle = await client.orders.submit(order)
        jobs = sandbox.jobs()
    assert cut.hits == 1
    assert [r.method for r in sandbox.requests] == ["POST", "GET"]
    lookup = sandbox.requests[1]
    assert ("reference", "cut-answer") in lookup.query
    assert [j["id"] for j in jobs] == [str(handle.id)]


async def test_a_raw_post_with_a_cut_answer_is_not_sent_again(
    sandbox: Sandbox, client: BessaClient
) -> None:
    """client.request("POST", ...) with a cut 2xx: DecodeError at once, one request."""
    point = next(p["id"] for p in sandbox.data.sales_points if p["status"] == "active")
    article = next(
        a["id"] for a in sandbox.data.articles if a["active"] and a["type"] == "standard"
    )
    body = {
        "sales_point": point,
        "reference": "raw-cut",
        "lines": [{"article": article, "quantity": "1"}],
    }
    sandbox.inject(Fault.truncated_json(), path="requests/orders/", method="POST")
    with pytest.raises(DecodeError) as info:
        await client.request("POST", "requests/orders/", json=body)
    assert info.value.status == 202
    assert [r.method for r in sandbox.requests] == ["POST"]
    assert len(sandbox.jobs()) == 1
