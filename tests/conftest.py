"""Shared fixtures: a sandbox on loopback, virtual time, a client wired to both, and hygiene.

Every async test runs on a loop in debug mode, and fails if it blocked the loop for longer than
``SLOW_CALLBACK`` seconds or left a task pending (``loop_hygiene``). ``-W error`` (pyproject)
turns every unclosed session or transport into a failure.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Final

import pytest
import pytest_asyncio

from bessa_async import BessaClient, BessaError
from bessa_async.testing import FakeClock, Sandbox

_TOOK: Final = re.compile(r"took (\d+\.\d+) seconds")
SLOW_CALLBACK = float(os.environ.get("BESSA_SLOW_CALLBACK", "0.1"))
"""Seconds one step of the loop may take before a test fails for blocking it (the long soak,
with 20k receipts served in-process on a debug-mode loop, allows more)."""


class _Collections:
    """When the garbage collector ran, so its pauses are not blamed on the code under test.

    A full collection walks the whole test session's heap (hundreds of tests' leftovers); that
    pause says nothing about the step that happened to trigger it.
    """

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.spans.append((self._began, time.perf_counter()))

    def within(self, start: float, end: float) -> float:
        return sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.spans)


class _SlowSteps(logging.Handler):
    def __init__(self, collections: _Collections) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []
        self._collections = collections

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith("Executing "):
            return
        took = _TOOK.search(message)
        if took is not None:
            seconds = float(took.group(1))
            end = record.created - time.time() + time.perf_counter()
            if seconds - self._collections.within(end - seconds, end) < SLOW_CALLBACK:
                return
        self.seen.append(message)


def _leftovers() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]


@pytest_asyncio.fixture(autouse=True)
async def loop_hygiene() -> AsyncIterator[None]:
    """Fail a test that blocks the event loop or leaves tasks pending."""
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK
    collections = _Collections()
    gc.callbacks.append(collections)
    steps = _SlowSteps(collections)
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addHandler(steps)
    try:
        yield
        for _ in range(20):  # let cancelled tasks and closing connections finish
            if not _leftovers():
                break
            await asyncio.sleep(0)
        if pending := _leftovers():
            pytest.fail(f"the test left {len(pending)} task(s) pending: {pending!r:.300}")
        if steps.seen:
            pytest.fail(f"the test blocked the event loop: {steps.seen[0]:.300}")
    finally:
        asyncio_log.removeHandler(steps)
        gc.callbacks.remove(collections)


_SANDBOX_TOKENS: Final = frozenset(
    token for seed in range(32) for token in Sandbox.tokens_for(seed)
)


@pytest.fixture(autouse=True)
def errors_never_show_tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a test if any BessaError raised during it shows a sandbox token in str or repr."""
    raised: list[BessaError] = []
    original = BessaError.__init__

    def recording_init(self: BessaError, *args: object) -> None:
        original(self, *args)
        raised.append(self)

    monkeypatch.setattr(BessaError, "__init__", recording_init)
    yield
    for error in raised:
        text = f"{error} {error!r} {error.args!r}"
        leaked = [token for token in _SANDBOX_TOKENS if token in text]
        assert not leaked, f"{type(error).__name__} shows an API token"


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
