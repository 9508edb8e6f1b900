"""BlockingClient: the async client from sync code, against the sandbox on loopback.

The tests are plain functions: no event loop runs in the test's thread. The sandbox runs on
its own loop in a thread (:class:`ServedSandbox`); the async client that the blocking one is
compared with runs on that loop too.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import multiprocessing
import signal
import threading
import time
import typing
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from served_sandbox import ServedSandbox

import bessa_async
from bessa_async import (
    Article,
    BessaClient,
    BlockingClient,
    ClientClosedError,
    NotFoundError,
    Receipt,
    WrongEventLoopError,
)
from bessa_async._blocking import _ATTRIBUTES, BlockingJobHandle, Listing
from bessa_async._registry import TYPED_RESOURCES
from bessa_async.testing import FakeClock


@pytest.fixture
def served() -> Iterator[ServedSandbox]:
    served = ServedSandbox(receipts=60)
    yield served
    served.close()


@pytest.fixture
def blocking(served: ServedSandbox) -> Iterator[BlockingClient]:
    with BlockingClient(served.sandbox.token, base_url=served.sandbox.url) as client:
        yield client


def test_it_is_exported_once() -> None:
    assert bessa_async.BlockingClient is BlockingClient
    assert "BlockingClient" in bessa_async.__all__


def test_it_takes_exactly_the_async_clients_arguments() -> None:
    ours = inspect.signature(BlockingClient)
    theirs = inspect.signature(BessaClient)
    assert ours.parameters == theirs.parameters
    view = inspect.signature(BlockingClient.with_options).parameters
    assert view == inspect.signature(BessaClient.with_options).parameters


def test_its_surface_stays_in_step_with_the_async_client() -> None:
    """Every resource of the async client has a blocking one with the same methods."""
    expected = {cls.name for cls in TYPED_RESOURCES} | {"reports", "orders", "payments", "jobs"}
    assert set(_ATTRIBUTES) == expected, (
        "each resource of BessaClient needs a class in bessa_async/_blocking.py and its "
        "annotation on BlockingClient"
    )
    sample = BessaClient("x" * 40, base_url="http://127.0.0.1:1")
    not_blocking = {"as_completed"}  # takes async handles; the guide says so
    for name, shim in _ATTRIBUTES.items():
        resource = type(getattr(sample, name))
        public = {
            attr
            for attr in dir(resource)
            if not attr.startswith("_") and callable(getattr(resource, attr))
        } - not_blocking
        missing = public - set(dir(shim))
        assert not missing, f"{shim.__name__} lacks {sorted(missing)} of {resource.__name__}"
    # request() spells its overloads out for mypy: they must stay the async client's.
    ours = typing.get_overloads(BlockingClient.request)
    theirs = typing.get_overloads(BessaClient.request)
    assert [inspect.signature(f) for f in ours] == [inspect.signature(f) for f in theirs]


def test_each_surface_answers_what_the_async_client_does(
    served: ServedSandbox, blocking: BlockingClient
) -> None:
    sandbox = served.sandbox
    article = sandbox.fixtures.article
    got = blocking.articles.get(article.id)
    assert isinstance(got, Article)
    assert got == served.async_client(lambda c: c.articles.get(article.id))

    listing = blocking.receipts.list(limit=7)
    assert isinstance(listing, Listing)
    items = list(listing)
    assert all(isinstance(r, Receipt) for r in items)
    assert items == served.async_client(lambda c: c.receipts.list(limit=7).collect())
    assert listing.stats.items == len(items)
    assert listing.stats.pages >= 2
    assert listing.collect(max_items=3) == items[:3]
    assert list(listing) == items  # each iteration starts afresh
    assert [r for page in listing.pages() for r in page.results] == items
    assert listing.count() == served.async_client(lambda c: c.receipts.list(limit=7).count())

    page = blocking.request("GET", "articles/", params={"limit": 2})
    assert page == served.async_client(lambda c: c.request("GET", "articles/", params={"limit": 2}))
    raw = blocking.request("GET", "articles/", params={"limit": 2}, raw=True)
    assert raw.status == 200
    assert raw.data == page

    start = datetime(2026, 6, 1, tzinfo=UTC)
    end = datetime(2026, 6, 8, tzinfo=UTC)
    report = blocking.reports.sales(start=start, end=end)
    assert report == served.async_client(lambda c: c.reports.sales(start=start, end=end))

    feed = blocking.articles.changes()
    changed = [item for batch in feed for item in batch.items]
    assert {a.id for a in changed} == {a.id for a in blocking.articles.list().collect()}
    later = blocking.articles.changes(feed.checkpoint)  # nothing new since
    assert [item for batch in later for item in batch.items] == []

    doctor = blocking.doctor()
    assert doctor == served.async_client(lambda c: c.doctor())


def test_a_listing_left_part_way_gives_where_to_resume(blocking: BlockingClient) -> None:
    listing = blocking.receipts.list(limit=5)
    taken = []
    with listing:
        for receipt in listing:
            taken.append(receipt)
            if len(taken) == 7:
                break
    cursor = listing.resume_cursor
    assert cursor is not None
    rest = blocking.receipts.list(limit=5, cursor=cursor).collect()
    assert [r.id for r in taken + rest] == [r.id for r in blocking.receipts.list().collect()]


def test_an_order_is_submitted_and_its_wait_blocks() -> None:
    clock = FakeClock()
    served = ServedSandbox(receipts=10, clock=clock, sleep=clock.sleep, job_delay=5)
    try:
        sandbox = served.sandbox
        with BlockingClient(
            sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep
        ) as client:
            handle = client.orders.submit(sandbox.fixtures.order())
            assert isinstance(handle, BlockingJobHandle)
            job = handle.wait()
            assert job.succeeded
            assert handle.handle.done
            again = client.jobs.resume(handle.handle.to_token()).wait()
            assert again.id == job.id
            assert client.jobs.stats.polls + client.jobs.stats.rounds > 0  # the async poller's
            assert len(sandbox.jobs()) == 1  # sent once
    finally:
        served.close()


def test_with_options_gives_a_view_on_the_same_thread(blocking: BlockingClient) -> None:
    view = blocking.with_options(timeout=5)
    assert "view" in repr(view)
    assert "timeout=5" in repr(view)
    assert view.articles.list(limit=3).first() == blocking.articles.list(limit=3).first()
    view.close()  # a view owns nothing
    assert blocking.articles.list(limit=1).first() is not None
    with pytest.raises(bessa_async.InvalidTypeError):
        blocking.with_options(retry="often")  # type: ignore[arg-type]


def test_several_threads_at_once(served: ServedSandbox) -> None:
    """Eight threads share one async client: its answers, and its in-flight slots."""
    expected = served.async_client(lambda c: c.receipts.list(limit=10).collect())
    sandbox = served.sandbox

    def work(client: BlockingClient, i: int) -> list[Receipt]:
        return client.receipts.list(limit=10 + i % 3).collect()

    client = BlockingClient(sandbox.token, base_url=sandbox.url, max_in_flight=2)
    with client, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: work(client, i), range(16)))
    assert all(answer == expected for answer in answers)
    assert sandbox.peak_in_flight <= 2
    assert sandbox.connections_opened <= 3  # the async client's pool, not one per thread


def test_errors_are_the_librarys(blocking: BlockingClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        blocking.articles.get(uuid.uuid4())
    # The traceback reaches into the async client, where the answer was read.
    assert any("bessa_async" in str(entry.path) for entry in caught.traceback[1:])
    with pytest.raises(bessa_async.InvalidValueError):
        blocking.articles.get("not-a-uuid")
    with pytest.raises(bessa_async.ConfigurationError):
        BlockingClient("t" * 40, base_url="http://example.com/")  # nothing starts


async def test_a_borrowed_session_is_refused() -> None:
    """A session lives in the loop it was made in, never in the client's own thread (nor in a
    forked child)."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(bessa_async.ConfigurationError, match="session"):
            BlockingClient("t" * 40, base_url="http://127.0.0.1:1/", session=session)


def test_the_token_is_never_in_its_repr(served: ServedSandbox, blocking: BlockingClient) -> None:
    token = served.sandbox.token
    listing = blocking.receipts.list(limit=2)
    handle_free = [blocking, blocking.articles, listing, blocking.with_options(timeout=3)]
    for thing in handle_free:
        assert token not in repr(thing)
    assert token not in repr(vars(blocking))
    # Kept for a forked child's client, it stays a Secret, in the closure too.
    portal = blocking._portal
    cells = [cell.cell_contents for cell in portal._factory.__closure__ or ()]
    assert token not in repr(vars(portal))
    assert token not in repr(cells)


def _prefetching(client: BlockingClient) -> int:
    """Prefetch tasks running on the client's loop: one per listing open part-way."""

    def count(_: BessaClient) -> int:
        return sum(t.get_name() == "bessa_async prefetch" for t in asyncio.all_tasks())

    return client._portal.run_sync(count)


def test_close_with_a_listing_left_open(served: ServedSandbox) -> None:
    client = BlockingClient(served.sandbox.token, base_url=served.sandbox.url)
    open_listing = iter(client.receipts.list(limit=2))
    next(open_listing)
    pages = client.receipts.list(limit=2).pages()
    next(pages)
    assert _prefetching(client) == 2
    del pages
    gc.collect()  # collected part-way: the loop closes its generator, and its prefetch stops
    for _ in range(100):
        if _prefetching(client) == 1:
            break
    assert _prefetching(client) == 1
    loop = client._portal._loop
    assert loop is not None
    client.close()  # the other is closed here, then the thread ends
    assert not asyncio.all_tasks(loop)  # nothing left pending on its loop
    client.close()  # idempotent
    assert repr(client).endswith("closed>")
    assert not any(t.name == "bessa-async-blocking" and t.is_alive() for t in threading.enumerate())
    with pytest.raises(ClientClosedError, match="closed"):
        client.articles.list().first()


def test_inside_an_event_loop_it_says_use_the_async_client(blocking: BlockingClient) -> None:
    async def inside() -> None:
        with pytest.raises(WrongEventLoopError, match="BessaClient"):
            blocking.articles.list().first()

    asyncio.run(inside())


def _in_child(clients: list[BlockingClient], answers: Any) -> None:
    for client in clients:
        answers.put([str(a.id) for a in client.articles.list(limit=5).collect()])
        client.close()


def test_a_forked_child_builds_its_own_loop_and_client(
    served: ServedSandbox, blocking: BlockingClient
) -> None:
    before = [
        str(a.id) for a in blocking.articles.list(limit=5).collect()
    ]  # the parent's loop runs
    served.sandbox.clear_requests()
    context = multiprocessing.get_context("fork")
    answers = context.SimpleQueue()
    unused = BlockingClient(served.sandbox.token, base_url=served.sandbox.url)
    child = context.Process(target=_in_child, args=([blocking, unused], answers))
    child.start()
    try:
        child.join(timeout=20)  # a child waiting for its parent's loop thread would never end
        assert child.exitcode == 0
    finally:
        child.kill()
        child.join()
    assert answers.get() == before
    assert answers.get() == before  # the client never used in the parent
    unused.close()
    # The parent's client goes on, on its own thread.
    assert [str(a.id) for a in blocking.articles.list(limit=5).collect()] == before


def _calls_running(client: BlockingClient) -> list[asyncio.Task[Any]]:
    def running(_: BessaClient) -> list[asyncio.Task[Any]]:
        current = asyncio.current_task()
        return [
            t
            for t in asyncio.all_tasks()
            if t is not current and "_Portal.run" in t.get_coro().__qualname__  # type: ignore[union-attr]
        ]

    return client._portal.run_sync(running)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals go to main"
)
def test_ctrl_c_cancels_the_running_call_on_the_loop() -> None:
    served = ServedSandbox(receipts=10, job_delay=3600)  # a job that stays pending
    # A run started as a shell's background job ignores SIGINT: Python's own handler, as a
    # terminal leaves it (tests/cli_process.py does the same for the command's process).
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sandbox = served.sandbox
        with BlockingClient(sandbox.token, base_url=sandbox.url) as client:
            handle = client.orders.submit(sandbox.fixtures.order())

            def interrupt_once_waiting() -> None:
                while not _calls_running(client):
                    time.sleep(0.01)  # this helper thread runs no event loop
                signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

            helper = threading.Thread(target=interrupt_once_waiting)
            helper.start()
            with pytest.raises(KeyboardInterrupt):
                handle.wait()
            helper.join()
            for _ in range(100):  # the cancellation reaches the task within a few steps
                if not _calls_running(client):
                    break
            assert not _calls_running(client)
            assert client.articles.list(limit=1).first() is not None  # it goes on
    finally:
        signal.signal(signal.SIGINT, inherited)
        served.close()
