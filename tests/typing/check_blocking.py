"""Type-checked, never run: the blocking client as users write it (mypy --strict checks this)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, assert_type

from bessa_async import (
    Article,
    BlockingClient,
    ChangeBatch,
    Job,
    Order,
    RawResponse,
    Receipt,
    SalesReport,
)
from bessa_async._blocking import BlockingJobHandle, Listing
from bessa_async.doctor import DoctorReport


def usage(order: Order) -> None:
    with BlockingClient("token", timeout=30) as client:
        assert_type(client, BlockingClient)
        assert_type(client.articles.get(uuid.uuid4()), Article)
        listing = client.receipts.list(limit=100)
        assert_type(listing, Listing[Receipt])
        for receipt in listing:
            assert_type(receipt, Receipt)
        assert_type(listing.collect(), list[Receipt])
        assert_type(listing.resume_cursor, str | None)
        for batch in client.receipts.changes(None, limit=500):
            assert_type(batch, ChangeBatch[Receipt])
        assert_type(client.request("GET", "articles/"), Any)
        assert_type(client.request("GET", "articles/", raw=True), RawResponse[Any])
        start = datetime(2026, 6, 1, tzinfo=UTC)
        assert_type(client.reports.sales(start=start, end=start), SalesReport)
        handle = client.orders.submit(order)
        assert_type(handle, BlockingJobHandle)
        assert_type(handle.wait(timeout=60), Job)
        assert_type(client.doctor(), DoctorReport)
        assert_type(client.with_options(timeout=2), BlockingClient)
        client.articles.list(bogus=1)  # type: ignore[call-arg]
        client.receipts.changes(limit="many")  # type: ignore[arg-type]
    BlockingClient(token=1)  # type: ignore[arg-type]
