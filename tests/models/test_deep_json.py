"""JSON nested too deeply to read is a DecodeError (an answer) or an InvalidValueError (a job
token), never a bare RecursionError; JSON nested deeply but readable is read, kept and shown
without one either."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st
from scripted_server import Scripted, ScriptedServer, scripted_server

from bessa_async import (
    Article,
    BadRequestError,
    BessaClient,
    DecodeError,
    InvalidValueError,
    RetryPolicy,
    ServerError,
    from_dict,
    to_dict,
)
from bessa_async._base.errors import error_for_response
from bessa_async._base.jsontext import MAX_NESTING
from bessa_async._jobs.handle import decode_token
from bessa_async.testing import FakeClock

TOO_DEEP = 100_000


def nested(depth: int, inner: str = "1", opener: str = "[", closer: str = "]") -> str:
    return opener * depth + inner + closer * depth


def deep_dict(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def at_depth(depth: int, call: Callable[[], Any]) -> Any:
    """``call()`` made ``depth`` frames further down the stack than here."""
    return call() if depth == 0 else at_depth(depth - 1, call)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    async with scripted_server() as scripted:
        yield scripted


@pytest_asyncio.fixture
async def client(server: ScriptedServer) -> AsyncIterator[BessaClient]:
    clock = FakeClock()
    async with BessaClient(
        "t0ken", base_url=server.url, clock=clock, sleep=clock.sleep, retry=RetryPolicy.disabled()
    ) as bessa:
        yield bessa


async def test_a_2xx_nested_too_deeply_is_a_decode_error(
    server: ScriptedServer, client: BessaClient
) -> None:
    server.scripts["/api/articles/1/"] = Scripted.body(nested(TOO_DEEP).encode())
    with pytest.raises(DecodeError, match="nested too deeply"):
        await client.request("GET", "articles/1/")


async def test_a_list_page_nested_too_deeply_is_a_decode_error(
    server: ScriptedServer, client: BessaClient
) -> None:
    page = '{"next": null, "previous": null, "results": ' + nested(TOO_DEEP) + "}"
    server.scripts["/api/articles/"] = Scripted.body(page.encode())
    with pytest.raises(DecodeError, match="nested too deeply"):
        await client.articles.list().collect()


@pytest.mark.parametrize("status", [400, 404, 500])
async def test_an_error_body_nested_too_deeply_still_maps_to_its_error(
    server: ScriptedServer, client: BessaClient, status: int
) -> None:
    server.scripts["/api/articles/"] = Scripted.body(deep_dict(TOO_DEEP).encode(), status)
    with pytest.raises(BadRequestError if status == 400 else Exception) as caught:
        await client.request("GET", "articles/", retry=RetryPolicy.disabled())
    assert caught.value.status == status  # type: ignore[attr-defined]


@settings(deadline=None)  # a body 100,000 levels deep takes its time on a busy machine
@given(depth=st.sampled_from([50, 400, 900, 990, 5_000, TOO_DEEP]), dicts=st.booleans())
def test_error_for_response_never_raises_on_deep_bodies(depth: int, dicts: bool) -> None:
    """Pure, and documented as never raising: not on a body too deep to read, nor on one deep
    enough to read that a walk over it (the field summary) would exhaust the stack; not even
    called far down the stack."""
    body = (deep_dict(depth) if dicts else nested(depth, '"x"')).encode()
    for frames in (0, 300):
        error = at_depth(
            frames, lambda: error_for_response(400, {}, body, method="POST", path="x/")
        )
        assert isinstance(error, BadRequestError)
        assert "400 on POST x/" in str(error)
        repr(error)
    assert isinstance(error_for_response(503, {}, body, method="GET", path="x/"), ServerError)


@pytest.mark.parametrize(
    "token",
    [
        nested(TOO_DEEP),
        '{"v": 1, "kind": "order", "id": ' + nested(TOO_DEEP) + "}",
        '{"v": 1, "kind": "order", "id": ' + nested(500) + "}",
        '{"v": ' + nested(500) + ', "kind": "order"}',
        '{"v": 1, "kind": ' + nested(500, opener='{"a":', closer="}") + "}",
    ],
    ids=["too deep", "id too deep", "deep id", "deep version", "deep kind"],
)
def test_a_deep_job_token_is_an_invalid_value(token: str) -> None:
    for frames in (0, 300):
        with pytest.raises(InvalidValueError, match="job token"):
            at_depth(frames, lambda: decode_token(token))


async def test_a_job_token_nested_too_deeply_is_refused_by_resume(client: BessaClient) -> None:
    with pytest.raises(InvalidValueError, match="job token"):
        client.jobs.resume(nested(TOO_DEEP))


async def test_deep_unknown_fields_are_kept_up_to_a_depth_and_refused_beyond(
    server: ScriptedServer, client: BessaClient
) -> None:
    """An unknown field nested up to MAX_NESTING levels is kept in ``extra``, and the item's
    repr, its to_dict() and that as JSON are made without a RecursionError even far down the
    stack; one nested deeper is a DecodeError naming it, not a RecursionError later."""

    def page(depth: int) -> bytes:
        item = json.dumps({"id": str(uuid.uuid4()), "name": "Melange"})[:-1]
        item += ', "deep": ' + nested(depth) + "}"
        return ('{"next": null, "previous": null, "results": [' + item + "]}").encode()

    server.scripts["/api/articles/"] = Scripted.body(page(MAX_NESTING))
    (read,) = await client.articles.list().collect()
    assert read.name == "Melange"
    assert read.extra["deep"] == json.loads(nested(MAX_NESTING))
    for frames in (0, 300):
        at_depth(frames, lambda: repr(read))
        at_depth(frames, lambda: json.dumps(to_dict(read)))
    for depth in (MAX_NESTING + 1, 900):
        server.scripts["/api/articles/"] = Scripted.body(page(depth))
        with pytest.raises(DecodeError, match="'deep' nests more than 64 levels"):
            await client.articles.list().collect()
        with pytest.raises(DecodeError, match="'deep' nests more than 64 levels"):
            from_dict(Article, json.loads(page(depth))["results"][0])
