"""pytest fixtures for suites that test code built on bessa_async.

Loaded automatically (entry point ``pytest11``) wherever bessa_async is installed. With
pytest-asyncio present, these fixtures are available:

``bessa_sandbox``
    a started :class:`~bessa_async.testing.Sandbox` on loopback, fresh per test. Configure it
    with the marker ``@pytest.mark.bessa_sandbox(receipts=50, faults="503@articles/")``: every
    keyword of :class:`~bessa_async.testing.Sandbox`, plus ``faults``, a spec as
    ``bessa sandbox --faults`` takes it.
``bessa_client``
    a :class:`~bessa_async.BessaClient` on that sandbox with tenant A's token, closed after
    the test.
``bessa_clock``
    a :class:`~bessa_async.testing.FakeClock`. A test that asks for it gets a sandbox and a
    client that both run on it: backoff, ``Retry-After``, polling and job processing take no
    real time.
``bessa_sandbox_factory``
    ``await bessa_sandbox_factory(**options)`` starts another sandbox (same options as the
    marker, on ``bessa_clock`` if the test asks for it); all are closed after the test.

Example (``@pytest.mark.asyncio`` is what pytest-asyncio's default strict mode needs; with
``asyncio_mode = "auto"`` it may be left out)::

    @pytest.mark.asyncio
    @pytest.mark.bessa_sandbox(job_delay=30)
    async def test_an_order_completes(bessa_client, bessa_sandbox, bessa_clock):
        handle = await bessa_client.orders.submit(bessa_sandbox.fixtures.order())
        job = await handle.wait()   # a minute of processing, in no real time
        assert job.succeeded

Without pytest-asyncio the plugin defines nothing, so it never breaks another suite.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixtures need pytest-asyncio
    pytest_asyncio = None  # type: ignore[assignment]

MARKER = "bessa_sandbox"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so ``--strict-markers`` suites accept it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): options of the bessa_sandbox fixture's Sandbox "
        "(seed, receipts, job_delay, faults='503@articles/', ...)",
    )


if pytest_asyncio is not None:
    from bessa_async import BessaClient
    from bessa_async.testing import FakeClock, Sandbox
    from bessa_async.testing._faults import parse_faults

    SandboxFactory = Callable[..., Awaitable[Sandbox]]

    def _clock_of(request: pytest.FixtureRequest) -> FakeClock | None:
        if "bessa_clock" in request.fixturenames:
            clock = request.getfixturevalue("bessa_clock")
            assert isinstance(clock, FakeClock)
            return clock
        return None

    async def _start(
        stack: contextlib.AsyncExitStack, clock: FakeClock | None, options: dict[str, Any]
    ) -> Sandbox:
        faults = options.pop("faults", None)
        if clock is not None:
            options.setdefault("clock", clock)
            options.setdefault("sleep", clock.sleep)
        # Generating the seeded data takes a while: off the loop, so the test's loop never blocks.
        sandbox = await asyncio.to_thread(lambda: Sandbox(**options))
        for fault, path, rate in parse_faults(faults) if isinstance(faults, str) else ():
            sandbox.inject(fault, path=path, rate=rate)
        return await stack.enter_async_context(sandbox)

    @pytest.fixture
    def bessa_clock() -> FakeClock:
        """Virtual time shared by ``bessa_sandbox`` and ``bessa_client`` in this test."""
        return FakeClock()

    @pytest_asyncio.fixture
    async def bessa_sandbox_factory(
        request: pytest.FixtureRequest,
    ) -> AsyncIterator[SandboxFactory]:
        """Start sandboxes on demand (``await factory(receipts=10)``); closed after the test."""
        clock = _clock_of(request)
        async with contextlib.AsyncExitStack() as stack:

            async def factory(**options: Any) -> Sandbox:
                return await _start(stack, clock, dict(options))

            yield factory

    @pytest_asyncio.fixture
    async def bessa_sandbox(
        request: pytest.FixtureRequest, bessa_sandbox_factory: SandboxFactory
    ) -> Sandbox:
        """A fresh sandbox for one test, configured by ``@pytest.mark.bessa_sandbox(...)``."""
        marker = request.node.get_closest_marker(MARKER)
        if marker is not None and marker.args:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keyword options only")
        return await bessa_sandbox_factory(**(marker.kwargs if marker is not None else {}))

    @pytest_asyncio.fixture
    async def bessa_client(
        request: pytest.FixtureRequest, bessa_sandbox: Sandbox
    ) -> AsyncIterator[BessaClient]:
        """A client on ``bessa_sandbox`` with tenant A's token (on ``bessa_clock`` if asked)."""
        clock = _clock_of(request)
        timing: dict[str, Any] = {} if clock is None else {"clock": clock, "sleep": clock.sleep}
        async with BessaClient(bessa_sandbox.token, base_url=bessa_sandbox.url, **timing) as client:
            yield client
