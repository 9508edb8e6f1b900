"""A client belongs to one event loop: the one it is first used in. Another loop, another
thread's or a forked process's, gets a WrongEventLoopError that says what to do."""

from __future__ import annotations

import asyncio
import os

import pytest

from bessa_async import BessaClient, BessaError, ClientClosedError, WrongEventLoopError
from bessa_async.testing import Sandbox


async def test_another_threads_loop_is_refused(client: BessaClient, sandbox: Sandbox) -> None:
    """A second thread with its own loop: WrongEventLoopError (also a RuntimeError), nothing
    sent; the client goes on working in its own loop."""
    await client.request("GET", "articles/")

    def in_another_loop() -> None:
        asyncio.run(client.request("GET", "companies/"))

    with pytest.raises(WrongEventLoopError, match="another event loop") as info:
        await asyncio.to_thread(in_another_loop)
    assert isinstance(info.value, BessaError)
    assert isinstance(info.value, RuntimeError)
    assert "one BessaClient per event loop" in str(info.value)
    assert [r.path for r in sandbox.requests] == ["articles/"]
    await client.request("GET", "companies/")


def test_a_client_made_outside_any_loop_belongs_to_the_first() -> None:
    """Built before any loop runs, used in one loop: it works there; a later asyncio.run()
    is refused, closing from there too; closed in its own loop, it then says it is closed."""
    home = asyncio.new_event_loop()
    try:
        sandbox = Sandbox(receipts=10)
        home.run_until_complete(sandbox.__aenter__())
        client = BessaClient(sandbox.token, base_url=sandbox.url)  # no loop running
        try:
            assert home.run_until_complete(client.request("GET", "articles/"))["results"]
            with pytest.raises(WrongEventLoopError):
                asyncio.run(client.request("GET", "articles/"))
            with pytest.raises(WrongEventLoopError):
                asyncio.run(client.aclose())
            assert not client.closed
        finally:
            home.run_until_complete(client.aclose())
            home.run_until_complete(sandbox.__aexit__(None, None, None))
        with pytest.raises(ClientClosedError, match="closed"):
            asyncio.run(client.request("GET", "articles/"))
        assert len(sandbox.requests) == 1
    finally:
        home.close()


async def test_a_forked_child_is_refused(
    client: BessaClient, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a process forked after the first use (another pid), the parent's connections are
    not used: WrongEventLoopError names os.fork()."""
    await client.request("GET", "articles/")
    parent = os.getpid()
    with monkeypatch.context() as patch:
        patch.setattr(os, "getpid", lambda: parent + 1)
        with pytest.raises(WrongEventLoopError, match=r"os\.fork\(\)"):
            await client.request("GET", "articles/")
    assert len(sandbox.requests) == 1
