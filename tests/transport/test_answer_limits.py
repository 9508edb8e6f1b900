"""An answer is read no further than ``max_answer_bytes``, counted decompressed, and an error
answer no further than ``ERROR_BODY_LIMIT``: a gzip bomb or an endless body costs bounded
memory. Memory is measured with tracemalloc, never with time."""

from __future__ import annotations

import functools
import json
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from scripted_server import JSON, Scripted, ScriptedServer, gzip_bomb, repeated, scripted_server

from bessa_async import (
    DEFAULT_MAX_ANSWER_BYTES,
    BessaClient,
    BessaError,
    ConfigurationError,
    DecodeError,
    NotFoundError,
    Order,
    OrderLine,
    RetryPolicy,
    ServerError,
)
from bessa_async._base.errors import ERROR_BODY_LIMIT
from bessa_async.testing import FakeClock, Sandbox

MiB = 1 << 20
LIMIT = 1 * MiB
HUGE = 64 * MiB
GZIP = {"Content-Encoding": "gzip"}


@functools.cache
def _bomb() -> bytes:
    return gzip_bomb(HUGE)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    async with scripted_server() as scripted:
        yield scripted


def _client(server: ScriptedServer, **options: Any) -> BessaClient:
    clock = FakeClock()
    return BessaClient(
        "t0ken",
        base_url=server.url,
        clock=clock,
        sleep=clock.sleep,
        retry=RetryPolicy.disabled(),
        **options,
    )


async def _peak(call: Callable[[], Awaitable[object]]) -> tuple[BaseException, int]:
    """The error ``call`` raised and the peak of memory allocated while it ran."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        with pytest.raises(BessaError) as caught:
            await call()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return caught.value, peak


async def test_a_gzip_bomb_is_refused_after_the_limit_without_inflating_it(
    server: ScriptedServer,
) -> None:
    bomb = _bomb()
    assert len(bomb) * 500 < HUGE  # a small answer on the wire
    server.scripts["/api/articles/"] = Scripted.body(bomb, headers=GZIP)
    async with _client(server, max_answer_bytes=LIMIT) as client:
        error, peak = await _peak(lambda: client.request("GET", "articles/"))
    assert isinstance(error, DecodeError)
    assert error.status == 200
    assert "max_answer_bytes=1,048,576" in str(error)
    assert "GET articles/ -> 200" in str(error)
    assert peak < 8 * LIMIT  # inflated whole, it would be 64 times the limit


async def test_an_endless_body_is_read_up_to_the_limit_only(server: ScriptedServer) -> None:
    server.scripts["/api/articles/"] = Scripted(200, dict(JSON), repeated(b" " * 65536, HUGE))
    async with _client(server, max_answer_bytes=LIMIT) as client:
        error, peak = await _peak(lambda: client.request("GET", "articles/"))
    assert isinstance(error, DecodeError)
    assert peak < 8 * LIMIT
    assert server.sent_bytes < HUGE // 2  # the client hung up instead of reading on


async def test_an_error_body_keeps_a_bounded_prefix(server: ScriptedServer) -> None:
    endless = repeated(b"x" * 65536, 50 * MiB, head=b'{"detail": "', tail=b'"}')
    server.scripts["/api/articles/1/"] = Scripted(404, dict(JSON), endless)
    server.scripts["/api/articles/2/"] = Scripted.body(_bomb(), 502, GZIP)
    async with _client(server) as client:
        error, peak = await _peak(lambda: client.request("GET", "articles/1/"))
        assert isinstance(error, NotFoundError)
        assert error.body == b'{"detail": "' + b"x" * (ERROR_BODY_LIMIT - 12)
        assert peak < 8 * MiB
        error, peak = await _peak(lambda: client.request("GET", "articles/2/"))
        assert isinstance(error, ServerError)
        assert len(error.body) == ERROR_BODY_LIMIT
        assert peak < 8 * MiB


async def test_an_answer_within_the_limit_is_read_whole(server: ScriptedServer) -> None:
    body = b'{"count": 0, "pad": "' + b"y" * (LIMIT - 30) + b'"}'
    assert len(body) <= LIMIT
    server.scripts["/api/articles/"] = Scripted.body(body)
    async with _client(server, max_answer_bytes=LIMIT) as client:
        assert (await client.request("GET", "articles/"))["count"] == 0


async def test_the_default_is_far_above_the_largest_page(sandbox: Sandbox) -> None:
    """A page of the largest size the sandbox serves (receipts, 300 of them here, with their
    lines and payments) is a small fraction of the default."""
    async with BessaClient(sandbox.token, base_url=sandbox.url) as client:
        page = await client.request("GET", "receipts/", params={"limit": 500}, raw=True)
    assert len(page.data["results"]) == 300
    assert 32 * MiB == DEFAULT_MAX_ANSWER_BYTES
    assert len(json.dumps(page.data)) * 50 < DEFAULT_MAX_ANSWER_BYTES


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "1"])
def test_a_bad_limit_is_refused(value: object) -> None:
    with pytest.raises(ConfigurationError, match="max_answer_bytes"):
        BessaClient("t0ken", max_answer_bytes=value)  # type: ignore[arg-type]


async def test_an_accepted_order_with_an_oversized_answer_is_looked_up_not_sent_again(
    server: ScriptedServer,
) -> None:
    """A write's 2xx cut at the limit was accepted all the same: like any answer it cannot
    read, the submission is found by its reference, never sent a second time."""
    job = {
        "id": str(uuid.uuid4()),
        "type": "order",
        "status": "pending",
        "reference": "big-1",
        "created": "2026-06-01T10:00:00Z",
    }
    head = json.dumps(job).encode()[:-1] + b', "pad": "'
    oversized = repeated(b"z" * 65536, 2 * LIMIT, head=head, tail=b'"}')
    server.scripts["POST /api/requests/orders/"] = Scripted(201, dict(JSON), oversized)
    page = {"next": None, "previous": None, "results": [job]}
    server.scripts["GET /api/requests/orders/"] = Scripted.body(json.dumps(page).encode())
    order = Order(
        sales_point=uuid.uuid4(),
        lines=[OrderLine(article=uuid.uuid4(), quantity=Decimal(1))],
        reference="big-1",
    )
    async with _client(server, max_answer_bytes=LIMIT) as client:
        handle = await client.orders.submit(order)
    assert str(handle.id) == job["id"]
    assert server.methods.count("POST") == 1
