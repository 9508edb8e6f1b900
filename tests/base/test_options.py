"""Per-call options: views (``with_options``), ``extra_params``, ``extra_headers``, raw answers."""

from __future__ import annotations

import asyncio
import gc
import typing
import uuid
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal

import aiohttp
import pytest

from bessa_async import (
    BessaClient,
    ConflictError,
    InvalidTypeError,
    InvalidValueError,
    Order,
    OrderLine,
    PollPolicy,
    RateLimitError,
    RawResponse,
    RequestTimeout,
    ResumeTokenError,
    RetryPolicy,
    ServerError,
    Timeout,
    ValidationError,
)
from bessa_async._base.options import OWNED_HEADERS, library_headers
from bessa_async._registry import TYPED_RESOURCES
from bessa_async.resources import ReceiptFilters
from bessa_async.testing import FakeClock, Fault, RecordedRequest, Sandbox


def _headers(request: RecordedRequest) -> dict[str, str]:
    """A recorded request's headers by lower-case name (HTTP names have no case)."""
    return {name.lower(): value for name, value in request.headers.items()}


def _open(client: BessaClient) -> bool:
    return not client.closed


def _paths(sandbox: Sandbox) -> list[str]:
    return [r.path for r in sandbox.requests]


# --- views: with_options ------------------------------------------------------------------


async def test_a_view_shares_the_in_flight_slots(sandbox: Sandbox) -> None:
    """max_in_flight counts the requests of the client and its views together."""
    sandbox.inject(Fault.latency(0.05), path="articles/")
    unlimited = aiohttp.TCPConnector(limit=0)
    async with (
        aiohttp.ClientSession(connector=unlimited) as session,
        BessaClient(
            sandbox.token, base_url=sandbox.url, session=session, max_in_flight=2
        ) as client,
    ):
        view = client.with_options(timeout=30)
        deeper = view.with_options(retry=RetryPolicy.disabled())
        calls = [c.request("GET", "articles/") for c in (client, view, deeper) for _ in range(3)]
        await asyncio.gather(*calls)
    assert len(sandbox.requests) == 9
    assert sandbox.connections_opened <= 2


async def test_a_429_seen_by_a_view_pauses_the_client(
    client: BessaClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    """The pause after a 429 is one for the client and all its views."""
    sandbox.inject(Fault.rate_limit(retry_after=5), path="articles/", times=1)
    view = client.with_options(retry=RetryPolicy.disabled())
    with pytest.raises(RateLimitError):
        await view.request("GET", "articles/")
    await client.request("GET", "companies/")
    assert clock.sleeps == [5.0]
    assert _paths(sandbox) == ["articles/", "companies/"]


async def test_a_views_deadline_is_its_own(
    client: BessaClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    """A view with a short deadline fails fast at the gate where the client waits it out."""
    sandbox.inject(Fault.rate_limit(retry_after=10), path="articles/", times=1)
    with pytest.raises(RateLimitError):
        await client.request("GET", "articles/", retry=RetryPolicy.disabled())
    fast = client.with_options(timeout=5)
    with pytest.raises(RateLimitError, match="deadline"):
        await fast.companies.list().collect()
    assert clock.sleeps == []
    assert await client.companies.list().collect()
    assert clock.sleeps == [10.0]
    assert fast.timeout == Timeout(total=5.0)
    assert client.timeout == Timeout()


async def test_a_views_timeout_ends_a_slow_call(sandbox: Sandbox) -> None:
    """A slow answer hits the view's deadline; the client's own stays as it was."""
    sandbox.inject(Fault.latency(5.0), path="articles/", times=1)
    async with BessaClient(sandbox.token, base_url=sandbox.url, timeout=60) as client:
        with pytest.raises(RequestTimeout):
            await client.with_options(timeout=0.2).articles.list().first()
        assert await client.articles.list().first() is not None


async def test_a_views_retry_policy_is_its_own(
    client: BessaClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    """A view without retries sends once where the client retries to its policy."""
    sandbox.inject(Fault.status(503), path="articles/")
    with pytest.raises(ServerError):
        await client.with_options(retry=RetryPolicy.disabled()).request("GET", "articles/")
    assert len(sandbox.requests) == 1
    with pytest.raises(ServerError):
        await client.request("GET", "articles/")
    assert len(sandbox.requests) == 1 + client.retry.attempts


async def test_a_views_poll_policy_paces_its_jobs() -> None:
    """Jobs submitted through a view are waited for with the view's poll policy."""
    clock = FakeClock()
    every_four = PollPolicy(initial=4, floor=4, ceiling=4, multiplier=1, jitter=0)
    async with (
        Sandbox(receipts=10, clock=clock, job_delay=10) as sb,
        BessaClient(sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep) as client,
    ):
        point = next(p["id"] for p in sb.data.sales_points if p["status"] == "active")
        article = next(a for a in sb.data.articles if a["active"] and a["type"] == "standard")
        order = Order(
            sales_point=point, lines=[OrderLine(article=article["id"], quantity=Decimal(1))]
        )
        view = client.with_options(poll=every_four)
        assert view.poll == every_four
        assert client.poll != every_four
        handle = await view.orders.submit(order)
        job = await handle.wait(timeout=60)
        polls = [r.time for r in sb.requests if r.method == "GET" and str(job.id) in r.path]
    assert job.finished
    assert polls
    assert polls == [4.0 * n for n in range(1, len(polls) + 1)]


async def test_view_headers_are_sent_and_add_up(client: BessaClient, sandbox: Sandbox) -> None:
    """headers= of a view go with each of its requests; a view of a view adds its own."""
    view = client.with_options(headers={"X-Route": "checkout"})
    deeper = view.with_options(headers={"x-route": "refunds", "X-Team": "pos"})
    await view.request("GET", "companies/")
    await deeper.companies.list().collect()
    await client.request("GET", "companies/")
    first, second, third = (_headers(r) for r in sandbox.requests)
    assert first["x-route"] == "checkout"
    assert second["x-route"] == "refunds"
    assert second["x-team"] == "pos"
    assert "x-route" not in third
    assert "x-team" not in third


@pytest.mark.parametrize(
    "name", ["Authorization", "authorization", "Idempotency-Key", "User-Agent", "Content-Type"]
)
async def test_a_view_cannot_set_the_librarys_headers(
    client: BessaClient, sandbox: Sandbox, name: str
) -> None:
    """A header the library owns is refused by with_options, before anything is sent."""
    with pytest.raises(InvalidValueError, match="set by the library"):
        client.with_options(headers={name: "x"})
    assert sandbox.requests == []


def test_view_options_are_checked(sandbox: Sandbox) -> None:
    """Options of the wrong type, or an unsafe header value, fail at with_options."""
    client = BessaClient(sandbox.token, base_url=sandbox.url)
    with pytest.raises(InvalidTypeError):
        client.with_options(retry=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        client.with_options(poll="fast")  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        client.with_options(timeout="2")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="line break"):
        client.with_options(headers={"X-Note": "a\r\nX-Evil: 1"})
    with pytest.raises(InvalidTypeError):
        client.with_options(headers={"X-Count": 3})  # type: ignore[dict-item]


async def test_closing_a_view_leaves_the_client_open(client: BessaClient) -> None:
    """A view owns nothing: aclose() and async with on it do nothing to the client."""
    view = client.with_options(timeout=5)
    async with view as same:
        assert same is view
    await view.aclose()
    assert _open(view)
    assert _open(client)
    assert await view.companies.list().first() is not None
    await client.aclose()
    assert view.closed
    with pytest.raises(RuntimeError, match="closed"):
        await view.request("GET", "companies/")


def test_a_view_shows_no_token_and_no_header_values(sandbox: Sandbox) -> None:
    """A view's repr names header names only; the token appears nowhere."""
    client = BessaClient(sandbox.token, base_url=sandbox.url)
    view = client.with_options(headers={"X-Proxy-Auth": f"Bearer {sandbox.token}"}, timeout=3)
    text = repr(view) + repr(view.receipts) + repr(view.orders) + repr(view.jobs)
    assert sandbox.token not in text
    assert "X-Proxy-Auth" in repr(view)
    assert "view" in repr(view)
    assert view.is_view
    assert not client.is_view


# --- extra_params and extra_headers -------------------------------------------------------


async def test_extra_params_go_with_every_page(client: BessaClient, sandbox: Sandbox) -> None:
    """extra_params reach the server on each page of a listing, next to the typed filters."""
    points = await client.sales_points.list(
        limit=1, extra_params={"status": "active", "ordering": ["name", "-id"]}
    ).collect()
    assert len(points) > 1
    assert len(sandbox.requests) >= len(points)
    for request in sandbox.requests:
        query = list(request.query)
        assert ("status", "active") in query
        assert [v for k, v in query if k == "ordering"] == ["name", "-id"]
        assert ("limit", "1") in query


async def test_a_misspelt_filter_is_still_a_type_error(client: BessaClient) -> None:
    """The escape hatch is explicit: an unknown keyword stays a TypeError."""
    with pytest.raises(InvalidTypeError, match="'status'"):
        client.sales_points.list(status="active")  # type: ignore[call-arg]


@pytest.mark.parametrize("name", ["limit", "cursor", "location", "updated__gte", "prefetch"])
def test_extra_params_cannot_replace_a_typed_filter(
    client: BessaClient, sandbox: Sandbox, name: str
) -> None:
    """A name the library or a typed filter sets is refused at the call, naming it."""
    with pytest.raises(InvalidValueError, match=f"'{name}'.*pass {name}= itself"):
        client.sales_points.list(extra_params={name: "1"})
    assert sandbox.requests == []


async def test_collisions_are_refused_on_every_call(client: BessaClient, sandbox: Sandbox) -> None:
    """Reports, changes feeds and job listings refuse their own names the same way."""
    start, end = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 2, tzinfo=UTC)
    with pytest.raises(InvalidValueError, match="'sales_point'"):
        await client.reports.sales(start=start, end=end, extra_params={"sales_point": "x"})
    with pytest.raises(InvalidValueError, match="'updated__gte'"):
        client.receipts.changes(extra_params={"updated__gte": "2026-06-01T00:00:00+00:00"})
    with pytest.raises(InvalidValueError, match="'status'"):
        client.orders.list(extra_params={"status": "pending"})
    with pytest.raises(InvalidTypeError):
        client.articles.list(extra_params={"price": 1.5})  # type: ignore[dict-item]
    with pytest.raises(InvalidTypeError):
        client.articles.list(extra_params=["active"])  # type: ignore[arg-type]
    assert sandbox.requests == []


@pytest.mark.parametrize("name", ["Authorization", "idempotency-key", "Accept", "Host"])
async def test_extra_headers_cannot_be_the_librarys(
    client: BessaClient, sandbox: Sandbox, name: str
) -> None:
    """extra_headers naming a header the library sets fail before anything is sent."""
    headers = {name: "x"}
    with pytest.raises(InvalidValueError, match="set by the library"):
        client.receipts.list(extra_headers=headers)
    with pytest.raises(InvalidValueError, match="set by the library"):
        await client.companies.get(uuid.uuid4(), extra_headers=headers)
    with pytest.raises(InvalidValueError, match="set by the library"):
        await client.orders.submit(_order(sandbox), extra_headers=headers)
    assert sandbox.requests == []


async def test_extra_headers_and_params_reach_the_server(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """Each typed call sends its extra headers and extra parameters with its requests."""
    note = {"X-Trace": "t-1"}
    start, end = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 2, tzinfo=UTC)

    async def changes() -> None:
        async for _ in client.companies.changes(extra_params={"y": True}, extra_headers=note):
            pass

    async def detail() -> None:
        await client.companies.get(company_id, extra_params={"expand": "x"}, extra_headers=note)

    company_id = sandbox.data.companies[0]["id"]
    calls: dict[str, tuple[Callable[[], Awaitable[object]], str]] = {
        "list": (client.companies.list(extra_params={"w": 2}, extra_headers=note).collect, "w"),
        "get": (detail, "expand"),
        "report": (
            lambda: client.reports.sales(
                start=start, end=end, extra_params={"x": 1}, extra_headers=note
            ),
            "x",
        ),
        "changes": (changes, "y"),
        "jobs": (client.orders.list(extra_params={"z": "1"}, extra_headers=note).collect, "z"),
    }
    for what, (call, param) in calls.items():
        sandbox.clear_requests()
        await call()
        assert sandbox.requests, what
        for request in sandbox.requests:
            assert _headers(request)["x-trace"] == "t-1", what
            assert param in dict(request.query), what
    sandbox.clear_requests()
    handle = await client.orders.submit(_order(sandbox), extra_headers=note)
    (post,) = sandbox.requests
    assert _headers(post)["x-trace"] == "t-1"
    assert _headers(post)["idempotency-key"] == handle.idempotency_key


def _order(sandbox: Sandbox) -> Order:
    point = next(p["id"] for p in sandbox.data.sales_points if p["status"] == "active")
    article = next(a for a in sandbox.data.articles if a["active"] and a["type"] == "standard")
    return Order(sales_point=point, lines=[OrderLine(article=article["id"], quantity=Decimal(1))])


_HEADER_PATHS: dict[str, Callable[[BessaClient, Sandbox, dict[str, str]], Awaitable[object]]] = {
    "request(headers=)": lambda c, _, h: c.request("GET", "articles/", headers=h),
    "request(raw=True)": lambda c, _, h: c.request("GET", "articles/", headers=h, raw=True),
    "with_options(headers=)": lambda c, _, h: asyncio.sleep(0, c.with_options(headers=h)),
    "list(extra_headers=)": lambda c, _, h: c.receipts.list(extra_headers=h).collect(),
    "get(extra_headers=)": lambda c, _, h: c.companies.get(uuid.uuid4(), extra_headers=h),
    "changes(extra_headers=)": lambda c, _, h: asyncio.sleep(
        0, c.articles.changes(extra_headers=h)
    ),
    "resource().list(extra_headers=)": (
        lambda c, _, h: c.resource("articles/").list(extra_headers=h).collect()
    ),
    "reports.sales(extra_headers=)": lambda c, _, h: c.reports.sales(
        start=datetime(2026, 6, 1, tzinfo=UTC),
        end=datetime(2026, 6, 2, tzinfo=UTC),
        extra_headers=h,
    ),
    "orders.submit(extra_headers=)": lambda c, s, h: c.orders.submit(_order(s), extra_headers=h),
    "orders.list(extra_headers=)": lambda c, _, h: c.orders.list(extra_headers=h).collect(),
}


async def test_the_library_sends_its_own_headers_from_the_one_table(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """What the transport sets itself is what the table of owned names refuses from callers:
    every header it sends that a caller did not is one of OWNED_HEADERS."""
    await client.request("GET", "companies/")
    with pytest.raises(ValidationError):  # an empty order: refused, but sent with a body
        await client.request("POST", "requests/orders/", json={})
    for request, has_body in zip(sandbox.requests, (False, True), strict=True):
        sent = _headers(request)
        ours = library_headers(sent["user-agent"], has_body=has_body)
        assert {name.lower(): value for name, value in ours.items()}.items() <= sent.items()
        assert {name.lower() for name in ours} | {"authorization"} <= set(OWNED_HEADERS)
    assert "content-type" not in _headers(sandbox.requests[0])


@pytest.mark.parametrize("path", list(_HEADER_PATHS))
@pytest.mark.parametrize("name", sorted(OWNED_HEADERS))
async def test_every_path_refuses_every_library_header(
    client: BessaClient, sandbox: Sandbox, path: str, name: str
) -> None:
    """One table of the library's headers, and every way in that takes headers refuses each of
    them (in any case) before anything is sent: a Transfer-Encoding on a GET would otherwise
    leave the server waiting for a body until the deadline."""
    for spelling in (name, name.title(), name.upper()):
        with pytest.raises(InvalidValueError, match=f"header '{spelling}' is set by the library"):
            await _HEADER_PATHS[path](client, sandbox, {spelling: "chunked"})
    assert sandbox.requests == []


@pytest.mark.parametrize("value", ["a\x00b", "a\x1bb", "a\x7fb", "a\rb", "a\nb", "a\x0bb"])
@pytest.mark.parametrize("path", list(_HEADER_PATHS))
async def test_every_path_refuses_control_characters(
    client: BessaClient, sandbox: Sandbox, path: str, value: str
) -> None:
    """A control character in a header value (a NUL, an escape, a line break) is refused on
    every way in; a tab is a legal part of a value and goes out."""
    with pytest.raises(InvalidValueError, match="control character"):
        await _HEADER_PATHS[path](client, sandbox, {"X-Note": value})
    assert sandbox.requests == []


async def test_a_tab_in_a_header_value_is_sent(client: BessaClient, sandbox: Sandbox) -> None:
    """HTTP allows a tab inside a field value: it is not a control character to refuse."""
    await client.request("GET", "articles/", headers={"X-Note": "a\tb"})
    assert _headers(sandbox.requests[0])["x-note"] == "a\tb"


async def test_the_same_idempotency_key_with_another_body_is_a_conflict(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """The key is submit()'s own: the same key and body answer the same job, another body 409."""
    order = Order(
        sales_point=_order(sandbox).sales_point, lines=_order(sandbox).lines, reference="a"
    )
    key = "4a7f7f0e-5d55-4a3e-9d3f-1c2b3a4d5e6f"
    job = await client.orders.submit(order, idempotency_key=key)
    assert (await client.orders.submit(order, idempotency_key=key)).id == job.id
    other = Order(sales_point=order.sales_point, lines=order.lines, reference="other")
    with pytest.raises(ConflictError):
        await client.orders.submit(other, idempotency_key=key)
    assert {_headers(r)["idempotency-key"] for r in sandbox.requests if r.method == "POST"} == {key}


# --- raw answers: status, headers, request id ---------------------------------------------


async def test_request_raw_gives_status_headers_and_request_id(client: BessaClient) -> None:
    """request(raw=True) answers a RawResponse with the decoded JSON as data."""
    answer = await client.request("GET", "companies/", params={"limit": 1}, raw=True)
    assert isinstance(answer, RawResponse)
    assert answer.status == 200
    assert answer.method == "GET"
    assert answer.path == "companies/"
    assert answer.request_id is not None
    assert answer.request_id == answer.headers["x-request-id"]
    assert answer.date is not None
    assert answer.date.tzinfo is not None
    assert len(answer.data["results"]) == 1
    plain = await client.request("GET", "companies/", params={"limit": 1})
    assert plain == answer.data


async def test_with_raw_response_get_decodes_the_item(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """resource.with_raw_response.get(id) gives the model next to the answer's headers."""
    company_id = sandbox.data.companies[0]["id"]
    answer = await client.companies.with_raw_response.get(company_id, extra_headers={"X-A": "1"})
    assert str(answer.data.id) == company_id
    assert answer.status == 200
    assert answer.request_id
    assert answer.path == f"companies/{company_id}/"
    assert _headers(sandbox.requests[-1])["x-a"] == "1"
    assert "X-Request-ID" not in repr(answer)  # headers and body stay out of the repr


async def test_a_listing_keeps_its_last_answer(client: BessaClient, sandbox: Sandbox) -> None:
    """Paginator.last_response is the most recent page's answer; None before the first."""
    listing = client.sales_points.list(limit=2, prefetch=0)
    before = listing.last_response
    assert before is None
    points = await listing.collect()
    last = listing.last_response
    assert last is not None
    assert last.status == 200
    assert last.data["next"] is None
    assert len(last.data["results"]) == len(points) - 2 * (len(sandbox.requests) - 1)
    assert last.request_id
    first = await listing.first()
    assert first is not None
    assert listing.last_response is not last
    jobs = client.orders.list()
    await jobs.collect()
    assert jobs.last_response is not None
    assert jobs.last_response.path == "requests/orders/"


async def test_a_dropped_view_never_warns(client: BessaClient) -> None:
    """Only the client that owns the session warns when dropped unclosed; a view owns nothing."""
    view = client.with_options(timeout=1)
    await view.companies.list().first()
    holder = [view]
    del view
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        holder.clear()
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not client.closed


async def test_any_resource_takes_extra_headers(client: BessaClient, sandbox: Sandbox) -> None:
    """client.resource(path).list() sends extra_headers; its params pass through as before."""
    rows = await client.resource("companies/").list(extra_headers={"X-A": "1"}, limit=1).first()
    assert rows is not None
    (request,) = sandbox.requests
    assert _headers(request)["x-a"] == "1"
    with pytest.raises(InvalidValueError, match="set by the library"):
        client.resource("companies/").list(extra_headers={"Authorization": "x"})


async def test_extra_params_reach_every_shard(client: BessaClient, sandbox: Sandbox) -> None:
    """A sharded listing sends the extra parameters with each request of each chain."""
    june = ReceiptFilters(
        timestamp__gte=datetime(2026, 5, 31, 22, tzinfo=UTC),
        timestamp__lt=datetime(2026, 6, 30, 22, tzinfo=UTC),
        limit=50,
    )
    plain = await client.receipts.list(**june).collect()
    sandbox.clear_requests()
    shards: ReceiptFilters = {**june, "extra_params": {"flavour": "x"}, "concurrency": 4}
    sharded = await client.receipts.list(**shards).collect()
    assert [r.id for r in sharded] == [r.id for r in plain]
    assert len(sandbox.requests) > 4
    assert all(("flavour", "x") in r.query for r in sandbox.requests)


async def test_a_checkpoint_is_bound_to_its_extra_params(client: BessaClient) -> None:
    """A changes feed's checkpoint names its extra parameters, as it names its filters."""
    feed = client.companies.changes(extra_params={"flavour": "x"})
    async for _ in feed:
        pass
    saved = feed.checkpoint
    async for _ in client.companies.changes(saved, extra_params={"flavour": "x"}):
        pass
    with pytest.raises(ResumeTokenError):
        client.companies.changes(saved)


def test_every_registered_resource_is_typed_on_the_client(client: BessaClient) -> None:
    """The registry sets each resource; the client's annotation of it names the same class,
    and a view's resource sends through the view."""
    hints = typing.get_type_hints(BessaClient)
    view = client.with_options(timeout=1)
    for cls in TYPED_RESOURCES:
        assert hints[cls.name] is cls
        assert type(getattr(client, cls.name)) is cls
        assert getattr(view, cls.name)._client is view
