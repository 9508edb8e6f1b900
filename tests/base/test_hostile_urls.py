"""A server's hostile ``Location`` or ``next``: refused as a ForeignOriginError, nothing sent.

Credentials on the API's own origin, a backslash in the authority, two ports, a host that is
no valid name: yarl or aiohttp would raise a bare ValueError or UnicodeError for them, or send
them; the client refuses them before any request, like a URL on another host.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from scripted_server import Scripted, ScriptedServer, scripted_server
from yarl import URL

from bessa_async import BessaClient, ForeignOriginError, RetryPolicy
from bessa_async.testing import FakeClock


@pytest_asyncio.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    async with scripted_server() as scripted:
        yield scripted


def _hostile(server: ScriptedServer) -> list[str]:
    origin = URL(server.url).origin()
    host, port = origin.host, origin.port
    return [
        f"http://u:p@{host}:{port}/api/articles/?cursor=2",
        f"http://{host}:{port}\\@evil.example/api/articles/",
        f"http://{host}:{port}:{port}/api/articles/",
        "http://xn--a.example/api/articles/",
    ]


async def test_a_hostile_location_is_refused_before_it_is_followed(server: ScriptedServer) -> None:
    clock = FakeClock()
    async with BessaClient(
        "t0ken", base_url=server.url, clock=clock, sleep=clock.sleep, retry=RetryPolicy.disabled()
    ) as client:
        for location in _hostile(server):
            server.requests.clear()
            server.scripts["/api/articles/"] = Scripted.body(b"", 302, {"Location": location})
            with pytest.raises(ForeignOriginError) as caught:
                await client.request("GET", "articles/")
            assert caught.value.url == location
            assert server.requests == ["/api/articles/"]  # the redirect was not followed


async def test_a_hostile_next_is_refused_before_it_is_requested(server: ScriptedServer) -> None:
    clock = FakeClock()
    async with BessaClient(
        "t0ken", base_url=server.url, clock=clock, sleep=clock.sleep, retry=RetryPolicy.disabled()
    ) as client:
        for next_url in _hostile(server):
            server.requests.clear()
            page: dict[str, object] = {"next": next_url, "previous": None, "results": []}
            server.scripts["/api/articles/"] = Scripted.body(json.dumps(page).encode())
            with pytest.raises(ForeignOriginError):
                await client.articles.list().collect()
            assert server.requests == ["/api/articles/"]
