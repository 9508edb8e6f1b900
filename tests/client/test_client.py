"""The session layer against the sandbox over loopback: conventions, errors, retries, time."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from datetime import datetime, timedelta, timezone
from typing import Literal
from urllib.parse import parse_qsl

import aiohttp
import pytest
from yarl import URL

from bessa_async import (
    APIError,
    AuthenticationError,
    BessaClient,
    BessaError,
    ClientClosedError,
    ConfigurationError,
    ConnectError,
    DecodeError,
    ForeignOriginError,
    Hooks,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeout,
    RetryPolicy,
    ServerError,
    Timeout,
    TransportError,
    ValidationError,
)
from bessa_async._instrument.events import REDACTED
from bessa_async.hooks import RateLimitedEvent, RequestEvent
from bessa_async.testing import FakeClock, Fault, Sandbox

VIENNA_SUMMER = timezone(timedelta(hours=2))


def _paths(sandbox: Sandbox) -> list[str]:
    return [r.path for r in sandbox.requests]


# --- construction and the token ---------------------------------------------------------


def test_missing_token_fails_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token argument and no BESSA_TOKEN: a ConfigurationError that says where to put it."""
    monkeypatch.delenv("BESSA_TOKEN", raising=False)
    with pytest.raises(ConfigurationError, match="BESSA_TOKEN"):
        BessaClient()


@pytest.mark.parametrize(
    ("token", "message"),
    [("", "blank"), ("   ", "blank"), ("abc\r\nX-Evil: 1", "line breaks"), ("Token abc", "prefix")],
)
def test_bad_tokens_are_refused(token: str, message: str) -> None:
    """Blank tokens, header injection and a pasted 'Token ' prefix are refused up front."""
    with pytest.raises(ConfigurationError, match=message) as info:
        BessaClient(token)
    assert "abc" not in str(info.value)


async def test_token_from_environment(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    """BESSA_TOKEN is used when no token is passed."""
    monkeypatch.setenv("BESSA_TOKEN", sandbox.token)
    async with BessaClient(base_url=sandbox.url) as client:
        await client.request("GET", "companies/")
    assert sandbox.requests[-1].authenticated_as == "tenant-a"


def test_remote_plain_http_is_refused() -> None:
    """The token never travels unencrypted to a remote host unless explicitly allowed."""
    with pytest.raises(ConfigurationError, match="plain http"):
        BessaClient("secret-token", base_url="http://api.diekasse.app/v1/public/")


async def test_token_is_never_shown(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    """Not in repr, not in log lines, not in error messages, not in the sandbox's log."""
    caplog.set_level(logging.DEBUG, logger="bessa_async")
    async with BessaClient(sandbox.token, base_url=sandbox.url) as client:
        assert sandbox.token not in repr(client)
        await client.request("GET", "companies/")
        with pytest.raises(NotFoundError) as missing:
            await client.request("GET", "nowhere/")
    async with BessaClient(sandbox.token + "x", base_url=sandbox.url) as wrong:
        with pytest.raises(AuthenticationError) as auth:
            await wrong.request("GET", "companies/")
    for text in (str(missing.value), repr(missing.value), str(auth.value), repr(auth.value)):
        assert sandbox.token not in text
    assert caplog.records, "expected debug lines per attempt"
    assert all(sandbox.token not in r.getMessage() for r in caplog.records)
    assert all(sandbox.token not in str(r.headers) for r in sandbox.requests)


# --- conventions ----------------------------------------------------------------------


async def test_get_returns_decoded_json_with_token_auth(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """A GET carries 'Authorization: Token ...' and returns the decoded page."""
    page = await client.request("GET", "articles/", params={"limit": 10})
    assert set(page) >= {"count", "next", "previous", "results"}
    assert len(page["results"]) == 10
    [seen] = sandbox.requests
    assert seen.authenticated_as == "tenant-a"
    assert seen.method == "GET"
    assert seen.path == "articles/"
    assert ("limit", "10") in seen.query
    assert seen.headers["User-Agent"].startswith("bessa-async/")
    assert seen.headers["Accept"] == "application/json"


async def test_offset_plus_travels_as_percent_2b(client: BessaClient, sandbox: Sandbox) -> None:
    """An aware +02:00 timestamp arrives intact, so the server filters the intended window."""
    start = datetime(2026, 6, 15, 0, 0, tzinfo=VIENNA_SUMMER)
    end = start + timedelta(days=1)
    page = await client.request(
        "GET",
        "receipts/",
        params={"timestamp__gte": start, "timestamp__lt": end, "limit": 500},
    )
    assert "%2B02:00" in sandbox.requests[-1].raw_query
    stamps = [datetime.fromisoformat(r["timestamp"]) for r in page["results"]]
    assert stamps, "the seeded data has receipts on 15 June"
    assert all(start <= s < end for s in stamps)


async def test_following_next_urls_on_the_same_origin(client: BessaClient) -> None:
    """Absolute next URLs from the API are followed; every item comes once."""
    seen: list[str] = []
    page = await client.request("GET", "articles/", params={"limit": 7})
    total = page["count"]
    while True:
        seen.extend(item["id"] for item in page["results"])
        if page["next"] is None:
            break
        page = await client.request("GET", page["next"])
    assert len(seen) == len(set(seen)) == total


async def test_foreign_absolute_url_is_refused_before_sending(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """A URL on another origin would carry the token: refused, nothing sent."""
    with pytest.raises(ForeignOriginError):
        await client.request("GET", "https://evil.example/v1/public/receipts/?cursor=abc")
    base = URL(sandbox.url)
    assert base.port is not None
    with pytest.raises(ForeignOriginError):
        await client.request("GET", str(base.with_port(base.port + 1) / "receipts/"))
    assert sandbox.requests == []


async def test_missing_trailing_slash_follows_the_redirect(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """DRF redirects GET 'articles' to 'articles/'; the client follows on the same origin."""
    page = await client.request("GET", "articles", params={"limit": 1})
    assert len(page["results"]) == 1
    assert _paths(sandbox) == ["articles", "articles/"]


async def test_bad_input_sends_nothing(client: BessaClient, sandbox: Sandbox) -> None:
    """A naive datetime is refused before a request is made."""
    with pytest.raises(ValueError, match="naive"):
        await client.request("GET", "receipts/", params={"timestamp__gte": datetime(2026, 6, 1)})
    assert sandbox.requests == []


# --- the error tree against real answers ------------------------------------------------


async def test_invalid_filter_is_a_validation_error(client: BessaClient) -> None:
    """A bad filter value answers 400 with a field map, kept on the error."""
    with pytest.raises(ValidationError) as info:
        await client.request("GET", "receipts/", params={"timestamp__gte": "yesterday"})
    assert info.value.status == 400
    assert "timestamp__gte" in info.value.errors
    assert info.value.method == "GET"
    assert info.value.path == "receipts/"


async def test_wrong_token_is_an_authentication_error(sandbox: Sandbox) -> None:
    """401 with DRF's detail; not retried."""
    async with BessaClient("not-a-real-token", base_url=sandbox.url) as client:
        with pytest.raises(AuthenticationError, match="Invalid token"):
            await client.request("GET", "articles/")
    assert len(sandbox.requests) == 1


async def test_restricted_token_is_permission_denied(sandbox: Sandbox) -> None:
    """A valid token without rights to receipts gets 403."""
    async with BessaClient(sandbox.restricted_token, base_url=sandbox.url) as client:
        await client.request("GET", "articles/")
        with pytest.raises(PermissionDeniedError, match="permission"):
            await client.request("GET", "receipts/")


async def test_unknown_path_and_method(client: BessaClient) -> None:
    """404 is NotFoundError; 405 stays a plain APIError with DRF's detail."""
    with pytest.raises(NotFoundError, match="No Article matches the given query"):
        await client.request("GET", "articles/00000000-0000-0000-0000-000000000000/")
    with pytest.raises(APIError, match='Method "DELETE" not allowed') as info:
        await client.request("DELETE", "articles/")
    assert info.value.status == 405


@pytest.mark.parametrize("body", ["json", "html", "empty"])
async def test_server_errors_in_any_body(
    client: BessaClient, sandbox: Sandbox, body: Literal["json", "html", "empty"]
) -> None:
    """5xx is a ServerError whether the body is JSON, a proxy's HTML page or empty."""
    sandbox.inject(Fault.status(502, body=body), path="articles/")
    with pytest.raises(ServerError) as info:
        await client.request("GET", "articles/", retry=RetryPolicy.disabled())
    assert info.value.status == 502


_NOT_JSON = [
    (Fault.truncated_json(), "not valid JSON"),
    (Fault.malformed_json(), "not valid JSON"),
    (Fault.non_json(content_type="text/html"), "expected JSON"),
    (Fault.status(200, body="empty"), "empty body"),
]


@pytest.mark.parametrize(("fault", "message"), _NOT_JSON)
async def test_non_json_success_is_a_decode_error(
    client: BessaClient, sandbox: Sandbox, fault: Fault, message: str
) -> None:
    """A 2xx that stays not JSON raises DecodeError with a snippet once the attempts are
    spent, never a raw exception."""
    sandbox.inject(fault, path="articles/")
    with pytest.raises(DecodeError, match=message) as info:
        await client.request("GET", "articles/")
    assert info.value.status == 200
    assert len(sandbox.requests) == client.retry.attempts


@pytest.mark.parametrize(("fault", "message"), _NOT_JSON)
async def test_a_read_is_retried_after_a_2xx_that_is_not_json(
    client: BessaClient, sandbox: Sandbox, clock: FakeClock, fault: Fault, message: str
) -> None:
    """A cut JSON body, a portal's HTML or an empty 200 is transient for a read, like a 503:
    retried after a jittered wait, then the good answer."""
    sandbox.inject(fault, path="articles/", times=1)
    page = await client.request("GET", "articles/")
    assert page["results"]
    assert _paths(sandbox) == ["articles/", "articles/"]
    [wait] = clock.sleeps
    assert 0.0 <= wait <= client.retry.initial_backoff


async def test_a_2xx_that_is_not_json_is_retried_within_the_deadline(
    client: BessaClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    """The retries of a broken body stop at the call's deadline: DecodeError, not a timeout."""
    sandbox.inject(Fault.truncated_json(), path="articles/")
    patient = RetryPolicy(attempts=100, initial_backoff=1.0, max_backoff=1.0)
    with pytest.raises(DecodeError):
        await client.request("GET", "articles/", retry=patient, timeout=Timeout(total=5.0))
    assert clock.now < 5.0
    assert 2 <= len(sandbox.requests) < 100


# --- retries --------------------------------------------------------------------------


async def test_get_is_retried_after_a_503(
    client: BessaClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    """One 503, then success: two requests, one jittered wait within the first bound."""
    sandbox.inject(Fault.status(503), path="articles/", times=1)
    page = await client.request("GET", "articles/")
    assert page["results"]
    assert _paths(sandbox) == ["articles/", "articles/"]
    [wait] = clock.sleeps
    assert 0.0 <= wait <= client.retry.initial_backoff


async def test_get_gives_up_after_the_attempts(
    client: BessaClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    """A persistent 503 ends with the ServerError after RetryPolicy.attempts tries."""
    sandbox.inject(Fault.status(503, body="html"), path="articles/")
    with pytest.raises(ServerError):
        await client.request("GET", "articles/")
    assert len(sandbox.requests) == client.retry.attempts
    assert len(clock.sleeps) == client.retry.attempts - 1
    for number, wait in enumerate(clock.sleeps, start=1):
        assert 0.0 <= wait <= client.retry.backoff_bound(number)


@pytest.mark.parametrize("fault", [Fault.drop(), Fault.truncate()])
async def test_get_survives_a_dropped_or_truncated_answer(
    client: BessaClient, sandbox: Sandbox, fault: Fault
) -> None:
    """A connection lost mid-answer is transient for a read: retried, then success."""
    sandbox.inject(fault, path="articles/", times=1)
    page = await client.request("GET", "articles/")
    assert page["results"]
    assert len(sandbox.requests) == 2


@pytest.mark.parametrize(
    "fault", [Fault.status(503), Fault.status(502, body="html"), Fault.drop(after_handler=True)]
)
async def test_post_is_not_retried_when_it_may_have_landed(
    client: BessaClient, sandbox: Sandbox, fault: Fault
) -> None:
    """A 5xx or a dropped connection after sending may hide a processed write: raise at once."""
    sandbox.inject(fault, path="requests/orders/", method="POST")
    with pytest.raises((ServerError, TransportError)) as info:
        await client.request("POST", "requests/orders/", json={"lines": []})
    assert len(sandbox.requests) == 1
    if isinstance(info.value, TransportError):
        assert info.value.request_sent


async def test_post_is_retried_after_a_429(
    client: BessaClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    """A 429 proves the write was not processed: it is retried after Retry-After."""
    sandbox.inject(Fault.rate_limit(retry_after=2), path="requests/orders/", times=1)
    with pytest.raises(ValidationError):  # the retry reaches the handler, which validates
        await client.request("POST", "requests/orders/", json={"lines": []})
    assert [r.method for r in sandbox.requests] == ["POST", "POST"]
    assert clock.sleeps == [2.0]


async def test_connection_refused_is_retried_even_for_post(clock: FakeClock) -> None:
    """Nothing was sent when the connection is refused, so a write may be retried too."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with BessaClient(
        "token", base_url=f"http://127.0.0.1:{port}/v1/public/", clock=clock, sleep=clock.sleep
    ) as client:
        with pytest.raises(ConnectError) as info:
            await client.request("POST", "requests/orders/", json={})
    assert isinstance(info.value, OSError)
    assert not info.value.request_sent
    assert len(clock.sleeps) == client.retry.attempts - 1


async def test_retry_after_beyond_the_cap_raises_at_once(
    client: BessaClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    """Retry-After: 3600 is not slept through: RateLimitError says how long to wait."""
    sandbox.inject(Fault.rate_limit(retry_after=3600), path="articles/")
    with pytest.raises(RateLimitError) as info:
        await client.request("GET", "articles/")
    assert info.value.retry_after == 3600
    assert clock.sleeps == []
    assert len(sandbox.requests) == 1


async def test_retry_after_as_http_date_is_honoured(
    client: BessaClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    """An HTTP-date Retry-After in the past means: retry now."""
    sandbox.inject(
        Fault.status(503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT"), path="articles/", times=1
    )
    await client.request("GET", "articles/")
    assert clock.sleeps == [0.0]


# --- time -------------------------------------------------------------------------------


async def test_one_deadline_covers_attempts_and_waits(sandbox: Sandbox, clock: FakeClock) -> None:
    """With a 30 s deadline and Retry-After 20, the second wait would pass it: stop there."""
    sandbox.inject(Fault.status(503, retry_after=20), path="articles/")
    async with BessaClient(
        sandbox.token, base_url=sandbox.url, timeout=30, clock=clock, sleep=clock.sleep
    ) as client:
        with pytest.raises(ServerError):
            await client.request("GET", "articles/")
    assert clock.sleeps == [20.0]
    assert len(sandbox.requests) == 2


async def test_a_slow_answer_hits_the_deadline(sandbox: Sandbox) -> None:
    """A server slower than the call's deadline gives RequestTimeout, also a TimeoutError."""
    sandbox.inject(Fault.latency(5.0), path="articles/")
    async with BessaClient(sandbox.token, base_url=sandbox.url, timeout=0.2) as client:
        with pytest.raises(RequestTimeout, match="deadline") as info:
            await client.request("GET", "articles/")
    assert isinstance(info.value, TimeoutError)


async def test_per_call_timeout_overrides_the_client(sandbox: Sandbox) -> None:
    """timeout= on a call replaces the client's for that call only."""
    sandbox.inject(Fault.latency(5.0), path="articles/", times=1)
    async with BessaClient(sandbox.token, base_url=sandbox.url, timeout=60) as client:
        with pytest.raises(RequestTimeout):
            await client.request("GET", "articles/", timeout=Timeout(total=0.2))
        await client.request("GET", "companies/")


async def test_a_429_pauses_every_request_of_the_client(
    client: BessaClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    """After a 429 with Retry-After, other requests wait too instead of hammering the API."""
    sandbox.inject(Fault.rate_limit(retry_after=5), path="articles/", times=1)
    with pytest.raises(RateLimitError):
        await client.request("GET", "articles/", retry=RetryPolicy.disabled())
    await client.request("GET", "companies/")
    assert clock.sleeps == [5.0]
    assert _paths(sandbox) == ["articles/", "companies/"]


async def test_concurrent_requests_share_the_gate(
    client: BessaClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    """Concurrent calls all pass the gate after the one 429 and all succeed."""
    sandbox.inject(Fault.rate_limit(retry_after=3), path="articles/", times=1)
    pages = await asyncio.gather(*(client.request("GET", "articles/") for _ in range(5)))
    assert len(pages) == 5
    assert clock.now >= 3.0


# --- sessions, limits and lifecycle ------------------------------------------------------


async def test_in_flight_limit_bounds_connections(sandbox: Sandbox) -> None:
    """With a borrowed, unlimited session, max_in_flight still caps parallel requests."""
    sandbox.inject(Fault.latency(0.05), path="articles/")
    unlimited = aiohttp.TCPConnector(limit=0)
    async with (
        aiohttp.ClientSession(connector=unlimited) as session,
        BessaClient(
            sandbox.token, base_url=sandbox.url, session=session, max_in_flight=2
        ) as client,
    ):
        await asyncio.gather(*(client.request("GET", "articles/") for _ in range(8)))
    assert len(sandbox.requests) == 8
    assert sandbox.connections_opened <= 2


async def test_borrowed_session_is_not_closed(sandbox: Sandbox) -> None:
    """A session passed in belongs to the caller and stays open after aclose()."""
    async with aiohttp.ClientSession() as session:
        client = BessaClient(sandbox.token, base_url=sandbox.url, session=session)
        await client.request("GET", "companies/")
        await client.aclose()
        assert client.closed
        assert not session.closed


async def test_owned_session_is_closed_and_client_refuses_more_work(sandbox: Sandbox) -> None:
    """aclose() is idempotent; a closed client says so instead of failing obscurely."""
    client = BessaClient(sandbox.token, base_url=sandbox.url)
    await client.request("GET", "companies/")
    await client.aclose()
    await client.aclose()
    with pytest.raises(ClientClosedError, match="closed") as info:
        await client.request("GET", "companies/")
    assert isinstance(info.value, BessaError)
    assert isinstance(info.value, RuntimeError)  # what `except RuntimeError` caught before


def _forget(holder: list[BessaClient]) -> None:
    holder.clear()  # the last reference (the resources' back-references form a cycle)
    gc.collect()


async def test_unclosed_client_warns(sandbox: Sandbox) -> None:
    """A client dropped with its session open emits a ResourceWarning naming it."""
    client = BessaClient(sandbox.token, base_url=sandbox.url)
    await client.__aenter__()
    # Keep the aiohttp session alive so that only our finaliser speaks; closed below.
    session = client._sender._connection.session
    assert session is not None
    holder = [client]
    del client
    with pytest.warns(ResourceWarning) as record:
        _forget(holder)
    assert any("unclosed <BessaClient" in str(w.message) for w in record)
    await session.close()


async def test_one_debug_line_per_attempt(
    client: BessaClient, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Each attempt logs method, path, outcome, attempt number and elapsed time."""
    caplog.set_level(logging.DEBUG, logger="bessa_async")
    sandbox.inject(Fault.status(503), path="articles/", times=1)
    await client.request("GET", "articles/", params={"limit": 2})
    lines = [r.getMessage() for r in caplog.records if r.name == "bessa_async"]
    assert len(lines) == 2
    assert lines[0].startswith("GET articles/?limit=2 -> 503 (attempt 1, ")
    assert lines[1].startswith("GET articles/?limit=2 -> 200 (attempt 2, ")


async def test_debug_lines_redact_filter_values_as_the_hooks_do(
    sandbox: Sandbox, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A filter value never reaches a log line: the query is the one hook events carry (values
    kept only for cursors, page sizes and time bounds), redacted by the same function."""
    requests: list[RequestEvent] = []
    caplog.set_level(logging.DEBUG, logger="bessa_async")
    params = {
        "name": "secret-filter-value",
        "reference": "Müller & Söhne",
        "limit": 2,
        "updated__gte": "2026-06-01T00:00:00+00:00",
    }
    async with BessaClient(
        sandbox.token,
        base_url=sandbox.url,
        clock=clock,
        sleep=clock.sleep,
        hooks=Hooks(on_request=requests.append),
    ) as client:
        await client.request("GET", "articles/", params=params)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "bessa_async"]
    for value in ("secret", "Müller", "M%C3%BCller"):
        assert value not in line
    target = line.split(" ")[1]
    assert target.startswith("articles/?")
    logged = tuple(parse_qsl(target.split("?", 1)[1]))
    assert logged == requests[0].query
    assert dict(logged) == {
        "name": REDACTED,
        "reference": REDACTED,
        "limit": "2",
        "updated__gte": "2026-06-01T00:00:00+00:00",
    }


# --- one cap for every wait a server imposes ------------------------------------------------


@pytest.mark.parametrize("retry_after", ["3600", "1e9"])
@pytest.mark.parametrize("total", [60.0, None])
async def test_a_5xx_retry_after_beyond_the_cap_raises_at_once(
    sandbox: Sandbox, clock: FakeClock, retry_after: str, total: float | None
) -> None:
    """A 503 asking for an hour (or 1e9 s) is not slept through, with or without a deadline:
    ServerError at once, as a 429 beyond max_retry_after."""
    sandbox.inject(Fault.status(503, retry_after=retry_after), path="articles/")
    async with BessaClient(
        sandbox.token,
        base_url=sandbox.url,
        timeout=Timeout(total=total),
        clock=clock,
        sleep=clock.sleep,
    ) as client:
        with pytest.raises(ServerError) as info:
            await client.request("GET", "articles/")
    assert info.value.retry_after == float(retry_after)
    assert clock.sleeps == []
    assert len(sandbox.requests) == 1


@pytest.mark.parametrize("retry_after", ["1e12", "Fri, 01 Jan 2099 00:00:00 GMT"])
async def test_a_huge_429_pauses_the_client_no_longer_than_the_cap(
    sandbox: Sandbox, clock: FakeClock, retry_after: str
) -> None:
    """One 429 asking for 1e12 s (or until 2099) fails its call at once and pauses the client
    for max_retry_after at most (as its event says): the next call waits that long, then goes
    through."""
    sandbox.inject(Fault.rate_limit(retry_after=retry_after), path="articles/", times=1)
    paused: list[RateLimitedEvent] = []
    async with BessaClient(
        sandbox.token,
        base_url=sandbox.url,
        clock=clock,
        sleep=clock.sleep,
        hooks=Hooks(on_rate_limited=paused.append),
    ) as client:
        with pytest.raises(RateLimitError):
            await client.request("GET", "articles/")
        assert clock.sleeps == []
        assert [event.wait for event in paused] == [client.retry.max_retry_after]
        await client.request("GET", "companies/", timeout=120)  # a deadline beyond the pause
    assert clock.sleeps == [client.retry.max_retry_after]
    assert _paths(sandbox) == ["articles/", "companies/"]
