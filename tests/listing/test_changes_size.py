"""A changes feed's checkpoint stays small whatever lands inside its overlap: a burst of late
uploads is deferred past :data:`KEEP_AT_MOST` kept versions and delivered once the overlap has
passed, by the same run, with nothing lost or repeated across saved checkpoints."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import bessa_async._listing.changes
from bessa_async import BessaClient
from bessa_async._listing.changes import KEEP_AT_MOST
from bessa_async.testing import FakeClock, Sandbox

NOW = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
LIMIT = 500


def _kept(checkpoint: str) -> int:
    return len(json.loads(checkpoint)["seen"])


async def _burst(count: int, concurrency: int, stop_after: int | None) -> None:
    clock = FakeClock()
    async with (
        Sandbox(receipts=30, clock=clock, sleep=clock.sleep, now=NOW) as sb,
        BessaClient(sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep) as client,
    ):
        first = client.receipts.changes(limit=LIMIT)
        async for _ in first:
            pass
        clock.advance(5)
        late = {item["id"] for item in sb.upload_late(count=count, hours_ago=30)}
        clock.advance(1)
        saved, got, sizes = first.checkpoint, [], []
        # A consumer that stops after a few saved batches, then a run to the end from there.
        for stop in (stop_after, None):
            feed = client.receipts.changes(since=saved, limit=LIMIT, concurrency=concurrency)
            taken = 0
            async for batch in feed:
                got += [str(r.id) for r in batch.items]
                saved = batch.checkpoint
                sizes.append(_kept(saved))
                taken += 1
                if taken == stop:
                    break
            else:
                saved = feed.checkpoint
                sizes.append(_kept(saved))
        assert sorted(got) == sorted(late)  # each late receipt once, none left for later
        # Kept inside the overlap, plus each chain's last page (DRF's offset can show it again).
        assert max(sizes) <= KEEP_AT_MOST + LIMIT * concurrency
        assert _kept(saved) <= KEEP_AT_MOST
        again = client.receipts.changes(since=saved, limit=LIMIT)
        assert [batch async for batch in again] == []


@settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    count=st.sampled_from([1, KEEP_AT_MOST, KEEP_AT_MOST + 1]) | st.integers(1, 3 * KEEP_AT_MOST),
    concurrency=st.sampled_from([1, 4]),
    stop_after=st.none() | st.integers(1, 3),
)
def test_a_checkpoint_is_bounded_whatever_the_burst(
    count: int, concurrency: int, stop_after: int | None
) -> None:
    with asyncio.Runner() as runner:
        runner.run(_burst(count, concurrency, stop_after))


async def test_ten_thousand_late_receipts_leave_a_small_checkpoint(clock: FakeClock) -> None:
    """The run waits out the overlap once instead of carrying every version it delivered:
    before, its checkpoint held all 10,000 and each batch's held all those before it."""
    async with (
        Sandbox(receipts=30, clock=clock, sleep=clock.sleep, now=NOW) as sb,
        BessaClient(sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep) as client,
    ):
        first = client.receipts.changes(limit=1000)
        async for _ in first:
            pass
        sb.upload_late(count=10_000, hours_ago=40)
        feed = client.receipts.changes(since=first.checkpoint, limit=1000)
        delivered = written = 0
        async for batch in feed:
            delivered += len(batch.items)
            written += len(batch.checkpoint)
        assert len(feed.checkpoint) < 1024  # nothing inside the overlap any more
        assert written < 10 * 200 * 1024  # ten pages, none over the bound
        assert delivered == 10_000
        assert feed.stats.settles == 1
        assert feed.stats.deferred == 10_000 - KEEP_AT_MOST


def test_the_guide_states_the_bound() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "sync.md").read_text(encoding="utf-8")
    assert f"keeps at most {KEEP_AT_MOST:,} (about" in " ".join(guide.split())


async def test_rows_stamped_ahead_of_both_clocks_are_kept_not_deferred(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waiting for them would take as long as the server's clock is ahead: they are kept."""
    monkeypatch.setattr(bessa_async._listing.changes, "KEEP_AT_MOST", 2)
    async with (
        Sandbox(receipts=3, clock=clock, sleep=clock.sleep, now=datetime.now(UTC)) as sb,
        BessaClient(sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep) as client,
    ):
        first = client.receipts.changes()
        async for _ in first:
            pass
        sb.server_offset = timedelta(minutes=10)
        late = {item["id"] for item in sb.upload_late(count=5, hours_ago=2)}
        feed = client.receipts.changes(since=first.checkpoint)
        got = {str(r.id) async for batch in feed for r in batch.items}
        assert got == late
        assert (feed.stats.deferred, feed.stats.settles) == (0, 0)
        assert feed.stats.clocks_disagree
