"""A tiny aiohttp server on loopback that answers what a test scripts, byte for byte.

The sandbox answers like the API; this one answers like a broken or hostile server would:
bodies that inflate to gigabytes, JSON nested thousands deep, odd ``Location`` headers. Each
answer is a status, headers and a body given as chunks (so a huge body is never held whole).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager

import aiohttp
import attrs
from aiohttp import web

JSON: Mapping[str, str] = {"Content-Type": "application/json"}


@attrs.frozen
class Scripted:
    """One answer: its status, headers and body chunks (made afresh for each request)."""

    status: int = 200
    headers: Mapping[str, str] = attrs.field(factory=lambda: dict(JSON))
    chunks: Callable[[], Iterable[bytes]] = lambda: ()
    echo: bool = False
    """Whether the body starts with the request's headers as JSON (a proxy's debug page)."""

    @classmethod
    def body(
        cls, body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Scripted:
        return cls(status, {**JSON, **(headers or {})}, lambda: (body,))


def repeated(
    piece: bytes, total: int, head: bytes = b"", tail: bytes = b""
) -> Callable[[], Iterable[bytes]]:
    """``head``, ``total`` bytes of ``piece`` over and over, ``tail``: never held whole."""

    def chunks() -> Iterable[bytes]:
        yield head
        for start in range(0, total, len(piece)):
            yield piece[: total - start]
        yield tail

    return chunks


def gzip_bomb(inflated: int) -> bytes:
    """A gzip body of JSON-ish spaces that inflates to ``inflated`` bytes (about 1,000:1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * (1 << 20)
    parts = [packer.compress(block) for _ in range(inflated // len(block))]
    parts.append(packer.flush())
    return b"".join(parts)


class ScriptedServer:
    """Answers each request with the script for ``"METHOD /path"``, else for ``"/path"``, else
    a 404; and counts what it sent."""

    def __init__(self) -> None:
        self.url = ""
        self.scripts: dict[str, Scripted] = {}
        self.requests: list[str] = []
        self.methods: list[str] = []
        self.sent_bytes = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        self.methods.append(request.method)
        script = (
            self.scripts.get(f"{request.method} {request.path}")
            or self.scripts.get(request.path)
            or Scripted(404, dict(JSON), lambda: (b"{}",))
        )
        answer = web.StreamResponse(status=script.status, headers=script.headers)
        await answer.prepare(request)
        try:
            if script.echo:
                await answer.write(json.dumps(dict(request.headers)).encode())
            for chunk in script.chunks():
                await answer.write(chunk)
                self.sent_bytes += len(chunk)
            await answer.write_eof()
        except (ConnectionError, aiohttp.ClientConnectionResetError):
            pass  # the client stopped reading and closed the connection
        return answer


@asynccontextmanager
async def scripted_server() -> AsyncIterator[ScriptedServer]:
    server = ScriptedServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/"
    try:
        yield server
    finally:
        await runner.cleanup()
