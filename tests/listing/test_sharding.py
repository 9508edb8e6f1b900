"""The time-sharding engine: pure planning, and exactly-once streaming over an in-memory API."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bessa_async import BessaError, DecodeError, TransportError
from bessa_async._listing.pagination import ListingRequest, ListingStats, Paginator
from bessa_async._listing.shard_token import identity_of, read_token
from bessa_async._listing.sharding import ShardPlan, initial_shards, sharded_pages, split_point
from bessa_async.testing._cursor import Collection, Cursor, Selection, paginate
from bessa_async.testing._query import micros

T0 = datetime(2026, 6, 1, tzinfo=UTC)
moments = st.datetimes(
    min_value=datetime(2026, 5, 25), max_value=datetime(2026, 7, 5), timezones=st.just(UTC)
)


@given(
    start=moments,
    span=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=60)),
    count=st.integers(1, 64),
)
def test_initial_shards_tile_the_window(start: datetime, span: timedelta, count: int) -> None:
    """Shards touch, increase strictly, cover [start, end) and are at most count."""
    shards = initial_shards(start, start + span, count)
    assert 1 <= len(shards) <= count
    assert shards[0][0] == start
    assert shards[-1][1] == start + span
    for (_, end), (begin, _) in itertools.pairwise(shards):
        assert end == begin
    assert all(a < b for a, b in shards)


@given(progress=moments, gap=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9)))
def test_split_point_lies_strictly_inside(progress: datetime, gap: timedelta) -> None:
    """The split is strictly after what was read and strictly before the cutoff, or None."""
    middle = split_point(progress, progress + gap)
    if gap <= timedelta(microseconds=1):
        assert middle is None
    else:
        assert middle is not None
        assert progress < middle < progress + gap


def _api(stamps: list[datetime]) -> tuple[Any, list[dict[str, Any]]]:
    """An in-memory list endpoint ordered by (timestamp, id), with opaque cursors."""
    items = [
        {"id": str(uuid.UUID(int=i + 1)), "timestamp": moment.isoformat()}
        for i, moment in enumerate(stamps)
    ]
    collection = Collection(
        [{**item, "updated": item["timestamp"]} for item in items],
        key=lambda item: (micros(datetime.fromisoformat(item["timestamp"])), item["id"]),
    )
    requests: list[Mapping[str, Any]] = []

    async def fetch(target: str, params: Mapping[str, Any] | None) -> Any:
        assert params is not None
        requests.append(params)
        await asyncio.sleep(0)
        selection = Selection(
            time_gte=micros(params["timestamp__gte"]), time_lt=micros(params["timestamp__lt"])
        )
        cursor = Cursor.decode(params["cursor"]) if "cursor" in params else None
        page = paginate(collection, collection.select(selection), cursor, int(params["limit"]))
        return {
            "count": page.count,
            "next": page.next.encode() if page.next else None,
            "previous": None,
            "results": page.items,
        }

    fetch.requests = requests  # type: ignore[attr-defined]
    return fetch, items


def _listing(
    fetch: Any,
    start: datetime,
    end: datetime,
    *,
    concurrency: int,
    ordered: bool,
    page: int,
    buffered: int,
    decode: Callable[[list[Any]], list[dict[str, Any]]] = list,
    token: str | None = None,
    adaptive: bool = True,
) -> Paginator[dict[str, Any]]:
    plan = ShardPlan(
        field="timestamp",
        start=start,
        end=end,
        concurrency=concurrency,
        ordered=ordered,
        page_size=page,
        max_buffered=buffered,
        adaptive=adaptive,
    )
    params = {"limit": page, "timestamp__gte": start, "timestamp__lt": end}
    identity = identity_of(
        "receipts", field="timestamp", start=start, end=end, ordered=ordered, params=params
    )
    request = ListingRequest(
        fetch=fetch,
        path="receipts/",
        params=params,
        decode=decode,
        resource="receipts",
        clock=time.monotonic,
    )
    source = sharded_pages(
        request,
        plan=plan,
        when=lambda item: datetime.fromisoformat(item["timestamp"]),
        ident=lambda item: item["id"],
        resume=None if token is None else read_token(token, identity),
    )
    return Paginator(request, sharded=source)


# Clustered data: busy hours and many equal timestamps, the hard cases for shard borders.
clusters = st.lists(
    st.tuples(moments, st.integers(1, 40), st.sampled_from([0, 1, 1000, 3_600_000_000])),
    min_size=0,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(
    groups=clusters,
    window=st.tuples(moments, moments).map(sorted),
    concurrency=st.integers(1, 12),
    page=st.integers(1, 30),
    buffered=st.sampled_from([1, 7, 60, 300, 10_000]),
    ordered=st.booleans(),
)
def test_every_item_in_the_window_exactly_once(
    groups: list[tuple[datetime, int, int]],
    window: list[datetime],
    concurrency: int,
    page: int,
    buffered: int,
    ordered: bool,
) -> None:
    """Any data, window, shards, page size, buffer: the window's ids, once each, in order."""
    stamps = [
        moment + timedelta(microseconds=step * i)
        for moment, size, step in groups
        for i in range(size)
    ]
    start, end = window
    fetch, items = _api(stamps)
    expected = sorted(
        (datetime.fromisoformat(item["timestamp"]), item["id"])
        for item in items
        if start <= datetime.fromisoformat(item["timestamp"]) < end
    )

    async def run() -> tuple[list[tuple[datetime, str]], ListingStats]:
        paginator = _listing(
            fetch,
            start,
            end,
            concurrency=concurrency,
            ordered=ordered,
            page=page,
            buffered=buffered,
        )
        got = [(datetime.fromisoformat(i["timestamp"]), i["id"]) async for i in paginator]
        assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return got, paginator.stats

    got, stats = asyncio.run(run())
    assert sorted(got) == expected
    assert len(set(got)) == len(got)
    if ordered:
        assert got == expected
    assert stats.duplicates == 0
    assert stats.out_of_window == 0
    if ordered:
        assert stats.peak_buffered <= max(buffered, page)


def test_a_dense_shard_is_split() -> None:
    """One busy day among quiet ones is split while the quiet shards finish."""
    quiet = [T0 + timedelta(days=d, hours=12) for d in range(30)]
    busy = [T0 + timedelta(days=12, seconds=s) for s in range(0, 36_000, 10)]
    fetch, _ = _api(quiet + busy)

    async def run() -> ListingStats:
        paginator = _listing(
            fetch,
            T0,
            T0 + timedelta(days=30),
            concurrency=8,
            ordered=True,
            page=50,
            buffered=10_000,
        )
        count = len([item async for item in paginator])
        assert count == len(quiet) + len(busy)
        return paginator.stats

    stats = asyncio.run(run())
    assert stats.splits >= 3
    assert stats.shards == 8 * 4 + stats.splits  # SHARDS_PER_SLOT initial shards per slot


def test_leaving_early_cancels_every_shard() -> None:
    """Breaking out of a sharded listing leaves no task behind."""
    fetch, _ = _api([T0 + timedelta(minutes=m) for m in range(2000)])

    async def run() -> None:
        paginator = _listing(
            fetch,
            T0,
            T0 + timedelta(days=2),
            concurrency=6,
            ordered=True,
            page=20,
            buffered=100,
        )
        async with aclosing(paginator.items()) as items:
            async for _ in items:
                break
        assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    asyncio.run(run())


def test_an_api_that_lists_newest_first_loses_nothing() -> None:
    """If the API orders differently, shards read their whole window: nothing lost or doubled."""
    stamps = [T0 + timedelta(minutes=7 * m) for m in range(600)]
    fetch, items = _api(stamps)

    async def reversed_fetch(target: str, params: Mapping[str, Any] | None) -> Any:
        body = await fetch(target, params)
        body["results"] = list(reversed(body["results"]))
        return body

    async def run() -> list[str]:
        paginator = _listing(
            reversed_fetch,
            T0,
            T0 + timedelta(days=3),
            concurrency=4,
            ordered=False,
            page=25,
            buffered=10_000,
        )
        return [item["id"] async for item in paginator]

    got = asyncio.run(run())
    assert sorted(got) == sorted(item["id"] for item in items)


def test_a_repeated_item_is_skipped_and_counted() -> None:
    """If the API repeats the last item of a page on the next one, it is yielded once, counted."""
    stamps = [T0 + timedelta(minutes=m) for m in range(200)]
    fetch, items = _api(stamps)
    last: list[dict[str, Any]] = []

    async def repeating(target: str, params: Mapping[str, Any] | None) -> Any:
        body = await fetch(target, params)
        results = body["results"]
        if last and "cursor" in (params or {}):
            body["results"] = [last[-1], *results]
        last[:] = results
        return body

    async def run() -> tuple[list[str], ListingStats]:
        paginator = _listing(
            repeating,
            T0,
            T0 + timedelta(days=1),
            concurrency=1,
            ordered=True,
            page=20,
            buffered=10_000,
        )
        return [item["id"] async for item in paginator], paginator.stats

    got, stats = asyncio.run(run())
    assert got == [item["id"] for item in items]
    assert stats.duplicates == 9


@pytest.mark.parametrize("ordered", [True, False])
def test_an_item_that_does_not_decode_fails_where_it_stands(ordered: bool) -> None:
    """A bad item raises DecodeError; with ordered output in its place, only after every item
    before it was yielded (its chain stops; the error waits in the buffer for its turn)."""
    stamps = [T0 + timedelta(minutes=m) for m in range(3000)]
    fetch, items = _api(stamps)
    bad = items[1700]["id"]

    def decode(page: list[Any]) -> list[dict[str, Any]]:
        for item in page:
            if item["id"] == bad:
                raise DecodeError(f"could not read receipts: {bad} is bad")
        return list(page)

    async def run() -> list[str]:
        paginator = _listing(
            fetch,
            T0,
            T0 + timedelta(days=3),
            concurrency=6,
            ordered=ordered,
            page=40,
            buffered=400,
            decode=decode,
        )
        seen: list[str] = []

        async def consume() -> None:
            async for item in paginator:
                seen.append(item["id"])

        with pytest.raises(DecodeError, match="is bad"):
            await consume()
        assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return seen

    seen = asyncio.run(run())
    if ordered:
        # Pages are decoded whole: the items of the bad one's page before it are not yielded.
        assert seen == [item["id"] for item in items[: len(seen)]]
        assert 1700 - 40 < len(seen) <= 1700
    assert bad not in seen


@pytest.mark.parametrize("buffered", [0, 150, 1000])
def test_slots_and_buffer_stay_within_their_bounds(buffered: int) -> None:
    """Never more than ``concurrency`` requests at once; never more than ``max_buffered``
    items held, counting the pages in flight (one page when there is no room at all)."""
    busy = [T0 + timedelta(days=3, seconds=s) for s in range(0, 20_000, 10)]
    quiet = [T0 + timedelta(days=d, hours=9) for d in range(10)]
    api, items = _api(busy + quiet)
    in_flight = [0, 0]

    async def fetch(target: str, params: Mapping[str, Any] | None) -> Any:
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        try:
            await asyncio.sleep(0)
            return await api(target, params)
        finally:
            in_flight[0] -= 1

    async def run() -> ListingStats:
        paginator = _listing(
            fetch,
            T0,
            T0 + timedelta(days=10),
            concurrency=5,
            ordered=True,
            page=25,
            buffered=buffered,
        )
        got = [item["id"] async for item in paginator]
        assert got == [item["id"] for item in sorted(items, key=lambda i: i["timestamp"])]
        return paginator.stats

    stats = asyncio.run(run())
    # With no room to buffer, only the chain at the head of the output can fetch.
    assert in_flight[1] == 1 if buffered == 0 else 1 < in_flight[1] <= 5
    assert in_flight[1] == 5 or buffered < 1000
    assert stats.peak_buffered <= max(buffered, 25)
    assert stats.splits >= (0 if buffered == 0 else 1)


@pytest.mark.parametrize("buffered", [150, 1000])
def test_the_buffer_bound_holds_with_a_slow_consumer(buffered: int) -> None:
    """A consumer slower than the chains: at most ``max_buffered`` items are ever held, the
    pages in flight and the first chain's own pages included."""
    stamps = [T0 + timedelta(seconds=s) for s in range(0, 4 * 86_400, 60)]
    fetch, items = _api(stamps)

    async def run() -> ListingStats:
        paginator = _listing(
            fetch,
            T0,
            T0 + timedelta(days=4),
            concurrency=8,
            ordered=True,
            page=25,
            buffered=buffered,
        )
        got: list[str] = []
        async with aclosing(paginator.pages()) as pages:
            async for page in pages:
                got.extend(item["id"] for item in page.results)
                for _ in range(30):  # the consumer's own work, while the chains read on
                    await asyncio.sleep(0)
        assert got == [item["id"] for item in items]
        return paginator.stats

    stats = asyncio.run(run())
    assert stats.splits + stats.shards > 8
    assert 0 < stats.peak_buffered <= buffered


def _failing(api: Any, fail_at: int) -> Any:
    """``api`` whose ``fail_at``-th request (counted from 1) fails as a dropped connection."""
    calls = [0]

    async def fetch(target: str, params: Mapping[str, Any] | None) -> Any:
        calls[0] += 1
        if calls[0] == fail_at:
            raise TransportError(
                "the connection was reset", method="GET", path=target, request_sent=True
            )
        return await api(target, params)

    return fetch


@settings(max_examples=120, deadline=None)
@given(
    groups=clusters,
    concurrency=st.lists(st.integers(1, 10), min_size=1, max_size=4),
    page=st.integers(1, 20),
    buffered=st.sampled_from([1, 30, 300, 10_000]),
    ordered=st.booleans(),
    failures=st.lists(st.integers(1, 40), max_size=4),
    stop_early=st.integers(0, 3),
    adaptive=st.booleans(),
)
def test_resumed_listings_hand_over_every_item_exactly_once(
    groups: list[tuple[datetime, int, int]],
    concurrency: list[int],
    page: int,
    buffered: int,
    ordered: bool,
    failures: list[int],
    stop_early: int,
    adaptive: bool,
) -> None:
    """A listing fails at random requests (or is left after some pages) and is resumed from its
    token each time, at any concurrency: everything handed over, all runs together, is the
    window's items once each, in order when ordered; with adaptive or static shards."""
    stamps = [
        moment + timedelta(microseconds=step * i)
        for moment, size, step in groups
        for i in range(size)
    ]
    start, end = T0 - timedelta(days=7), T0 + timedelta(days=36)
    api, items = _api(stamps)
    expected = sorted((datetime.fromisoformat(i["timestamp"]), i["id"]) for i in items)

    async def run() -> list[tuple[datetime, str]]:
        got: list[tuple[datetime, str]] = []
        token: str | None = None
        for attempt in itertools.count():
            fail_at = failures[attempt] if attempt < len(failures) else 0
            paginator = _listing(
                _failing(api, fail_at),
                start,
                end,
                concurrency=concurrency[attempt % len(concurrency)],
                ordered=ordered,
                page=page,
                buffered=buffered,
                token=token,
                adaptive=adaptive,
            )
            before = len(got)
            failed: BessaError | None = None
            try:
                async with aclosing(paginator.pages()) as pages:
                    async for taken, part in enumerate_async(pages):
                        got.extend(
                            (datetime.fromisoformat(i["timestamp"]), i["id"]) for i in part.results
                        )
                        if attempt == 0 and taken + 1 == stop_early:
                            break
                    else:
                        assert paginator.resume_cursor is None
                        return got
            except BessaError as exc:
                failed = exc
            resumed = paginator.resume_cursor
            assert failed is None or failed.resume_cursor == resumed
            if resumed is None and (token is not None or len(got) > before):
                return got  # everything was handed over
            token = resumed  # None: nothing was handed over, start again
            assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        raise AssertionError("unreachable")

    got = asyncio.run(run())
    if ordered:
        assert got == expected
    else:
        assert sorted(got) == expected


async def enumerate_async(pages: Any) -> Any:
    taken = 0
    async for page in pages:
        yield taken, page
        taken += 1
