"""One route to the network and one listing value: resources send only through the client's
public ``request``; the listing layer decides sharding, resume tokens and a feed's arguments
by itself (no client, no resource class), from one frozen :class:`ListingRequest`."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bessa_async import (
    USE_CLIENT_DEFAULT,
    BessaClient,
    Hooks,
    InvalidTypeError,
    InvalidValueError,
    ResumeTokenError,
)
from bessa_async._base.config import TimeoutArg
from bessa_async._listing import shard_token
from bessa_async._listing.changes import ChangeFeed, plan_feed
from bessa_async._listing.pagination import ListingRequest, Paginator
from bessa_async._listing.sharding import shard_listing
from bessa_async._resources.resource import Receipts, filter_spec_of
from bessa_async._transport.session import Sender
from bessa_async.hooks import PageEvent
from bessa_async.testing import FakeClock, Sandbox

JUNE: dict[str, Any] = {
    "timestamp__gte": datetime(2026, 5, 31, 22, tzinfo=UTC),
    "timestamp__lt": datetime(2026, 6, 30, 22, tzinfo=UTC),
}


class Recorder:
    """What a resource may use of a client, with each ``request`` written down."""

    def __init__(self, client: BessaClient) -> None:
        self._inner = client
        self.sent: list[tuple[str, str]] = []

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
        raw: bool = False,
    ) -> Any:
        self.sent.append((method, path))
        options: dict[str, Any] = {"params": params, "headers": headers, "timeout": timeout}
        if raw:
            return await self._inner.request(method, path, **options, raw=True)
        return await self._inner.request(method, path, **options)

    @property
    def hooks(self) -> Hooks | None:
        return self._inner.hooks

    @property
    def _local_clock(self) -> Callable[[], datetime]:
        return self._inner._local_clock

    @property
    def _sender(self) -> Sender:
        return self._inner._sender


async def test_every_request_of_a_resource_goes_through_the_clients_request(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """Lists (one chain and sharded), first, count, get, with_raw_response and a changes feed
    all send through the one public verb: a change to sending is made once."""
    recorder = Recorder(client)
    receipts = Receipts(recorder, "receipts/")
    before = len(sandbox.requests)
    everything = await receipts.list(limit=50).collect()
    sharded = await receipts.list(**JUNE, limit=10, concurrency=4).collect()
    assert sharded == [
        r for r in everything if JUNE["timestamp__gte"] <= r.timestamp < JUNE["timestamp__lt"]
    ]
    first = await receipts.list(limit=5).first()
    assert first is not None
    assert await receipts.list().count() == len(everything)
    assert await receipts.get(first.id) == first
    raw = await receipts.with_raw_response.get(first.id, extra_headers={"X-Trace": "1"})
    assert (raw.data, raw.status) == (first, 200)
    assert sandbox.requests[-1].headers.get("X-Trace") == "1"
    fed = [item async for batch in receipts.changes(limit=100) for item in batch.items]
    assert len(fed) == len(everything)
    assert recorder.sent
    assert len(recorder.sent) == len(sandbox.requests) - before


async def test_a_jobs_listing_is_wired_like_a_resources(sandbox: Sandbox, clock: FakeClock) -> None:
    """The jobs' list is built by the same wiring as a resource's: page events, the last
    response."""
    pages: list[PageEvent] = []

    async def on_page(event: PageEvent) -> None:
        pages.append(event)

    async with BessaClient(
        sandbox.token,
        base_url=sandbox.url,
        clock=clock,
        sleep=clock.sleep,
        hooks=Hooks(on_page=on_page),
    ) as client:
        for listing in (client.orders.list(), client.receipts.list(limit=1)):
            before = listing.last_response
            await listing.first()
            after = listing.last_response
            assert before is None
            assert after is not None
            assert after.status == 200
    assert [event.resource for event in pages] == ["requests/orders/", "receipts"]


async def _never(target: str, params: Mapping[str, Any] | None) -> Any:
    raise AssertionError(f"nothing may be sent, got {target} {params}")


def _request(params: Mapping[str, Any]) -> ListingRequest[Any]:
    return ListingRequest(
        fetch=_never,
        path="receipts/",
        params=params,
        decode=list,
        resource="receipts",
        clock=time.monotonic,
    )


def test_one_chain_when_nothing_asks_for_shards() -> None:
    request = _request({"limit": 10})
    assert shard_listing(request, ("timestamp",), concurrency=1, ordered=True) == (request, None)


def test_a_window_missing_a_bound_is_one_chain() -> None:
    request = _request({"timestamp__gte": JUNE["timestamp__gte"]})
    assert shard_listing(request, ("timestamp",), concurrency=4, ordered=True)[1] is None


def test_an_api_cursor_with_concurrency_is_refused_before_sending() -> None:
    with pytest.raises(InvalidValueError, match="cannot be combined"):
        shard_listing(
            _request({**JUNE, "cursor": "abc"}), ("timestamp",), concurrency=4, ordered=True
        )


async def test_a_resume_token_is_judged_against_the_identity_computed_once(
    client: BessaClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing layer reads a sharded listing's token by itself, against the one identity
    it computes for the listing (the resume and the shards it goes on with share it)."""
    listing = client.receipts.list(**JUNE, limit=10, concurrency=4)
    async with aclosing(listing.pages()) as pages:
        async for _ in pages:
            break
    token = listing.resume_cursor
    assert token is not None
    computed: list[str] = []
    real = shard_token.identity_of

    def counted(resource: str, **rest: Any) -> Any:
        computed.append(resource)
        return real(resource, **rest)

    monkeypatch.setattr("bessa_async._listing.sharding.identity_of", counted)
    request, source = shard_listing(
        _request({**JUNE, "limit": 10, "cursor": token}),
        ("timestamp",),
        concurrency=1,
        ordered=True,
    )
    assert "cursor" not in request.params
    assert source is not None
    assert source(Paginator(request).stats).resume_token(None) == token
    assert computed == ["receipts"]
    other = {**JUNE, "timestamp__lt": JUNE["timestamp__lt"] - timedelta(days=1)}
    with pytest.raises(ResumeTokenError):
        shard_listing(
            _request({**other, "cursor": token}), ("timestamp",), concurrency=1, ordered=True
        )
    with pytest.raises(ResumeTokenError, match="same window"):
        shard_listing(_request({"cursor": token}), ("timestamp",), concurrency=1, ordered=True)


def _feed(**overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "owner": "Receipts.changes",
        "resource": "receipts",
        "since": None,
        "limit": None,
        "concurrency": 1,
        "overlap": timedelta(seconds=60),
        "extra_params": None,
        "extra_headers": None,
        "now": lambda: datetime.now(UTC),
    }
    filters = overrides.pop("filters", {})
    spec = overrides.pop("spec", filter_spec_of(Receipts))
    arguments.update(overrides)
    return plan_feed(spec, filters, **arguments)


def test_a_feeds_arguments_are_checked_in_the_listing_layer() -> None:
    query, headers, plan = _feed(filters={"sales_point": None}, concurrency=3, limit=7)
    assert (headers, plan.window, plan.concurrency, plan.limit) == ({}, "timestamp", 3, 7)
    assert plan.start.resource == "receipts"
    assert "sales_point" not in query
    with pytest.raises(InvalidTypeError, match="sets the time windows itself"):
        _feed(filters={"timestamp__gte": JUNE["timestamp__gte"]})
    with pytest.raises(InvalidValueError, match="overlap"):
        _feed(overlap=timedelta(seconds=-1))
    with pytest.raises(InvalidTypeError, match="since must be"):
        _feed(since=3)
    with pytest.raises(ResumeTokenError):
        _feed(since='{"v": 1}')
    with pytest.raises(InvalidTypeError, match="no typed filters"):
        _feed(spec=None)


@pytest.mark.parametrize(
    ("function", "most"),
    [(Sender._attempt, 3), (ChangeFeed.__init__, 4), (Paginator.__init__, 4)],
)
def test_the_sending_and_listing_path_takes_values_not_long_parameter_lists(
    function: Callable[..., Any], most: int
) -> None:
    parameters = [p for p in inspect.signature(function).parameters if p != "self"]
    assert len(parameters) <= most, parameters
