"""Time shards against an API whose window filters are coarser than the items' stamps: the
sandbox's ``window_precision="seconds"`` floors ``timestamp__gte``/``__lt`` to the second,
while the receipts keep their microseconds. A sharded listing must equal the sequential one."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bessa_async import BessaClient
from bessa_async._cli.app import main
from bessa_async._listing.sharding import initial_shards, split_point
from bessa_async.testing import Sandbox

HOUR = datetime(2026, 6, 10, 8, tzinfo=UTC)
"""An hour of 10 June (a business day in Vienna) that the tests fill with receipts."""


def _fill(sandbox: Sandbox, count: int, seconds: int, seed: int = 7) -> dict[str, Any]:
    """``count`` receipts stamped at random microseconds of ``seconds`` from HOUR; the window
    that holds them."""
    rng = random.Random(seed)
    for _ in range(count):
        stamp = HOUR + timedelta(microseconds=rng.randrange(seconds * 1_000_000))
        sandbox.insert("receipts", timestamp=stamp)
    return {"timestamp__gte": HOUR, "timestamp__lt": HOUR + timedelta(seconds=seconds)}


async def test_the_sandbox_floors_window_filters_to_the_second() -> None:
    """The evidence: a receipt stamped inside a second is outside a window that starts after
    its stamp in that second (microseconds) and inside it with whole-second filters."""
    for precision, expected in (("microseconds", 0), ("seconds", 1)):
        async with (
            Sandbox(receipts=300, window_precision=precision) as sandbox,  # type: ignore[arg-type]
            BessaClient(sandbox.token, base_url=sandbox.url) as client,
        ):
            stamped = next(r for r in sandbox.data.receipts if "." in r["timestamp"])
            moment = datetime.fromisoformat(stamped["timestamp"])
            later = moment.replace(microsecond=999_999)
            body = await client.request(
                "GET", "receipts/", params={"timestamp__gte": later, "id": stamped["id"]}
            )
            ids = [r["id"] for r in body["results"] if r["id"] == stamped["id"]]
            assert len(ids) == expected


@pytest.mark.parametrize("ordered", [True, False])
@pytest.mark.parametrize("concurrency", [2, 4, 8])
async def test_3000_receipts_sharded_over_whole_second_filters_lose_nothing(
    concurrency: int, ordered: bool
) -> None:
    """3,000 receipts in an hour, stamped to the microsecond; filters floored to the second."""
    async with (
        Sandbox(receipts=1, window_precision="seconds") as sandbox,
        BessaClient(sandbox.token, base_url=sandbox.url) as client,
    ):
        window = _fill(sandbox, 3000, 3600)
        sequential = [r.id for r in await client.receipts.list(**window, limit=25).collect()]
        assert len(sequential) == 3000
        listing = client.receipts.list(**window, limit=25, concurrency=concurrency, ordered=ordered)
        sharded = [r.id for r in await listing.collect()]
        assert listing.stats.shards > 1
        if ordered:
            assert sharded == sequential
        else:
            assert sorted(sharded) == sorted(sequential)
            assert len(sharded) == len(sequential)


@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 1), timezones=st.just(UTC)
    ),
    span=st.integers(1, 10**12),
    count=st.integers(1, 64),
)
def test_inner_shard_edges_fall_on_whole_seconds(start: datetime, span: int, count: int) -> None:
    end = start + timedelta(microseconds=span)
    shards = initial_shards(start, end, count)
    assert shards[0][0] == start
    assert shards[-1][1] == end
    for (_, edge), (following, _) in itertools.pairwise(shards):
        assert edge == following
        assert edge.microsecond == 0
    middle = split_point(start, end)
    if middle is not None:
        assert start < middle < end
        assert middle.microsecond == 0


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
@given(
    receipts=st.integers(0, 800),
    seconds=st.integers(1, 1800),
    seed=st.integers(0, 3),
    concurrency=st.sampled_from([1, 2, 4, 8]),
    limit=st.integers(5, 60),
    ordered=st.booleans(),
    precision=st.sampled_from(["seconds", "microseconds"]),
)
def test_a_sharded_listing_equals_the_sequential_one_at_any_filter_precision(
    receipts: int,
    seconds: int,
    seed: int,
    concurrency: int,
    limit: int,
    ordered: bool,
    precision: str,
) -> None:
    async def run() -> tuple[list[str], list[str]]:
        async with (
            Sandbox(receipts=1, seed=seed, window_precision=precision) as sandbox,  # type: ignore[arg-type]
            BessaClient(sandbox.token, base_url=sandbox.url) as client,
        ):
            window = _fill(sandbox, receipts, seconds, seed)
            sequential = [str(r.id) for r in await client.receipts.list(**window).collect()]
            listing = client.receipts.list(
                **window, limit=limit, concurrency=concurrency, ordered=ordered
            )
            return sequential, [str(r.id) for r in await listing.collect()]

    sequential, sharded = asyncio.run(run())
    assert len(sequential) == receipts
    if ordered:
        assert sharded == sequential
    else:
        assert sorted(sharded) == sorted(sequential)
        assert len(sharded) == len(sequential)


async def test_bessa_export_over_whole_second_filters_writes_every_receipt(
    tmp_path: Path,
) -> None:
    """``bessa export`` reads through the same shards: 8 chains write the same file as one."""
    async with Sandbox(receipts=1, window_precision="seconds") as sandbox:
        _fill(sandbox, 3000, 3600)
        files = []
        for chains in ("1", "8"):
            out = tmp_path / f"chains-{chains}.jsonl"
            argv = ["--base-url", sandbox.url, "--token", sandbox.token, "export", "receipts"]
            argv += ["--day", "2026-06-10", "--format", "jsonl", "--limit", "25"]
            argv += ["--concurrency", chains, "--output", str(out)]
            assert await asyncio.to_thread(main, argv) == 0
            files.append(await asyncio.to_thread(out.read_text, encoding="utf-8"))
        assert files[0] == files[1]
        assert files[0].count("\n") >= 3000
