"""pytest fixtures for suites that test code built on bessa_async.

Loaded automatically (entry point ``pytest11``) wherever bessa_async is installed. With
pytest-asyncio present, two fixtures are available:

``bessa_sandbox``
    a started :class:`~bessa_async.testing.Sandbox` on loopback, fresh per test.
``bessa_client``
    a :class:`~bessa_async.BessaClient` on that sandbox with tenant A's token, closed after
    the test.

Example::

    async def test_my_sync_job(bessa_client):
        page = await bessa_client.request("GET", "articles/")
        assert page["count"] > 0

Without pytest-asyncio the plugin defines nothing, so it never breaks another suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixtures need pytest-asyncio
    pytest_asyncio = None  # type: ignore[assignment]

if pytest_asyncio is not None:
    from bessa_async import BessaClient
    from bessa_async.testing import Sandbox

    @pytest_asyncio.fixture
    async def bessa_sandbox() -> AsyncIterator[Sandbox]:
        """A fresh sandbox with the default seed, served on loopback for one test."""
        # Generating the seeded data takes a while: off the loop, so the test's loop never blocks.
        async with await asyncio.to_thread(Sandbox) as sandbox:
            yield sandbox

    @pytest_asyncio.fixture
    async def bessa_client(bessa_sandbox: Sandbox) -> AsyncIterator[BessaClient]:
        """A client on ``bessa_sandbox`` with tenant A's token."""
        async with BessaClient(bessa_sandbox.token, base_url=bessa_sandbox.url) as client:
            yield client
