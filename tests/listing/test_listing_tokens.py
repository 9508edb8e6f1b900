"""A sharded listing's resume token is judged in one place, strictly, before anything is sent;
and windows at the calendar's ends are refused or listed, never an OverflowError."""

from __future__ import annotations

import json
from contextlib import aclosing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bessa_async import BessaClient, InvalidValueError, ResumeTokenError, ValidationError
from bessa_async.testing import Sandbox

JUNE: dict[str, Any] = {
    "timestamp__gte": datetime(2026, 5, 31, 22, tzinfo=UTC),
    "timestamp__lt": datetime(2026, 6, 30, 22, tzinfo=UTC),
}
EAST = timezone(timedelta(hours=1))
WEST = timezone(timedelta(hours=-1))


async def _token(client: BessaClient) -> dict[str, Any]:
    listing = client.receipts.list(**JUNE, limit=10, concurrency=4)
    async with aclosing(listing.pages()) as pages:
        async for _ in pages:
            break
    assert listing.resume_cursor is not None
    data: dict[str, Any] = json.loads(listing.resume_cursor)
    return data


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_tampered_sharded_tokens_are_refused_before_sending(
    client: BessaClient, sandbox: Sandbox
) -> None:
    data = await _token(client)
    shard = data["shards"][0]
    cases: list[tuple[str, str]] = [
        (json.dumps({**data, "shards": []}), "no shards left"),
        (json.dumps({**data, "v": True}), "integer version"),
        (json.dumps({**data, "v": 1.0}), "integer version"),
        (json.dumps({**data, "ordered": 1}), "ordered=1"),
        (json.dumps({**data, "extra": 1}), "unknown fields"),
        (json.dumps({**data, "shards": [{**shard, "more": 1}]}), "unknown fields"),
        (json.dumps({**data, "shards": [{**shard, "skip": True}]}), "'skip'"),
        (json.dumps({**data, "shards": [{**shard, "skip": -1}]}), "'skip'"),
        (json.dumps({**data, "shards": [{**shard, "cursor": ""}]}), "cursor"),
        (
            json.dumps(
                {
                    **data,
                    "shards": [
                        {"start": shard["start"], "end": shard["end"], "cutoff": shard["end"]}
                    ],
                }
            ),
            "afresh",
        ),
        (json.dumps({**data, "window": ["0001-01-01T00:30:00+01:00", data["window"][1]]}), "ISO"),
        (json.dumps({**data, "shards": [{**shard, "end": "9999-12-31T23:00:00-01:00"}]}), "ISO"),
        ('{"v":1,"kind":"sharded listing","shards":' + _nested(100_000) + "}", "not JSON"),
    ]
    sent = len(sandbox.requests)
    for bad, message in cases:
        with pytest.raises(ResumeTokenError, match=message):
            client.receipts.list(**JUNE, limit=10, concurrency=4, cursor=bad)
    assert len(sandbox.requests) == sent


async def test_a_damaged_chain_position_is_refused_before_sending(
    client: BessaClient, sandbox: Sandbox
) -> None:
    position = {"v": 1, "kind": "listing position", "cursor": None, "skip": 2}
    sent = len(sandbox.requests)
    for bad in (
        {**position, "skip": 0},
        {**position, "skip": True},
        {**position, "v": True},
        {**position, "cursor": 5},
        {**position, "more": 1},
    ):
        with pytest.raises(ResumeTokenError):
            client.receipts.list(limit=20, cursor=json.dumps(bad))
    assert len(sandbox.requests) == sent


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize(
    "window",
    [
        (datetime(1, 1, 1, 0, 30, tzinfo=EAST), JUNE["timestamp__lt"]),
        (JUNE["timestamp__gte"], datetime(9999, 12, 31, 23, 30, tzinfo=WEST)),
    ],
    ids=["year-1-east", "year-9999-west"],
)
async def test_a_window_beyond_the_calendar_in_utc_is_refused_before_sending(
    client: BessaClient, sandbox: Sandbox, window: tuple[datetime, datetime], concurrency: int
) -> None:
    sent = len(sandbox.requests)
    with pytest.raises(InvalidValueError, match="outside the years 1 to 9999"):
        client.receipts.list(
            timestamp__gte=window[0], timestamp__lt=window[1], concurrency=concurrency
        )
    assert len(sandbox.requests) == sent


@pytest.mark.parametrize("ordered", [True, False])
async def test_the_widest_window_is_listed_sharded_as_by_one_chain(
    client: BessaClient, ordered: bool
) -> None:
    widest: dict[str, Any] = {
        "timestamp__gte": datetime(1, 1, 1, tzinfo=UTC),
        "timestamp__lt": datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    }
    one = [r.id for r in await client.receipts.list(**widest, limit=10).collect()]
    listing = client.receipts.list(**widest, limit=10, concurrency=4, ordered=ordered)
    got = [r.id for r in await listing.collect()]
    assert sorted(got) == sorted(one)
    assert len(got) == len(one) > 0
    if ordered:
        assert got == one


async def test_the_sandbox_answers_400_to_a_time_beyond_the_calendar(
    client: BessaClient,
) -> None:
    with pytest.raises(ValidationError) as info:
        await client.request(
            "GET", "receipts/", params={"timestamp__gte": "0001-01-01T00:30:00+01:00"}
        )
    assert info.value.errors == {"timestamp__gte": ["Enter a valid date/time."]}
