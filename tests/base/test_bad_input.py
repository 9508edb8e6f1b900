"""The bad-input table: each kind of bad input, its exact error, a message that names the
problem, and (where it applies) proof that no request was sent."""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from bessa_async import (
    BessaClient,
    BessaError,
    ConfigurationError,
    DecodeError,
    ForeignOriginError,
    Hooks,
    InvalidTypeError,
    InvalidValueError,
    JobTimeoutError,
    Order,
    OrderLine,
    OrderOption,
    PaginationLoopError,
    Payment,
    PollPolicy,
    RateLimitError,
    RetryPolicy,
    ServerError,
    Timeout,
    business_day,
    business_days,
    to_dict,
)
from bessa_async.testing import FakeClock, Fault, Sandbox

Action = Callable[[BessaClient, Sandbox], Awaitable[object]]


@attrs.frozen
class Row:
    """One kind of bad input."""

    name: str
    action: Action
    error: type[BaseException]
    message: str
    sends_nothing: bool = True
    fault: tuple[Fault, str] | None = None
    secret: str | None = None
    """A token the row passes, which its error must never show."""


def _client(**options: Any) -> Action:
    async def build(_: BessaClient, sandbox: Sandbox) -> object:
        return BessaClient(**{"base_url": sandbox.url, **options})

    return build


def _get(path: str, **params: Any) -> Action:
    async def get(client: BessaClient, _: Sandbox) -> object:
        return await client.request("GET", path, params=params)

    return get


def _no_retry(path: str) -> Action:
    async def get(client: BessaClient, _: Sandbox) -> object:
        return await client.request("GET", path, retry=RetryPolicy.disabled())

    return get


async def _receipts_naive(client: BessaClient, _: Sandbox) -> object:
    return client.receipts.list(timestamp__gte=datetime(2026, 6, 1))


async def _receipts_date(client: BessaClient, _: Sandbox) -> object:
    return client.receipts.list(timestamp__gte=date(2026, 6, 1))  # type: ignore[arg-type]


async def _unknown_filter(client: BessaClient, _: Sandbox) -> object:
    return client.receipts.list(timestamp_gte=datetime(2026, 6, 1, tzinfo=UTC))  # type: ignore[call-arg]


def _limit_of(value: int) -> Action:
    async def listing(client: BessaClient, _: Sandbox) -> object:
        return client.articles.list(limit=value)

    return listing


async def _bad_uuid(client: BessaClient, _: Sandbox) -> object:
    return await client.articles.get("5eae070f-f62f-4e49-aab8")


async def _bad_uuid_filter(client: BessaClient, _: Sandbox) -> object:
    return client.receipts.list(sales_point="till-1")


async def _cycling(client: BessaClient, _: Sandbox) -> object:
    return await client.receipts.list(limit=10).collect()


async def _foreign_next(client: BessaClient, _: Sandbox) -> object:
    return await client.request("GET", "https://evil.example/v1/public/receipts/?cursor=abc")


async def _dot_dot(client: BessaClient, _: Sandbox) -> object:
    return await client.request("GET", "articles/../../admin/")


async def _bad_paths(client: BessaClient, sandbox: Sandbox) -> object:
    return BessaClient(sandbox.token, base_url=sandbox.url, paths={"articles": "../x/"})


async def _day_end_before_start(client: BessaClient, _: Sandbox) -> object:
    return await client.reports.sales(
        start=datetime(2026, 6, 2, tzinfo=UTC), end=datetime(2026, 6, 1, tzinfo=UTC)
    )


async def _concurrency_zero(client: BessaClient, _: Sandbox) -> object:
    return client.receipts.list(concurrency=0)


async def _header_injection(client: BessaClient, _: Sandbox) -> object:
    return await client.request("GET", "articles/", headers={"X-Note": "a\r\nX-Evil: 1"})


def _point(sandbox: Sandbox) -> str:
    return str(next(p["id"] for p in sandbox.data.sales_points if p["status"] == "active"))


def _article(sandbox: Sandbox) -> str:
    return str(next(a["id"] for a in sandbox.data.articles if a["active"]))


async def _order_without_lines(client: BessaClient, sandbox: Sandbox) -> object:
    return await client.orders.submit(Order(sales_point=_point(sandbox), lines=[]))


async def _negative_quantity(client: BessaClient, sandbox: Sandbox) -> object:
    line = OrderLine(article=_article(sandbox), quantity=Decimal(-1))
    return await client.orders.submit(Order(sales_point=_point(sandbox), lines=[line]))


async def _float_payment(client: BessaClient, sandbox: Sandbox) -> object:
    payment = Payment(
        sales_point=_point(sandbox),
        order=str(uuid.uuid4()),
        payment_method=str(uuid.uuid4()),
        amount=19.8,  # type: ignore[arg-type]
    )
    return await client.payments.submit(payment)


async def _unknown_status_past_deadline(client: BessaClient, sandbox: Sandbox) -> object:
    line = OrderLine(article=_article(sandbox), quantity=Decimal(1))
    handle = await client.orders.submit(Order(sales_point=_point(sandbox), lines=[line]))
    sandbox.set_job_status(str(handle.id), "waiting_for_printer")
    return await handle.wait(timeout=30)


JUNE_1 = datetime(2026, 6, 1, tzinfo=UTC)
JUNE_2 = datetime(2026, 6, 2, tzinfo=UTC)
VIENNA = ZoneInfo("Europe/Vienna")
SECOND = timedelta(seconds=1)


def _receipts(**filters: Any) -> Action:
    async def listing(client: BessaClient, _: Sandbox) -> object:
        return client.receipts.list(**filters)

    return listing


def _articles(**filters: Any) -> Action:
    async def listing(client: BessaClient, _: Sandbox) -> object:
        return client.articles.list(**filters)

    return listing


def _orders(**filters: Any) -> Action:
    async def listing(client: BessaClient, _: Sandbox) -> object:
        return client.orders.list(**filters)

    return listing


def _any_receipts(**params: Any) -> Action:
    async def listing(client: BessaClient, _: Sandbox) -> object:
        return client.resource("receipts/").list(**params)

    return listing


def _sales(start: Any, end: Any) -> Action:
    async def report(client: BessaClient, _: Sandbox) -> object:
        return await client.reports.sales(start=start, end=end)

    return report


def _sales_in(tz: str) -> Action:
    async def report(client: BessaClient, _: Sandbox) -> object:
        return await client.reports.sales_for_day(date(2026, 6, 15), tz)

    return report


def _call(function: Callable[[], object]) -> Action:
    """A pure call that must refuse its input (no client method involved)."""

    async def call(_: BessaClient, __: Sandbox) -> object:
        return function()

    return call


def _request(method: str = "GET", path: str = "articles/", **options: Any) -> Action:
    async def send(client: BessaClient, _: Sandbox) -> object:
        return await client.request(method, path, **options)

    return send


def _with_token(token: object) -> Action:
    async def build(_: BessaClient, sandbox: Sandbox) -> object:
        return BessaClient(token, base_url=sandbox.url)  # type: ignore[arg-type]

    return build


async def _bad_key(client: BessaClient, sandbox: Sandbox) -> object:
    line = OrderLine(article=_article(sandbox), quantity=Decimal(1))
    order = Order(sales_point=_point(sandbox), lines=[line])
    return await client.orders.submit(order, idempotency_key="has a space")


async def _resume_junk(client: BessaClient, _: Sandbox) -> object:
    return client.jobs.resume("not-a-token")


async def _resume_number(client: BessaClient, _: Sandbox) -> object:
    return client.jobs.resume(5)  # type: ignore[arg-type]


async def _job_of_bad_id(client: BessaClient, _: Sandbox) -> object:
    return client.orders.job("order-1")


async def _wait_negative(client: BessaClient, _: Sandbox) -> object:
    return await client.orders.job(uuid.uuid4()).wait(timeout=-1)


async def _stock_level_get(client: BessaClient, _: Sandbox) -> object:
    return await client.stock_levels.get(uuid.uuid4())


async def _collect_negative(client: BessaClient, _: Sandbox) -> object:
    return await client.articles.list().collect(max_items=-1)


async def _cursor_and_concurrency(client: BessaClient, _: Sandbox) -> object:
    return client.receipts.list(
        timestamp__gte=JUNE_1, timestamp__lt=JUNE_2, cursor="abc", concurrency=2
    )


def _line(**fields: Any) -> Callable[[], object]:
    return lambda: OrderLine(**{"article": uuid.uuid4(), "quantity": Decimal(1), **fields})


def _payment(amount: object) -> Action:
    async def submit(client: BessaClient, sandbox: Sandbox) -> object:
        payment = Payment(
            sales_point=_point(sandbox),
            order=str(uuid.uuid4()),
            payment_method=str(uuid.uuid4()),
            amount=amount,  # type: ignore[arg-type]
        )
        return await client.payments.submit(payment)

    return submit


def _order_line(**fields: Any) -> Action:
    async def submit(client: BessaClient, sandbox: Sandbox) -> object:
        line = OrderLine(**{"article": _article(sandbox), "quantity": Decimal(1), **fields})
        return await client.orders.submit(Order(sales_point=_point(sandbox), lines=[line]))

    return submit


def _circular() -> dict[str, object]:
    body: dict[str, object] = {}
    body["self"] = body
    return body


def _view_headers(headers: Any) -> Action:
    async def view(client: BessaClient, _: Sandbox) -> object:
        return await client.with_options(headers=headers).request("GET", "articles/")

    return view


def _list_headers(headers: Any) -> Action:
    async def listing(client: BessaClient, _: Sandbox) -> object:
        return client.articles.list(extra_headers=headers)

    return listing


HUGE = 10**5000
"""An int whose text is over Python's 4,300-digit limit: even ``str()`` of it fails."""


ROWS = [
    Row("naive datetime", _receipts_naive, ValueError, "naive"),
    Row("date where a timestamp is needed", _receipts_date, ValueError, "business_day"),
    Row("float money", _get("receipts/", total=19.99), TypeError, "float"),
    Row("NaN Decimal", _get("receipts/", total=Decimal("NaN")), ValueError, "NaN|finite"),
    Row("infinite Decimal", _get("receipts/", total=Decimal("Infinity")), ValueError, "finite|Inf"),
    Row("float NaN", _get("receipts/", total=math.nan), TypeError, "float"),
    Row(
        "more than 2 decimals of money",
        _get("receipts/", total=Decimal("1.005")),
        ValueError,
        "2 decimal|two decimal|cents",
    ),
    Row("malformed UUID id", _bad_uuid, ValueError, "id must be a UUID"),
    Row(
        "malformed UUID filter",
        _bad_uuid_filter,
        ValueError,
        "sales_point must be a UUID, got 'till-1'",
    ),
    Row("blank token", _client(token="   "), ConfigurationError, "token"),
    Row("token with a newline", _client(token="abc\nX-Evil: 1"), ConfigurationError, "token"),
    Row(
        "http:// to a remote host",
        _client(token="t0k3n", base_url="http://api.example.com/v1/public/"),
        ConfigurationError,
        "http",
    ),
    Row("a next URL on another origin", _foreign_next, ForeignOriginError, "evil.example"),
    Row("a path with ..", _dot_dot, ValueError, r"'\.\.'"),
    Row("a resource path with ..", _bad_paths, ConfigurationError, "relative"),
    Row("an unknown filter keyword", _unknown_filter, TypeError, "timestamp_gte"),
    Row("limit=0", _limit_of(0), ValueError, "limit must be a positive integer"),
    Row("negative limit", _limit_of(-5), ValueError, "limit must be a positive integer"),
    Row("concurrency=0", _concurrency_zero, ValueError, "concurrency must be a positive integer"),
    Row("a header with a line break", _header_injection, ValueError, "line break"),
    Row(
        "a report window ending before it starts", _day_end_before_start, ValueError, "before start"
    ),
    Row(
        "a cycling cursor",
        _cycling,
        PaginationLoopError,
        "repeats a page",
        False,
        (Fault.cycle_next(), "receipts/"),
    ),
    Row(
        "an HTML 502",
        _no_retry("articles/"),
        ServerError,
        "502",
        False,
        (Fault.status(502, body="html"), "articles/"),
    ),
    Row(
        "an empty 200 body",
        _get("articles/"),
        DecodeError,
        "empty|not JSON|no body",
        False,
        (Fault.status(200, body="empty"), "articles/"),
    ),
    Row(
        "malformed JSON",
        _get("articles/"),
        DecodeError,
        "JSON",
        False,
        (Fault.malformed_json(), "articles/"),
    ),
    Row(
        "an HTML 200 (captive portal)",
        _get("articles/"),
        DecodeError,
        "text/html|JSON",
        False,
        (Fault.non_json(), "articles/"),
    ),
    Row(
        "Retry-After: 3600",
        _get("articles/"),
        RateLimitError,
        "3600|Retry-After",
        False,
        (Fault.rate_limit(retry_after=3600), "articles/"),
    ),
    Row("an order with no lines", _order_without_lines, ValueError, "lines needs at least 1"),
    Row("a negative quantity", _negative_quantity, ValueError, "quantity must be > 0, got -1"),
    Row("float money in a payment", _float_payment, TypeError, "amount is a float"),
    Row(
        "an unknown job status past the deadline",
        _unknown_status_past_deadline,
        JobTimeoutError,
        "30|deadline|timed out|still",
        False,
    ),
    # Strings and reversed windows for timestamps: the local-day pitfall, refused.
    Row(
        "a date string for a timestamp",
        _receipts(timestamp__gte="2026-06-01"),
        TypeError,
        "timestamp__gte.*aware datetime.*business_day",
    ),
    Row(
        "a naive ISO string for a timestamp",
        _receipts(timestamp__lt="2026-06-01T00:00:00"),
        TypeError,
        "timestamp__lt.*aware datetime",
    ),
    Row(
        "an ISO string with an offset for a timestamp",
        _receipts(timestamp__gte="2026-06-01T00:00:00+02:00"),
        TypeError,
        "fromisoformat",
    ),
    Row(
        "a string for a change window",
        _articles(updated__gte="2026-06-01"),
        TypeError,
        "updated__gte",
    ),
    Row(
        "a number for a timestamp",
        _receipts(timestamp__gte=1780000000),
        TypeError,
        "timestamp__gte",
    ),
    Row(
        "a reversed receipts window",
        _receipts(timestamp__gte=JUNE_2, timestamp__lt=JUNE_1),
        ValueError,
        r"timestamp__gte \(2026-06-02.*\) is after timestamp__lt \(2026-06-01",
    ),
    Row(
        "a reversed change window",
        _articles(updated__gte=JUNE_2, updated__lt=JUNE_1),
        ValueError,
        "updated__gte .* is after updated__lt",
    ),
    Row(
        "a reversed job window",
        _orders(created__gte=JUNE_2, created__lt=JUNE_1),
        ValueError,
        "created__gte .* is after created__lt",
    ),
    Row(
        "a reversed window in another zone",
        _receipts(timestamp__gte=JUNE_1, timestamp__lt=JUNE_1.astimezone(VIENNA) - SECOND),
        ValueError,
        "is after",
    ),
    Row(
        "a naive datetime in a job filter",
        _orders(created__gte=datetime(2026, 6, 1)),
        ValueError,
        "naive",
    ),
    Row(
        "a naive date string through resource()",
        _any_receipts(timestamp__gte="2026-06-01"),
        ValueError,
        "timestamp__gte.*no UTC offset.*business_day",
    ),
    Row(
        "a naive ISO string through resource()",
        _any_receipts(updated__lt="2026-06-01T10:00"),
        ValueError,
        "updated__lt.*offset",
    ),
    Row(
        "a reversed window through resource()",
        _any_receipts(timestamp__gte="2026-06-02T00:00:00+02:00", timestamp__lt=JUNE_1),
        ValueError,
        "is after",
    ),
    Row(
        "a string for a report's start",
        _sales("2026-06-01", JUNE_2),
        TypeError,
        "start.*aware datetime",
    ),
    Row("a naive report start", _sales(datetime(2026, 6, 1), JUNE_2), ValueError, "naive"),
    # Local input errors elsewhere: still ValueError / TypeError, and BessaErrors too.
    Row("a bad idempotency key", _bad_key, ValueError, "idempotency_key must be"),
    Row("not a job token", _resume_junk, ValueError, "not a job token"),
    Row("a job token that is not a str", _resume_number, TypeError, "job token is a str"),
    Row("a job id that is not a UUID", _job_of_bad_id, ValueError, "job id must be a UUID"),
    Row("a negative wait timeout", _wait_negative, ValueError, "timeout must be seconds"),
    Row("get() without a detail endpoint", _stock_level_get, TypeError, "no detail endpoint"),
    Row("collect(max_items=-1)", _collect_negative, ValueError, "max_items must not be negative"),
    Row("cursor= with concurrency=", _cursor_and_concurrency, ValueError, "cannot be combined"),
    Row("an empty cursor", _receipts(cursor=""), ValueError, "cursor must be a non-empty"),
    Row("a timeout of the wrong type", _request(timeout="5"), TypeError, "timeout must be"),
    Row("a negative timeout", _request(timeout=-1), ValueError, "total must be > 0"),
    Row(
        "an Authorization header",
        _request(headers={"Authorization": "Token x"}),
        ValueError,
        "set by the library",
    ),
    Row(
        "a set in a JSON body",
        _request("POST", "articles/", json={"a": {1}}),
        TypeError,
        "not JSON serialisable",
    ),
    Row(
        "a naive datetime in a JSON body",
        _request("POST", "articles/", json={"at": datetime(2026, 6, 1)}),
        ValueError,
        "naive",
    ),
    Row(
        "a NaN amount in a JSON body",
        _request("POST", "articles/", json={"total": Decimal("NaN")}),
        ValueError,
        "amount",
    ),
    Row(
        "retry= of the wrong type",
        _client(token="t0k3n", retry=3),
        TypeError,
        "retry must be a RetryPolicy",
    ),
    Row(
        "max_in_flight=0",
        _client(token="t0k3n", max_in_flight=0),
        ConfigurationError,
        "max_in_flight",
    ),
    Row(
        "hooks= of the wrong type",
        _client(token="t0k3n", hooks={"on_request": print}),
        TypeError,
        "hooks must be a bessa_async.Hooks",
    ),
    Row(
        "a hook that is not a function",
        _call(lambda: Hooks(on_retry="print")),  # type: ignore[arg-type]
        TypeError,
        "Hooks.on_retry must be a function",
    ),
    Row(
        "trace_configs= of the wrong type",
        _client(token="t0k3n", trace_configs=["not a TraceConfig"]),
        TypeError,
        "trace_configs must be a list of aiohttp.TraceConfig",
    ),
    Row(
        "RetryPolicy(attempts=0)",
        _call(lambda: RetryPolicy(attempts=0)),
        ValueError,
        "attempts must be >= 1",
    ),
    Row(
        "RetryPolicy(max_backoff=0)",
        _call(lambda: RetryPolicy(max_backoff=0)),
        ValueError,
        "max_backoff must be > 0",
    ),
    Row(
        "Timeout(connect=-1)", _call(lambda: Timeout(connect=-1)), ValueError, "connect must be > 0"
    ),
    Row(
        "PollPolicy(jitter=1)",
        _call(lambda: PollPolicy(jitter=1)),
        ValueError,
        "jitter must be < 1",
    ),
    Row(
        "PollPolicy(initial=-1)",
        _call(lambda: PollPolicy(initial=-1)),
        ValueError,
        "initial must be a number >= 0",
    ),
    Row("to_dict() of a non-model", _call(lambda: to_dict(5)), TypeError, "takes a model"),
    Row(
        "business_day() of a datetime",
        _call(lambda: business_day(JUNE_1)),
        TypeError,
        "not a datetime",
    ),
    Row(
        "business_days() reversed",
        _call(lambda: business_days(date(2026, 6, 2), date(2026, 6, 1))),
        ValueError,
        "is before first",
    ),
    Row(
        "a quantity with 4 decimals",
        _call(_line(quantity=Decimal("1.0005"))),
        ValueError,
        "more than 3 decimals",
    ),
    Row("a blank note", _call(_line(note="  ")), ValueError, "note must not be blank"),
    Row("a note that is not a str", _call(_line(note=5)), TypeError, "note must be a str"),
    Row(
        "options that are not a list",
        _call(_line(options="x")),
        TypeError,
        "options must be a list",
    ),
    Row(
        "a unit price that is not a number",
        _call(_line(unit_price="1.50")),
        TypeError,
        "unit_price must be a decimal.Decimal",
    ),
    # Money and quantities beyond any sale: refused where the value is made.
    Row(
        "an amount of 10**27",
        _payment(10**27),
        ValueError,
        "amount has 28 digits before the decimal point; at most 12",
    ),
    Row("an amount over 4,300 digits", _payment(HUGE), ValueError, "amount has 5001 digits"),
    Row(
        "a unit price of 10**27",
        _order_line(unit_price=Decimal(10**27)),
        ValueError,
        "unit_price has 28 digits",
    ),
    Row(
        "a quantity of 1e29",
        _order_line(quantity=Decimal("1e29")),
        ValueError,
        "quantity has 30 digits.*at most 9",
    ),
    Row("a quantity of True", _order_line(quantity=True), TypeError, "quantity must be a decimal"),
    Row(
        "an option quantity of 1e12",
        _call(lambda: OrderOption(option=uuid.uuid4(), quantity=Decimal("1e12"))),
        ValueError,
        "quantity has 13 digits",
    ),
    # JSON bodies that cannot be encoded.
    Row(
        "an int over 4,300 digits in a JSON body",
        _request("POST", "articles/", json={"n": HUGE}),
        ValueError,
        "4,300 digits",
    ),
    Row(
        "an int over 4,300 digits in a query parameter",
        _request("GET", "articles/", params={"n": HUGE}),
        ValueError,
        "parameter 'n' is an int of more than 4,300 digits",
    ),
    Row(
        "a float NaN in a JSON body",
        _request("POST", "articles/", json={"x": math.nan}),
        ValueError,
        "JSON body cannot be sent.*Out of range",
    ),
    Row(
        "a circular JSON body",
        _request("POST", "articles/", json=_circular()),
        ValueError,
        "JSON body cannot be sent.*Circular",
    ),
    Row(
        "a tuple key in a JSON body",
        _request("POST", "articles/", json={(1, 2): 1}),
        TypeError,
        "JSON body cannot be sent.*keys must be",
    ),
    # Methods and headers that are not HTTP, and headers the library sets itself.
    Row("a method with a space", _request("G ET"), ValueError, "'G ET' is not an HTTP method"),
    Row(
        "a parameter name that is not a str",
        _request(params={1: "a"}),
        TypeError,
        "parameter names must be str, got int",
    ),
    Row("a method that is not a str", _request(5), TypeError, "method must be a str"),  # type: ignore[arg-type]
    Row(
        "a header value with a NUL",
        _request(headers={"X-Note": "a\x00b"}),
        ValueError,
        "X-Note.*control character",
    ),
    Row(
        "a header value with an escape character",
        _request(headers={"X-Note": "a\x1b[31m"}),
        ValueError,
        "control character",
    ),
    Row(
        "a header value that is not a str",
        _request(headers={"X-Count": 5}),
        TypeError,
        "'X-Count' must be a str, got a int",
    ),
    Row(
        "a header name with a space",
        _request(headers={"X Note": "a"}),
        ValueError,
        "header name 'X Note'",
    ),
    *(
        Row(
            f"{name} in request(headers=)",
            _request(headers={name: value}),
            ValueError,
            f"request\\(headers=\\): header '{name}' is set by the library",
        )
        for name, value in [
            ("Transfer-Encoding", "chunked"),
            ("Idempotency-Key", str(uuid.UUID(int=1))),
            ("User-Agent", "curl/8"),
            ("accept", "text/html"),
            ("Content-Type", "text/plain"),
            ("Content-Length", "0"),
            ("Host", "evil.example"),
            ("Connection", "close"),
        ]
    ),
    Row(
        "a view header with a control character",
        _view_headers({"X-Note": "a\x07"}),
        ValueError,
        "with_options\\(headers=\\).*control character",
    ),
    Row(
        "a view Transfer-Encoding header",
        _view_headers({"Transfer-Encoding": "chunked"}),
        ValueError,
        "set by the library",
    ),
    Row(
        "a listing's header value that is not a str",
        _list_headers({"X-Count": b"5"}),
        TypeError,
        "must be a str, got a bytes",
    ),
    # Tokens that cannot be a token: refused before sending, never shown.
    Row("an empty token", _with_token(""), ConfigurationError, "blank"),
    Row("a token that is not a str", _with_token(12345), ConfigurationError, "must be a str"),
    Row(
        "a 'Token ' prefix",
        _with_token("Token 5f3c9a"),
        ConfigurationError,
        "without the 'Token ' prefix",
        secret="5f3c9a",
    ),
    Row(
        "a 'Bearer ' prefix",
        _with_token("Bearer 5f3c9a"),
        ConfigurationError,
        "without the 'Bearer ' prefix.*Token",
        secret="5f3c9a",
    ),
    Row(
        "a token with a space inside",
        _with_token("5f3c 9a1b"),
        ConfigurationError,
        "whitespace",
        secret="5f3c 9a1b",
    ),
    Row(
        "a token with a tab inside",
        _with_token("5f3c\t9a1b"),
        ConfigurationError,
        "whitespace",
        secret="5f3c\t9a1b",
    ),
    Row(
        "a token with a control character",
        _with_token("5f3c\x009a1b"),
        ConfigurationError,
        "control character",
        secret="5f3c\x009a1b",
    ),
    Row(
        "a token with a DEL character",
        _with_token("5f3c\x7f9a1b"),
        ConfigurationError,
        "control character",
        secret="5f3c\x7f9a1b",
    ),
    Row(
        "a non-ASCII token",
        _with_token("5f3c9\u00e41b"),
        ConfigurationError,
        "non-ASCII",
        secret="5f3c9\u00e41b",
    ),
    Row(
        "an absurdly long token",
        _with_token("a" * 5000),
        ConfigurationError,
        "5000 characters",
        secret="a" * 5000,
    ),
]


async def _run(row: Row, client: BessaClient, sandbox: Sandbox) -> None:
    made = await row.action(client, sandbox)
    if hasattr(made, "collect"):  # a listing refused lazily would only fail here
        await made.collect()


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
async def test_bad_input(row: Row, sandbox: Sandbox, client: BessaClient, clock: FakeClock) -> None:
    """The exact error class, a message naming the problem, nothing sent where it applies."""
    if row.fault is not None:
        sandbox.inject(row.fault[0], path=row.fault[1])
    with pytest.raises(row.error, match=row.message) as info:
        await _run(row, client, sandbox)
    assert isinstance(info.value, BessaError), "a web backend's `except BessaError` misses it"
    if row.error is ValueError:
        assert isinstance(info.value, InvalidValueError)
    elif row.error is TypeError:
        assert isinstance(info.value, InvalidTypeError)
    if row.sends_nothing:
        assert sandbox.requests == []
    text = f"{info.value} {info.value!r} {info.value.args!r}"
    for token in (sandbox.token, sandbox.other_token, sandbox.restricted_token, row.secret):
        assert token is None or token not in text
    assert clock.slept < 61  # nothing slept through an hour-long Retry-After


def test_the_table_has_at_least_80_rows() -> None:
    """The table covers at least 80 kinds of bad input."""
    assert len(ROWS) >= 80
