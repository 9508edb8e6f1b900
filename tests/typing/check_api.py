"""Type-checked, never run: the public API as users write it (mypy --strict checks this)."""

from __future__ import annotations

from typing import Any, assert_type

from bessa_async import BessaClient, RetryPolicy, Timeout


async def usage() -> None:
    async with BessaClient("token", timeout=Timeout(total=30), retry=RetryPolicy()) as client:
        assert_type(client, BessaClient)
        page = await client.request("GET", "articles/", params={"limit": 10})
        assert_type(page, Any)
        await client.request("GET", "articles/", timeout=5, retry=RetryPolicy.disabled())


async def typed_resources(client: BessaClient) -> None:
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from bessa_async import (
        Article,
        Page,
        Paginator,
        Receipt,
        SalesReport,
        StockLevel,
        business_day,
    )

    listing = client.receipts.list(timestamp__gte=datetime(2026, 6, 1, tzinfo=UTC))
    assert_type(listing, Paginator[Receipt])
    async for receipt in listing:
        assert_type(receipt, Receipt)
        assert_type(receipt.total, Decimal)
    async for page in client.articles.list(active=True).pages():
        assert_type(page, Page[Article])
    assert_type(await client.articles.get("5eae070f-f62f-4e49-aab8-3588d79ac2eb"), Article)
    assert_type(await client.stock_levels.list().collect(), list[StockLevel])
    assert_type(await client.receipts.for_day(date(2026, 6, 15)).first(), Receipt | None)
    assert_type(await client.reports.sales_for_day(date(2026, 6, 15)), SalesReport)
    start, end = business_day(date(2026, 6, 15))
    assert_type(await client.reports.sales(start=start, end=end), SalesReport)
    async for row in client.resource("vouchers/").list(limit=10):
        assert_type(row, dict[str, Any])
    async for article in client.resource("products/", model=Article).list():
        assert_type(article, Article)
