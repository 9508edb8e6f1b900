"""Typed resources against the sandbox over loopback: list, get, filters, paths, reports."""

from __future__ import annotations

import inspect
import time as _time
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest

from bessa_async import (
    Article,
    BessaClient,
    ConfigurationError,
    DecodeError,
    ForeignOriginError,
    NotFoundError,
    PaginationLoopError,
    Receipt,
    ReceiptType,
    business_day,
)
from bessa_async.testing import Fault, Sandbox

RESOURCES = [
    ("companies", "companies/"),
    ("locations", "locations/"),
    ("sales_points", "sales-points/"),
    ("tax_rates", "tax-rates/"),
    ("article_groups", "article-groups/"),
    ("articles", "articles/"),
    ("article_options", "article-options/"),
    ("payment_methods", "payment-methods/"),
    ("tables", "tables/"),
    ("users", "users/"),
    ("receipts", "receipts/"),
    ("closings", "reports/closings/"),
    ("stock_levels", "stock-levels/"),
]


@pytest.mark.parametrize(("attribute", "path"), RESOURCES)
async def test_every_resource_lists_all_items_typed(
    client: BessaClient, sandbox: Sandbox, attribute: str, path: str
) -> None:
    """Each typed resource walks its whole list and decodes every item."""
    resource = getattr(client, attribute)
    assert resource.path == path
    items = await resource.list(limit=40).collect()
    expected = sandbox.data.resources()[path.rstrip("/")]
    assert len(items) == len(expected)
    assert {type(item).__name__ for item in items} == {type(items[0]).__name__}
    assert type(items[0]).__name__ != "dict"


@pytest.mark.parametrize(("attribute", "path"), [r for r in RESOURCES if r[0] != "stock_levels"])
async def test_every_resource_gets_one_item(
    client: BessaClient, sandbox: Sandbox, attribute: str, path: str
) -> None:
    """get(id) answers the item the list holds (ids as UUID or str)."""
    resource = getattr(client, attribute)
    first = await resource.list().first()
    assert first is not None
    assert await resource.get(first.id) == first
    assert await resource.get(str(first.id)) == first


async def test_stock_levels_have_no_detail(client: BessaClient) -> None:
    """Stock levels are a list only."""
    with pytest.raises(TypeError, match="no detail endpoint"):
        await client.stock_levels.get(uuid.uuid4())


async def test_get_unknown_id_and_bad_id(client: BessaClient, sandbox: Sandbox) -> None:
    """An unknown id is NotFoundError; a malformed one is refused before sending."""
    with pytest.raises(NotFoundError):
        await client.articles.get(uuid.UUID(int=0))
    sandbox.clear_requests()
    with pytest.raises(ValueError, match="id must be a UUID, got 'abc'"):
        await client.articles.get("abc")
    assert sandbox.requests == []


async def test_filters_reach_the_api(client: BessaClient, sandbox: Sandbox) -> None:
    """Keyword filters become query parameters, with %2B offsets and canonical ids."""
    start, end = business_day(date(2026, 6, 15))
    point = next(
        r["sales_point"]
        for r in sandbox.data.receipts
        if r["type"] == "invoice" and start <= datetime.fromisoformat(r["timestamp"]) < end
    )
    receipts = await client.receipts.list(
        timestamp__gte=start, timestamp__lt=end, sales_point=uuid.UUID(point), type="invoice"
    ).collect()
    assert receipts
    assert all(r.sales_point == uuid.UUID(point) for r in receipts)
    assert all(r.type is ReceiptType.INVOICE for r in receipts)
    assert all(start <= r.timestamp < end for r in receipts)
    query = dict(sandbox.requests[-1].query)
    assert query["sales_point"] == point
    assert query["type"] == "invoice"


async def test_boolean_and_id_filters(client: BessaClient, sandbox: Sandbox) -> None:
    """active=False and article_group select exactly the matching articles."""
    inactive = await client.articles.list(active=False).collect()
    expected = [a for a in sandbox.data.articles if not a["active"]]
    assert sorted(str(a.id) for a in inactive) == sorted(a["id"] for a in expected)
    group = sandbox.data.articles[0]["article_group"]
    grouped = await client.articles.list(article_group=group).collect()
    assert grouped
    assert all(str(a.article_group) == group for a in grouped)


async def test_unknown_filter_is_a_type_error(client: BessaClient) -> None:
    """A misspelt keyword fails at the call instead of listing everything."""
    with pytest.raises(TypeError, match="timestamp_gte"):
        client.receipts.list(timestamp_gte=datetime(2026, 6, 1, tzinfo=UTC))  # type: ignore[call-arg]


def test_list_signatures_name_every_filter(client: BessaClient) -> None:
    """help() and IDEs see each filter by name (not just ``**filters``), with its default."""
    receipts = inspect.signature(client.receipts.list).parameters
    assert list(receipts) == [
        "timestamp__gte",
        "timestamp__lt",
        "sales_point",
        "location",
        "type",
        "updated__gte",
        "updated__lt",
        "limit",
        "cursor",
        "timeout",
        "prefetch",
        "concurrency",
        "ordered",
        "extra_params",
        "extra_headers",
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in receipts.values())
    assert receipts["sales_point"].default is None
    assert (receipts["prefetch"].default, receipts["ordered"].default) == (1, True)
    assert "status" in inspect.signature(client.orders.list).parameters
    assert "active" in inspect.signature(client.articles.list).parameters
    assert "updated__gte" in inspect.signature(client.companies.list).parameters


def test_unknown_job_filter_is_a_type_error(client: BessaClient) -> None:
    """The jobs' listing refuses a misspelt keyword the same way, naming it."""
    with pytest.raises(TypeError, match="'stauts'"):
        client.orders.list(stauts="pending")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"timestamp__gte": datetime(2026, 6, 1)}, "naive"),
        ({"timestamp__gte": date(2026, 6, 1)}, "business_day"),
        ({"sales_point": "not-a-uuid"}, "sales_point must be a UUID"),
        ({"limit": 0}, "limit must be a positive integer"),
        ({"limit": -5}, "limit must be a positive integer"),
    ],
)
async def test_bad_filters_send_nothing(
    client: BessaClient, sandbox: Sandbox, filters: dict[str, Any], message: str
) -> None:
    """Bad filter values raise a clear error before any request."""
    with pytest.raises((ValueError, TypeError), match=message):
        await client.receipts.list(**filters).collect()
    assert sandbox.requests == []


async def test_for_day_and_sales_report_agree(client: BessaClient) -> None:
    """The sales report of a Vienna day equals the revenue sum of that day's receipts."""
    day = date(2026, 6, 15)
    receipts = await client.receipts.for_day(day).collect()
    report = await client.reports.sales_for_day(day)
    revenue = [r for r in receipts if r.is_revenue]
    assert report.receipts == len(revenue)
    assert report.gross == sum((r.total for r in revenue), Decimal("0.00"))
    assert report.start == business_day(day)[0]
    assert sum((row.gross for row in report.by_tax_rate), Decimal(0)) == report.gross


async def test_a_month_of_reports_adds_up(client: BessaClient) -> None:
    """Each day's report matches its receipts, including voids as negative amounts."""
    for day in (date(2026, 6, d) for d in (1, 7, 13, 28)):
        receipts = await client.receipts.for_day(day, day_start=time(6)).collect()
        report = await client.reports.sales_for_day(day, day_start=time(6))
        assert report.gross == sum((r.total for r in receipts if r.is_revenue), Decimal("0.00"))


async def test_sales_report_bad_window(client: BessaClient) -> None:
    """end before start is refused locally."""
    with pytest.raises(ValueError, match="before start"):
        await client.reports.sales(
            start=datetime(2026, 6, 2, tzinfo=UTC), end=datetime(2026, 6, 1, tzinfo=UTC)
        )


async def test_paths_can_be_overridden(sandbox: Sandbox) -> None:
    """A typed resource pointed at another path reads there (404 proves the path is used)."""
    async with BessaClient(
        sandbox.token, base_url=sandbox.url, paths={"articles": "products"}
    ) as client:
        assert client.articles.path == "products/"
        assert client.paths["articles"] == "products/"
        with pytest.raises(NotFoundError):
            await client.articles.list().collect()
    assert sandbox.requests[-1].path == "products/"


@pytest.mark.parametrize(
    "paths",
    [{"article": "articles/"}, {"articles": "https://evil.example/"}, {"articles": "../x/"}],
)
def test_bad_paths_are_configuration_errors(paths: dict[str, str]) -> None:
    """Unknown names and non-relative paths are refused at construction."""
    with pytest.raises(ConfigurationError):
        BessaClient("t0ken", base_url="http://127.0.0.1:1/v1/public/", paths=paths)


async def test_any_path_generically(client: BessaClient, sandbox: Sandbox) -> None:
    """client.resource() reads any path as dicts, or typed with a model."""
    rows = await client.resource("articles/").list(active="true").collect()
    assert all(isinstance(row, dict) and row["active"] for row in rows)
    typed = await client.resource("articles/", model=Article).list().collect()
    assert len(typed) == len(sandbox.data.articles)
    one = await client.resource("articles/", model=Article).get(typed[0].id)
    assert one == typed[0]


async def test_pages_carry_count_and_links(client: BessaClient) -> None:
    """pages() yields typed pages with count and next; the last next is None."""
    pages = [page async for page in client.receipts.list(limit=100).pages()]
    assert [len(p.results) for p in pages] == [100, 100, 100]
    assert {p.count for p in pages} == {300}
    assert pages[-1].next is None
    assert isinstance(pages[0].results[0], Receipt)


async def test_collect_and_first(client: BessaClient, sandbox: Sandbox) -> None:
    """collect(max_items) stops early; first() sends one request with limit=1."""
    assert len(await client.receipts.list(limit=10).collect(max_items=15)) == 15
    sandbox.clear_requests()
    first = await client.receipts.list().first()
    assert first is not None
    assert [dict(r.query)["limit"] for r in sandbox.requests] == ["1"]
    empty = client.receipts.list(timestamp__gte=datetime(2030, 1, 1, tzinfo=UTC))
    assert await empty.first() is None


async def test_bare_cursors_are_followed() -> None:
    """With next as a bare cursor (not a URL), the paginator sends it back as cursor=."""
    async with (
        Sandbox(receipts=120, next_style="cursor") as sandbox,
        BessaClient(sandbox.token, base_url=sandbox.url) as client,
    ):
        receipts = await client.receipts.list(limit=50, type="invoice").collect()
        assert len({r.id for r in receipts}) == len(receipts)
        assert all(r.type is ReceiptType.INVOICE for r in receipts)
        follow = dict(sandbox.requests[-1].query)
        assert "cursor" in follow
        assert follow["type"] == "invoice"


async def test_resume_from_a_cursor(client: BessaClient) -> None:
    """list(cursor=page.next) continues where a page ended, without loss or repeat."""
    everything = await client.receipts.list(limit=50).collect()
    pages = client.receipts.list(limit=50).pages()
    first_page = await anext(pages)
    await pages.aclose()
    assert first_page.next is not None
    from urllib.parse import parse_qs, urlsplit

    cursor = parse_qs(urlsplit(first_page.next).query)["cursor"][0]
    rest = await client.receipts.list(limit=50, cursor=cursor).collect()
    assert [r.id for r in (*first_page.results, *rest)] == [r.id for r in everything]


async def test_a_cycling_cursor_stops_with_an_error(client: BessaClient, sandbox: Sandbox) -> None:
    """A next that names a page already read raises PaginationLoopError, not an endless loop."""
    sandbox.inject(Fault.cycle_next(), path="receipts/")
    with pytest.raises(PaginationLoopError, match="repeats a page") as info:
        await client.receipts.list(limit=10).collect()
    assert info.value.pages <= 2
    assert len(sandbox.requests) <= 2


async def test_undecodable_item_names_the_field(client: BessaClient, sandbox: Sandbox) -> None:
    """A bad item in a page is a DecodeError naming resource, path and value."""
    sandbox.data.articles[0]["price"] = 4.5  # what a float in the JSON would give
    try:
        with pytest.raises(DecodeError, match=r"articles.*float 4\.5 refused.*results\[0\]\.price"):
            await client.articles.list().collect()
    finally:
        sandbox.data.articles[0]["price"] = "4.50"


async def test_foreign_next_url_is_refused(client: BessaClient, sandbox: Sandbox) -> None:
    """A next URL on another origin raises before the token could travel there."""
    from bessa_async import Paginator
    from bessa_async._listing.pagination import ListingRequest

    async def fetch(target: str, params: Any) -> Any:
        if target == "articles/":
            return {
                "count": 2,
                "next": "https://evil.example/v1/public/articles/?cursor=x",
                "previous": None,
                "results": [],
            }
        return await client.request("GET", target, params=params)

    paginator: Paginator[dict[str, Any]] = Paginator(
        ListingRequest(
            fetch=fetch,
            path="articles/",
            params={},
            decode=lambda items: items,
            resource="articles",
            clock=_time.monotonic,
        )
    )
    with pytest.raises(ForeignOriginError):
        await paginator.collect()
    assert sandbox.requests == []
