"""No object reachable from an error we raise holds the token: not its message, args or
attributes, and not its ``__cause__`` or ``__context__`` chain, which error reporters (Sentry
and the like) walk and show. A traceback's frames are not part of this promise.

Malformed HTTP answers are the case in point: aiohttp reports them as a
``ClientResponseError`` whose ``request_info`` holds the request's headers, token included.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, cast

import attrs
import pytest
from scripted_server import Scripted, scripted_server

from bessa_async import (
    APIError,
    BessaClient,
    BessaError,
    DecodeError,
    RequestTimeout,
    RetryPolicy,
    TransportError,
)
from bessa_async._transport.secret import Secret
from bessa_async.testing import FakeClock, Fault, Sandbox

TOKEN = "tok-4f9c2e81d7a3b6"

#: Answers no HTTP parser accepts, each as the raw bytes a broken server or proxy sends.
MALFORMED = {
    "bad Content-Length": b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}",
    "bad status line": b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n{}",
    "header over 8,190 bytes": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
    "bad chunk size": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
    ),
}


def reachable(root: object) -> Iterator[object]:
    """Every object reachable from ``root`` through an exception's cause, context, args and
    attributes, containers, attrs instances and the attributes of aiohttp's own objects (its
    request info, headers, URLs). A :class:`Secret` is a leaf: it shows itself masked."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, Secret | str | bytes | int | float):
            continue
        if isinstance(obj, BaseException):
            stack += [obj.__cause__, obj.__context__, *obj.args, *vars(obj).values()]
        elif isinstance(obj, Mapping):
            stack += [*obj.keys(), *obj.values()]
        elif isinstance(obj, list | tuple | set | frozenset):
            stack += list(obj)
        elif attrs.has(type(obj)):
            stack += [getattr(obj, field.name) for field in attrs.fields(cast("Any", type(obj)))]
        elif type(obj).__module__.split(".")[0] in ("aiohttp", "multidict", "yarl"):
            stack += list(getattr(obj, "__dict__", {}).values())
            for name in getattr(type(obj), "__slots__", ()):
                stack.append(getattr(obj, name, None))


def holding_the_token(error: BaseException, token: str) -> list[str]:
    """What, reachable from ``error``, shows ``token`` (type names)."""
    found = []
    for obj in reachable(error):
        shown = obj.decode(errors="replace") if isinstance(obj, bytes) else repr(obj)
        if token in shown or (isinstance(obj, str) and token in obj):
            found.append(type(obj).__qualname__)
    return found


def test_the_walk_finds_a_token_in_a_context() -> None:
    """The check itself: a token two contexts down, in a mapping, is found."""
    try:
        try:
            raise KeyError({"Authorization": f"Token {TOKEN}"})
        except KeyError:
            raise ValueError("inner") from None
    except ValueError as exc:
        error = exc
    assert holding_the_token(error, TOKEN)


@pytest.fixture
async def raw_server() -> AsyncIterator[tuple[str, dict[str, bytes]]]:
    """A loopback server that answers each request with the raw bytes scripted for its path."""
    answers: dict[str, bytes] = {}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode()
        writer.write(answers.get(path, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/api/", answers
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("kind", list(MALFORMED))
async def test_a_malformed_answer_leaves_no_token_reachable(
    raw_server: tuple[str, dict[str, Any]], kind: str
) -> None:
    url, answers = raw_server
    answers["/api/articles/"] = MALFORMED[kind]
    clock = FakeClock()
    async with BessaClient(
        TOKEN, base_url=url, clock=clock, sleep=clock.sleep, retry=RetryPolicy.disabled()
    ) as client:
        with pytest.raises(BessaError) as caught:
            await client.request("GET", "articles/")
    assert isinstance(caught.value, TransportError)
    assert caught.value.request_sent
    assert holding_the_token(caught.value, TOKEN) == []


@pytest.mark.parametrize(
    "fault",
    [Fault.drop(), Fault.truncate(), Fault.status(500), Fault.status(404), Fault.non_json()],
    ids=["dropped", "cut mid-body", "500", "404", "HTML for JSON"],
)
async def test_errors_from_a_misbehaving_server_leave_no_token_reachable(
    sandbox: Sandbox, fault: Fault
) -> None:
    sandbox.inject(fault, path="articles/")
    clock = FakeClock()
    async with BessaClient(
        sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep
    ) as client:
        with pytest.raises(BessaError) as caught:
            await client.request("GET", "articles/")
        with pytest.raises(BessaError) as listed:
            await client.articles.list().collect()
    assert holding_the_token(caught.value, sandbox.token) == []
    assert holding_the_token(listed.value, sandbox.token) == []


async def test_a_refused_token_and_a_closed_port_leave_no_token_reachable(
    sandbox: Sandbox,
) -> None:
    clock = FakeClock()
    async with BessaClient(TOKEN, base_url=sandbox.url, clock=clock, sleep=clock.sleep) as client:
        with pytest.raises(BessaError) as refused:
            await client.request("GET", "articles/")
    url = sandbox.url
    await sandbox.close()
    async with BessaClient(TOKEN, base_url=url, clock=clock, sleep=clock.sleep) as client:
        with pytest.raises(BessaError) as closed:
            await client.request("GET", "articles/")
    assert holding_the_token(refused.value, TOKEN) == []
    assert holding_the_token(closed.value, TOKEN) == []


@pytest.mark.parametrize("status", [400, 502])
async def test_an_error_body_echoing_the_headers_keeps_no_token(status: int) -> None:
    """A proxy's debug page that echoes the request's headers: the token is masked in the
    body an APIError keeps, and so in its detail and message."""
    async with scripted_server() as server:
        server.scripts["/api/articles/"] = Scripted(
            status, {"Content-Type": "text/plain"}, echo=True
        )
        clock = FakeClock()
        async with BessaClient(
            TOKEN, base_url=server.url, clock=clock, sleep=clock.sleep, retry=RetryPolicy.disabled()
        ) as client:
            with pytest.raises(APIError) as caught:
                await client.request("GET", "articles/")
    assert b"Token ********" in caught.value.body
    assert holding_the_token(caught.value, TOKEN) == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
async def test_a_success_echoing_the_headers_keeps_no_token_in_its_decode_error(
    content_type: str,
) -> None:
    """A 2xx that is not JSON but echoes the request's headers (a captive portal's page): the
    DecodeError's snippet shows the body with the token masked, as an error body is."""
    async with scripted_server() as server:
        server.scripts["/api/articles/"] = Scripted(
            200, {"Content-Type": content_type}, lambda: (b" and then cut",), echo=True
        )
        clock = FakeClock()
        async with BessaClient(
            TOKEN, base_url=server.url, clock=clock, sleep=clock.sleep, retry=RetryPolicy.disabled()
        ) as client:
            with pytest.raises(DecodeError) as caught:
                await client.request("GET", "articles/")
    assert "Token ********" in caught.value.snippet
    assert holding_the_token(caught.value, TOKEN) == []


async def test_a_slow_answer_leaves_no_token_reachable(sandbox: Sandbox) -> None:
    sandbox.inject(Fault.latency(5.0), path="articles/")
    async with BessaClient(sandbox.token, base_url=sandbox.url, timeout=0.2) as client:
        with pytest.raises(RequestTimeout) as caught:
            await client.request("GET", "articles/")
    assert holding_the_token(caught.value, sandbox.token) == []
