"""Shared fixtures: a sandbox on loopback, virtual time, and a client wired to both."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bessa_async import BessaClient
from bessa_async.testing import FakeClock, Sandbox


@pytest.fixture
def clock() -> FakeClock:
    """Virtual time: every wait returns at once and is recorded."""
    return FakeClock()


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """A small seeded sandbox, fresh per test."""
    async with Sandbox(receipts=300) as sb:
        yield sb


@pytest_asyncio.fixture
async def client(sandbox: Sandbox, clock: FakeClock) -> AsyncIterator[BessaClient]:
    """A client on the sandbox with tenant A's token and virtual time."""
    async with BessaClient(
        sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep
    ) as bessa:
        yield bessa
