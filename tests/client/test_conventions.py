"""The Public API's documented conventions, one by one, through the client over loopback."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bessa_async import BessaClient
from bessa_async.testing import Sandbox

VIENNA = ZoneInfo("Europe/Vienna")
AMOUNT = re.compile(r"^-?\d+\.\d{2}$")


async def _all(client: BessaClient, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = await client.request("GET", path, params=params)
    while True:
        items.extend(page["results"])
        if page["next"] is None:
            return items
        page = await client.request("GET", page["next"])


async def test_base_url_and_token_select_the_tenant(sandbox: Sandbox) -> None:
    """The same path answers each tenant's own data: the token selects the tenant."""
    async with (
        BessaClient(sandbox.token, base_url=sandbox.url) as a,
        BessaClient(sandbox.other_token, base_url=sandbox.url) as b,
    ):
        ids_a = {c["id"] for c in (await a.request("GET", "companies/"))["results"]}
        ids_b = {c["id"] for c in (await b.request("GET", "companies/"))["results"]}
    assert ids_a
    assert ids_b
    assert not ids_a & ids_b
    assert sandbox.url.endswith("/v1/public/")


async def test_default_page_size_is_25_and_limit_sets_it(client: BessaClient) -> None:
    """Cursor pages hold 25 items unless limit says otherwise."""
    page = await client.request("GET", "receipts/")
    assert len(page["results"]) == 25
    assert page["previous"] is None
    page = await client.request("GET", "receipts/", params={"limit": 40})
    assert len(page["results"]) == 40


async def test_following_next_until_null_yields_every_item_once(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """Receipts come once each, ordered by timestamp then id, and add up to count."""
    receipts = await _all(client, "receipts/", limit=100)
    assert len(receipts) == len({r["id"] for r in receipts}) == 300
    keys = [(r["timestamp"], r["id"]) for r in receipts]
    parsed = [(datetime.fromisoformat(t), i) for t, i in keys]
    assert parsed == sorted(parsed)


async def test_amounts_ids_and_timestamps_have_the_documented_form(client: BessaClient) -> None:
    """Amounts are 2-decimal strings, ids UUIDs, timestamps UTC with a Z suffix."""
    for receipt in await _all(client, "receipts/", limit=100):
        uuid.UUID(receipt["id"])
        assert receipt["timestamp"].endswith("Z")
        assert datetime.fromisoformat(receipt["timestamp"]).utcoffset() == timedelta(0)
        for amount in (receipt["total"], *(line["total"] for line in receipt["lines"])):
            assert AMOUNT.match(amount), amount


async def test_offset_filters_select_the_vienna_day(client: BessaClient) -> None:
    """15 June in Vienna is 2026-06-14T22:00Z .. 2026-06-15T22:00Z (CEST, +02:00)."""
    start = datetime(2026, 6, 15, tzinfo=VIENNA)
    end = datetime(2026, 6, 16, tzinfo=VIENNA)
    assert start.astimezone(UTC) == datetime(2026, 6, 14, 22, tzinfo=UTC)
    local = await _all(client, "receipts/", timestamp__gte=start, timestamp__lt=end, limit=100)
    everything = await _all(client, "receipts/", limit=100)
    expected = [
        r["id"] for r in everything if start <= datetime.fromisoformat(r["timestamp"]) < end
    ]
    assert [r["id"] for r in local] == expected
    assert expected


async def test_values_without_offset_are_read_as_utc(client: BessaClient) -> None:
    """A timestamp without offset, or a bare date, is read by the API as UTC (documented).

    The client refuses such text in ``params``, so the query is written into the path here."""
    utc = datetime(2026, 6, 15, tzinfo=UTC)
    aware = await _all(client, "receipts/", timestamp__gte=utc, limit=100)
    no_offset = await _all(client, "receipts/?timestamp__gte=2026-06-15T00:00:00&limit=100")
    bare = await _all(client, "receipts/?timestamp__gte=2026-06-15&limit=100")
    assert [r["id"] for r in aware] == [r["id"] for r in no_offset] == [r["id"] for r in bare]
    with pytest.raises(ValueError, match="no UTC offset"):
        await _all(client, "receipts/", timestamp__gte="2026-06-15")


async def test_jobs_are_posted_to_requests(client: BessaClient) -> None:
    """An order is a job under requests/: accepted as pending, then asked for by id."""
    article = (await client.request("GET", "articles/", params={"active": True}))["results"][0]
    point = (await client.request("GET", "sales-points/"))["results"][0]
    job = await client.request(
        "POST",
        "requests/orders/",
        json={
            "sales_point": point["id"],
            "reference": "webshop-10045",
            "lines": [{"article": article["id"], "quantity": "2"}],
        },
    )
    assert job["status"] == "pending"
    assert job["reference"] == "webshop-10045"
    again = await client.request("GET", f"requests/orders/{job['id']}/")
    assert again["id"] == job["id"]
