"""Type-checked, never run: the public API as users write it (mypy --strict checks this)."""

from __future__ import annotations

from typing import IO, Any, assert_type

from bessa_async import BessaClient, Receipt, RetryPolicy, Timeout


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


async def doctor(client: BessaClient) -> None:
    from bessa_async.doctor import Difference, DoctorReport, ResourceFinding

    report = await client.doctor()
    assert_type(report, DoctorReport)
    assert_type(report.ok, bool)
    for difference in report.differences:
        assert_type(difference, Difference)
        assert_type(difference.fix, str | None)
    for finding in report.resources:
        assert_type(finding, ResourceFinding)
    assert_type(report.to_dict(), dict[str, Any])


async def jobs(client: BessaClient) -> None:
    import uuid
    from collections.abc import AsyncGenerator
    from decimal import Decimal

    from bessa_async import (
        Job,
        JobHandle,
        JobResult,
        JobStatus,
        Order,
        OrderLine,
        Paginator,
        Payment,
        PollPolicy,
    )

    line = OrderLine(article="5eae070f-f62f-4e49-aab8-3588d79ac2eb", quantity=Decimal("2"))
    order = Order(sales_point=uuid.uuid4(), lines=[line], reference="webshop-10045")
    assert_type(order.lines, tuple[OrderLine, ...])
    handle = await client.orders.submit(order, idempotency_key=uuid.uuid4())
    assert_type(handle, JobHandle)
    assert_type(handle.id, uuid.UUID)
    assert_type(handle.status, JobStatus | str | None)
    done = await handle.wait(timeout=120, poll=PollPolicy(ceiling=10))
    assert_type(done, Job)
    assert_type(done.result, JobResult | None)
    payment = Payment(
        sales_point=uuid.uuid4(),
        order=uuid.uuid4(),
        payment_method=uuid.uuid4(),
        amount=Decimal("19.80"),
        tip=None,
        reference="psp-1",
    )
    assert_type(await client.payments.submit(payment), JobHandle)
    assert_type(client.jobs.resume(handle.to_token()), JobHandle)
    assert_type(client.orders.job(handle.id), JobHandle)
    finished = client.jobs.as_completed([handle], timeout=60)
    assert_type(finished, AsyncGenerator[JobHandle])
    assert_type(client.orders.list(status="pending"), Paginator[Job])
    client.orders.list(stauts="pending")  # type: ignore[call-arg]  # a misspelt filter


async def per_call_options(client: BessaClient) -> None:
    from datetime import UTC, datetime

    from bessa_async import Company, Paginator, RawResponse, Receipt
    from bessa_async.resources import ReceiptFilters, Receipts

    fast = client.with_options(timeout=2, retry=RetryPolicy.disabled(), headers={"X-Route": "a"})
    assert_type(fast, BessaClient)
    june = ReceiptFilters(
        timestamp__gte=datetime(2026, 6, 1, tzinfo=UTC),
        timestamp__lt=datetime(2026, 7, 1, tzinfo=UTC),
        limit=100,
        extra_params={"ordering": "-timestamp"},
    )
    assert_type(fast.receipts.list(**june), Paginator[Receipt])
    traced = client.receipts.list(limit=10, extra_headers={"X-Trace": "t"})
    assert_type(traced, Paginator[Receipt])
    raw = await client.request("GET", "articles/", raw=True)
    assert_type(raw, RawResponse[Any])
    one = await client.companies.with_raw_response.get("5eae070f-f62f-4e49-aab8-3588d79ac2eb")
    assert_type(one, RawResponse[Company])
    assert_type(one.data, Company)
    assert_type(client.receipts.list().last_response, RawResponse[Any] | None)

    def helper(receipts: Receipts) -> Paginator[Receipt]:
        return receipts.list(**june)

    helper(client.receipts)


def export_rows(receipts: list[Receipt], out: IO[str]) -> None:
    from collections.abc import Iterator, Mapping

    from bessa_async.export import EXPORT_COLUMNS, receipt_rows, write_csv

    assert_type(EXPORT_COLUMNS, Mapping[str, str])
    rows = receipt_rows(receipts, tz="Europe/Vienna")
    assert_type(rows, Iterator[dict[str, str]])
    assert_type(write_csv(rows, out, delimiter=";"), int)
