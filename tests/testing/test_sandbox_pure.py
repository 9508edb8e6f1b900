"""The sandbox's pure parts, without an event loop: filters, cursors, reports, job validation."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async.testing._cursor import Collection, Cursor, Item, Selection, paginate
from bessa_async.testing._data import TenantData, generate_tenant
from bessa_async.testing._jobbook import JobBook
from bessa_async.testing._query import (
    format_timestamp,
    invalid_uuid,
    micros,
    parse_bool,
    parse_timestamp,
    parse_uuid,
)
from bessa_async.testing._reports import sales_report

# --- parse_timestamp ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-15T00:00:00Z", datetime(2026, 6, 15, tzinfo=UTC)),
        ("2026-06-15T00:00:00+02:00", datetime(2026, 6, 14, 22, tzinfo=UTC)),
        ("2026-06-15T00:00:00+0200", datetime(2026, 6, 14, 22, tzinfo=UTC)),
        ("2026-06-15T00:00:00+02", datetime(2026, 6, 14, 22, tzinfo=UTC)),
        ("2026-06-15T00:00:00-01:30", datetime(2026, 6, 15, 1, 30, tzinfo=UTC)),
        ("2026-06-15T00:00:00", datetime(2026, 6, 15, tzinfo=UTC)),
        ("2026-06-15 08:30", datetime(2026, 6, 15, 8, 30, tzinfo=UTC)),
        ("2026-06-15T08:30:05.25Z", datetime(2026, 6, 15, 8, 30, 5, 250000, tzinfo=UTC)),
        ("2026-06-15", datetime(2026, 6, 15, tzinfo=UTC)),
        ("  2026-06-15T00:00:00Z ", datetime(2026, 6, 15, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_accepts_what_django_accepts(text: str, expected: datetime) -> None:
    """Offsets in all Django forms, no offset as UTC, a bare date as UTC midnight."""
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed is not None
    assert parsed.utcoffset() is not None
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text",
    [
        "2026-06-15T00:00:00 02:00",  # '+02:00' sent unencoded: the form decoder made it a space
        "2026-06-15 00:00:00 02:00",
        "",
        "yesterday",
        "2026-13-01",
        "2026-02-30T00:00:00Z",
        "2026-06-15T25:00:00Z",
        "2026-06-15T00:00:00+25:00",
        "15.06.2026",
    ],
)
def test_parse_timestamp_rejects_what_django_rejects(text: str) -> None:
    """A '+' decoded as a space, impossible dates and foreign formats are no timestamps."""
    assert parse_timestamp(text) is None


def test_timestamp_helpers_agree() -> None:
    """format_timestamp writes UTC with Z and micros orders instants like datetimes do."""
    moment = datetime(2026, 6, 15, 12, 0, 0, 5, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-06-15T12:00:00.000005Z"
    assert format_timestamp(datetime(2026, 6, 15, tzinfo=UTC)) == "2026-06-15T00:00:00Z"
    assert micros(moment) - micros(datetime(2026, 6, 15, 12, tzinfo=UTC)) == 5


def test_uuid_and_bool_parsing_follow_drf() -> None:
    """UUIDs are canonicalised, DRF's boolean words are read, anything else is refused."""
    raw = "5EAE070FF62F4E49AAB83588D79AC2EB"
    assert parse_uuid(raw) == "5eae070f-f62f-4e49-aab8-3588d79ac2eb"
    assert parse_uuid("nope") is None
    assert invalid_uuid("nope") == "\u201cnope\u201d is not a valid UUID."
    assert [parse_bool(v) for v in ("true", "1", "Yes", "off", "F", "maybe")] == [
        True,
        True,
        True,
        False,
        False,
        None,
    ]


# --- Cursor ---------------------------------------------------------------------------------


@given(
    key=st.none() | st.tuples(st.integers(min_value=0, max_value=2**62), st.text(max_size=40)),
    reverse=st.booleans(),
)
def test_cursor_round_trips(key: tuple[int, str] | None, reverse: bool) -> None:
    """Every cursor decodes to itself, from an unpadded urlsafe token."""
    cursor = Cursor(key, reverse)
    token = cursor.encode()
    assert "=" not in token
    assert "+" not in token
    assert "/" not in token
    assert Cursor.decode(token) == cursor


def _token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        "x",
        "AAAA",
        _token([1, 2]),
        _token({"k": None}),
        _token({"k": None, "r": 2}),
        _token({"k": [1], "r": 0}),
        _token({"k": ["1", "a"], "r": 0}),
        _token({"k": [1, 2], "r": 0}),
        _token({"k": None, "r": 0, "x": 1}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_garbage_cursor_decodes_to_none(token: str) -> None:
    """A token the sandbox did not make is None (the server answers 404 Invalid cursor)."""
    assert Cursor.decode(token) is None


# --- paginate -------------------------------------------------------------------------------


def _collection(size: int) -> Collection:
    items: list[Item] = [
        {
            "id": f"id-{i:03d}",
            "timestamp": format_timestamp(datetime(2026, 6, 1 + i % 5, i % 24, tzinfo=UTC)),
            "updated": "2026-06-01T00:00:00Z",
            "even": i % 2 == 0,
        }
        for i in range(size)
    ]
    return Collection(
        items, key=lambda item: (micros(datetime.fromisoformat(item["timestamp"])), item["id"])
    )


def _walk_forward(collection: Collection, matches: list[int], limit: int) -> list[list[Item]]:
    pages = []
    page = paginate(collection, matches, None, limit)
    pages.append(page.items)
    while page.next is not None:
        page = paginate(collection, matches, page.next, limit)
        pages.append(page.items)
    return pages


@given(size=st.integers(min_value=0, max_value=60), limit=st.integers(min_value=1, max_value=25))
def test_paginate_loses_and_repeats_nothing(size: int, limit: int) -> None:
    """Following next yields each item once in key order; previous walks the same pages back."""
    collection = _collection(size)
    matches = list(range(size))
    pages = _walk_forward(collection, matches, limit)
    flat = [item for page in pages for item in page]
    assert flat == collection.items
    assert all(len(page) == limit for page in pages[:-1])
    last = paginate(collection, matches, None, limit)
    while last.next is not None:
        last = paginate(collection, matches, last.next, limit)
    assert last.count == size
    backwards = [last.items]
    while last.previous is not None:
        last = paginate(collection, matches, last.previous, limit)
        backwards.append(last.items)
    assert backwards[::-1] == pages


def test_paginate_first_and_last_pages_have_no_links() -> None:
    """The first page has no previous, the last no next, a single page neither."""
    collection = _collection(10)
    matches = list(range(10))
    first = paginate(collection, matches, None, 4)
    assert first.previous is None
    assert first.next is not None
    assert [i["id"] for i in first.items] == [i["id"] for i in collection.items[:4]]
    whole = paginate(collection, matches, None, 10)
    assert whole.next is None
    assert whole.previous is None
    empty = paginate(collection, [], None, 10)
    assert (empty.items, empty.count, empty.next, empty.previous) == ([], 0, None, None)


def test_paginate_cursor_survives_insertions() -> None:
    """A cursor names a key, not a position: an item added before it does not shift the page."""
    collection = _collection(10)
    first = paginate(collection, list(range(10)), None, 5)
    assert first.next is not None
    collection.add(
        {"id": "id-000a", "timestamp": "2026-05-01T00:00:00Z", "updated": "2026-06-01T00:00:00Z"}
    )
    second = paginate(collection, list(range(11)), first.next, 5)
    ids = {i["id"] for i in first.items} | {i["id"] for i in second.items}
    assert len(ids) == 10
    assert "id-000a" not in ids


def test_select_filters_by_window_and_equality() -> None:
    """A time window is a bisection; equalities and the cache give the same indices again."""
    collection = _collection(30)
    lo = micros(datetime(2026, 6, 2, tzinfo=UTC))
    hi = micros(datetime(2026, 6, 4, tzinfo=UTC))
    chosen = collection.select(Selection(time_gte=lo, time_lt=hi, equals=(("even", True),)))
    expected = [
        i
        for i, item in enumerate(collection.items)
        if lo <= micros(datetime.fromisoformat(item["timestamp"])) < hi and item["even"]
    ]
    assert list(chosen) == expected
    assert expected
    assert collection.select(Selection(time_gte=lo, time_lt=hi, equals=(("even", True),))) is (
        chosen
    )


# --- sales_report ---------------------------------------------------------------------------

_START = datetime(2026, 6, 14, 22, tzinfo=UTC)
_END = datetime(2026, 6, 15, 22, tzinfo=UTC)


def _receipt(kind: str, total: str, tip: str = "0.00", rate: str = "20.00") -> Item:
    gross = Decimal(total)
    net = (gross / (1 + Decimal(rate) / 100)).quantize(Decimal("0.01"))
    return {
        "type": kind,
        "total": total,
        "tip": tip,
        "taxes": [{"rate": rate, "net": str(net), "tax": str(gross - net), "gross": total}],
        "payments": [{"payment_method": "pm-card", "amount": str(gross + Decimal(tip))}],
        "lines": [{"article": "art-cola", "quantity": "2", "total": total}],
    }


def _report(receipts: list[Item]) -> dict[str, Any]:
    return sales_report(
        receipts,
        start=_START,
        end=_END,
        articles={"art-cola": {"article_group": "grp-soft"}},
        groups={"grp-soft": {"name": "Soft drinks"}},
        methods={"pm-card": {"name": "Card"}},
    )


def test_sales_report_counts_invoices_minus_cancellations() -> None:
    """Cancellations subtract, training and zero receipts do not count, tips are apart."""
    report = _report(
        [
            _receipt("invoice", "12.00", tip="1.00"),
            _receipt("invoice", "11.00", rate="10.00"),
            _receipt("cancellation", "-12.00"),
            _receipt("training", "99.00"),
            _receipt("start", "0.00"),
        ]
    )
    assert report["start"] == "2026-06-14T22:00:00Z"
    assert report["end"] == "2026-06-15T22:00:00Z"
    assert report["receipts"] == 3
    assert report["gross"] == "11.00"
    assert report["tip"] == "1.00"
    assert [r["rate"] for r in report["by_tax_rate"]] == ["20.00", "10.00"]
    assert sum(Decimal(r["gross"]) for r in report["by_tax_rate"]) == Decimal(report["gross"])
    assert report["net"] == str(sum(Decimal(r["net"]) for r in report["by_tax_rate"]))
    assert report["by_payment_method"] == [
        {"payment_method": "pm-card", "name": "Card", "amount": "12.00", "count": 3}
    ]
    assert report["by_article_group"] == [
        {"article_group": "grp-soft", "name": "Soft drinks", "quantity": "6", "gross": "11.00"}
    ]


def test_sales_report_of_nothing_is_zero() -> None:
    """An empty window still answers every field, with zero sums."""
    report = _report([])
    assert report["receipts"] == 0
    assert (report["gross"], report["net"], report["tip"]) == ("0.00", "0.00", "0.00")
    assert report["by_tax_rate"] == report["by_payment_method"] == report["by_article_group"] == []


def test_sales_report_keeps_unknown_articles_apart() -> None:
    """A line without a known article lands in a group None, not in a wrong group."""
    receipt = _receipt("invoice", "5.00")
    receipt["lines"] = [{"article": None, "quantity": "1", "total": "5.00"}]
    (group,) = _report([receipt])["by_article_group"]
    assert group == {"article_group": None, "name": None, "quantity": "1", "gross": "5.00"}


# --- JobBook.validate -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tenant() -> TenantData:
    """Tenant A's data, small."""
    return generate_tenant(
        name="tenant-a", seed="pure-a", receipts=10, start=date(2026, 6, 1), days=3
    )


@pytest.fixture
def book(tenant: TenantData) -> JobBook:
    """A job book on frozen time."""
    return JobBook(tenant, clock=lambda: 0.0, delay=1.0, expiry=10.0)


def _order(tenant: TenantData, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sales_point": tenant.sales_points[0]["id"],
        "reference": "webshop-1",
        "lines": [{"article": tenant.articles[0]["id"], "quantity": "2"}],
    }
    body.update(changes)
    return body


def _payment(tenant: TenantData, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sales_point": tenant.sales_points[0]["id"],
        "order": "8c1c0a6e-3d1b-4a55-9d59-0f3b8f0e4b11",
        "payment_method": tenant.payment_methods[0]["id"],
        "amount": "19.80",
        "tip": 1.2,
    }
    body.update(changes)
    return body


def test_validate_accepts_valid_bodies(book: JobBook, tenant: TenantData) -> None:
    """A complete order and payment have no errors (JSON numbers pass as decimals, as in DRF)."""
    assert book.validate("order", _order(tenant)) == {}
    line = {"article": tenant.articles[1]["id"], "quantity": 0.5, "unit_price": "9.90"}
    assert book.validate("order", _order(tenant, lines=[line], table=None)) == {}
    assert book.validate("payment", _payment(tenant)) == {}


def test_validate_order_field_maps(book: JobBook, tenant: TenantData) -> None:
    """Missing, null, wrong-typed and unknown fields get DRF's messages, nested per line."""
    assert book.validate("order", []) == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }
    assert book.validate("order", {}) == {
        "sales_point": ["This field is required."],
        "lines": ["This field is required."],
    }
    assert book.validate("order", _order(tenant, lines=[])) == {
        "lines": ["This list may not be empty."]
    }
    assert book.validate("order", _order(tenant, lines=None)) == {
        "lines": ["This field may not be null."]
    }
    assert book.validate("order", _order(tenant, lines="abc")) == {
        "lines": ['Expected a list of items but got type "str".']
    }
    unknown = "00000000-0000-4000-8000-000000000000"
    good = {"article": tenant.articles[0]["id"], "quantity": "1"}
    lines = [
        good,
        {"article": unknown, "quantity": "1.2345"},
        "x",
        {"article": "nope", "quantity": None},
        {"quantity": "-1", "unit_price": "1.999"},
    ]
    errors = book.validate(
        "order", _order(tenant, sales_point=unknown, table="t", reference=7, lines=lines)
    )
    assert errors == {
        "sales_point": [f'Invalid pk "{unknown}" - object does not exist.'],
        "reference": ["Not a valid string."],
        "table": ["Must be a valid UUID."],
        "lines": [
            {},
            {
                "article": [f'Invalid pk "{unknown}" - object does not exist.'],
                "quantity": ["Ensure that there are no more than 3 decimal places."],
            },
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
            {
                "article": ["Must be a valid UUID."],
                "quantity": ["This field may not be null."],
            },
            {
                "article": ["This field is required."],
                "quantity": ["Ensure this value is greater than 0."],
                "unit_price": ["Ensure that there are no more than 2 decimal places."],
            },
        ],
    }


def test_validate_payment_field_maps(book: JobBook, tenant: TenantData) -> None:
    """A payment needs a sales point, an order, a method and a positive two-decimal amount."""
    errors = book.validate(
        "payment",
        _payment(tenant, order=None, payment_method="x", amount=True, tip="NaN", note="n" * 501),
    )
    assert errors == {
        "order": ["This field may not be null."],
        "payment_method": ["Must be a valid UUID."],
        "amount": ["A valid number is required."],
        "tip": ["A valid number is required."],
        "note": ["Ensure this field has no more than 500 characters."],
    }
    missing = book.validate("payment", {"sales_point": tenant.sales_points[0]["id"]})
    assert missing == {
        "payment_method": ["This field is required."],
        "order": ["This field is required."],
        "amount": ["This field is required."],
    }
    assert book.validate("payment", _payment(tenant, amount="0.00", order="o")) == {
        "order": ["Must be a valid UUID."],
        "amount": ["Ensure this value is greater than 0."],
    }
