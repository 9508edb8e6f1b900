"""No cookie a server sets is ever sent back: the client's session keeps no cookie jar."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestServer

from bessa_async import BessaClient


async def test_a_cookie_the_server_sets_is_never_sent_back() -> None:
    seen: list[str | None] = []

    async def articles(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        answer = web.json_response({"count": 0, "next": None, "previous": None, "results": []})
        answer.set_cookie("session", "from-the-server", path="/")
        return answer

    app = web.Application()
    app.router.add_get("/api/articles/", articles)
    async with TestServer(app, host="127.0.0.1") as server:
        base = str(server.make_url("/api/"))
        async with BessaClient("t0ken", base_url=base) as client:
            await client.request("GET", "articles/")
            await client.request("GET", "articles/")
    assert seen == [None, None]
