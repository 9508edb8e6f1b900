"""Shared fixtures: a sandbox on loopback, virtual time, a client wired to both, and hygiene.

Hygiene is judged by what the code does, never by how fast the machine is:

- ``no_blocking_calls``: a blocking call made inside a running event loop (``time.sleep``, file
  or socket I/O, ``os`` calls, waiting on a thread lock) fails the test, even where the code
  under test caught the error (blockbuster).
- ``loop_hygiene``: a task left pending fails the test.
- ``-W error`` (pyproject) turns every unclosed session or transport into a failure.

``BESSA_SLOW_CALLBACK=0.1`` turns on a diagnostic: steps of the loop that took longer than that
many seconds of wall-clock time are listed at the end of the run. It never fails a test.
"""

from __future__ import annotations

import asyncio
import logging
import os
import traceback
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, Final

import blockbuster
import coverage
import pytest
import pytest_asyncio
from hypothesis import strategies as st

from bessa_async import BessaClient, BessaError
from bessa_async.testing import FakeClock, Sandbox

_SLOW: Final = os.environ.get("BESSA_SLOW_CALLBACK")
SLOW_CALLBACK: Final = float(_SLOW) if _SLOW else None
"""Seconds of wall-clock time above which a step of the loop is reported (``None``: off)."""

_slow_steps: list[tuple[str, str]] = []
"""(test id, asyncio's message) for every slow step seen, reported at the end of the run."""


@pytest.hookimpl(trylast=True)  # after Hypothesis's own: its start-up ends there
def pytest_sessionstart(session: pytest.Session) -> None:
    """Build Hypothesis's Unicode tables before any test runs (in the controller, once).

    On a fresh checkout the first ``st.text()`` spends ~10 s of CPU building them (cached in
    ``.hypothesis/`` afterwards): that belongs to no test and must not eat one's timeout.
    """
    if not hasattr(session.config, "workerinput"):  # xdist workers read the tables from the cache
        st.text().validate()


def _coverage_lock() -> object:
    """The lock coverage's tracer takes, in whatever thread runs, when it first records a file:
    the measuring's own, contended when two threads (a sandbox on a loop thread of its own, and
    the test's) meet a new file at once. None when coverage is not measuring."""
    current = coverage.Coverage.current()
    return getattr(getattr(current, "_collector", None), "data_lock", None)


def _or_the_coverage_lock(allowed: Callable[..., bool]) -> Callable[..., bool]:
    def predicate(lock: object, *args: Any, **kwargs: Any) -> bool:
        return (lock is not None and lock is _coverage_lock()) or allowed(lock, *args, **kwargs)

    return predicate


@pytest.fixture(autouse=True)
def no_blocking_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a test whose code makes a blocking call inside a running event loop."""
    caught: list[str] = []
    original = blockbuster.BlockingError.__init__

    def recording_init(self: blockbuster.BlockingError, func: str) -> None:
        original(self, func)
        # Where it was made: the error itself may be swallowed (by logging, by a server).
        where = [f for f in traceback.extract_stack()[:-2] if "blockbuster" not in f.filename]
        caught.append(f"{self}\n{''.join(traceback.format_list(where[-8:]))}")

    monkeypatch.setattr(blockbuster.BlockingError, "__init__", recording_init)
    detector = blockbuster.BlockBuster()
    for name in ("threading.Lock.acquire", "threading.Lock.acquire_lock"):
        function = detector.functions[name]
        function.can_block_predicate = _or_the_coverage_lock(function.can_block_predicate)
    detector.activate()
    try:
        # Logging is synchronous by the stdlib's design; where a handler writes is the
        # application's choice (a QueueHandler keeps it off the loop). Here: pytest's own.
        for name in ("io.TextIOWrapper.write", "io.BufferedWriter.write"):
            detector.functions[name].can_block_in("logging/__init__.py", "emit")
        yield
    finally:
        detector.deactivate()
    if caught:
        pytest.fail(f"the test made a blocking call inside the event loop: {caught[0]}")


class _SlowSteps(logging.Handler):
    def __init__(self, test: str) -> None:
        super().__init__(logging.WARNING)
        self._test = test

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing "):
            _slow_steps.append((self._test, message))


def _leftovers() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]


@pytest_asyncio.fixture(autouse=True)
async def loop_hygiene(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Fail a test that leaves tasks pending; report slow steps if the diagnostic is on."""
    steps = _SlowSteps(request.node.nodeid)
    asyncio_log = logging.getLogger("asyncio")
    if SLOW_CALLBACK is not None:
        # Debug mode times every step (and records where each callback came from, which
        # makes a busy loop several times slower): only for the opt-in diagnostic.
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = SLOW_CALLBACK
        asyncio_log.addHandler(steps)
    try:
        yield
        for _ in range(20):  # let cancelled tasks and closing connections finish
            if not _leftovers():
                break
            await asyncio.sleep(0)
        if pending := _leftovers():
            pytest.fail(f"the test left {len(pending)} task(s) pending: {pending!r:.300}")
    finally:
        asyncio_log.removeHandler(steps)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the slow steps the opt-in diagnostic saw (information only: nothing fails)."""
    if SLOW_CALLBACK is None:
        return
    terminalreporter.section(f"steps of the event loop over {SLOW_CALLBACK} s (wall clock)")
    if not _slow_steps:
        terminalreporter.line("none")
    for test, message in _slow_steps:
        terminalreporter.line(f"{test}: {message:.300}")


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


POSTGRES_ENV: Final = "BESSA_TEST_POSTGRES"
"""A PostgreSQL server for the tests that load into one: ``postgresql://user:pw@host:port/db``."""
REQUIRE_ENV: Final = "BESSA_REQUIRE_SERVICES"
"""``1``: a test whose service is not configured fails instead of being skipped (CI)."""


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server named by ``BESSA_TEST_POSTGRES``; without it the test is skipped,
    or fails when ``BESSA_REQUIRE_SERVICES=1`` (CI starts one and must not skip)."""
    return postgres_from(os.environ)


def postgres_from(env: Mapping[str, str]) -> str:
    """The server ``env`` names for the tests; skips, or fails where services are required."""
    return service_from(env, POSTGRES_ENV, "a PostgreSQL URL")


def service_from(env: Mapping[str, str], name: str, what: str) -> str:
    """The service ``env`` names in ``name`` (``what`` it holds); skips the test without it,
    or fails it where services are required (``BESSA_REQUIRE_SERVICES=1``)."""
    url = env.get(name, "")
    if not url:
        reason = f"{name} is not set ({what}; .ci/run starts a server)"
        if env.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
        pytest.skip(reason)
    return url
