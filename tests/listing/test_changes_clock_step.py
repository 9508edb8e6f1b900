"""A server clock put right while a write is in flight: a commit takes the time it takes, so a
write queued behind one stamped before the step still becomes visible its lag after it was
made, well inside the feed's overlap, and the feed delivers every version once.

The stateful feed tests set the server's clock ahead and back between writes with commit lags;
this is the smallest such case, without Hypothesis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from bessa_async import BessaClient
from bessa_async.testing import FakeClock, Sandbox

LAG = timedelta(seconds=7)
"""A commit lag well inside the feed's default overlap (60 s)."""


@asynccontextmanager
async def _tenant(clock: FakeClock) -> AsyncIterator[tuple[Sandbox, BessaClient]]:
    async with (
        Sandbox(
            receipts=12,
            clock=clock,
            sleep=clock.sleep,
            now=datetime.now(UTC),
            updated_precision="seconds",
            soft_deletes=True,
        ) as sb,
        BessaClient(sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep) as client,
    ):
        yield sb, client


def _current(sb: Sandbox, ident: str) -> tuple[str, str]:
    item = next(r for r in sb.items("receipts") if r["id"] == ident)
    return item["number"], item["updated"]


async def test_a_clock_put_right_does_not_stretch_a_commit(clock: FakeClock) -> None:
    """A write stamped by a clock five minutes ahead, then (clock put right) a second write to
    the same item: both become visible the lag after they were made, not five minutes on, nor
    sooner when the clock jumps an hour ahead meanwhile."""
    async with _tenant(clock) as (sb, _):
        receipt = str(sb.items("receipts")[3]["id"])
        sb.server_offset = timedelta(minutes=5)
        sb.edit("receipts", receipt, number="E-1", lag=LAG)
        sb.server_offset = timedelta(0)
        second = sb.edit("receipts", receipt, number="E-2", lag=LAG)
        clock.advance(LAG.total_seconds() - 1)
        sb.server_offset = timedelta(hours=1)
        assert _current(sb, receipt)[0] != "E-2"
        clock.advance(1)
        assert _current(sb, receipt) == ("E-2", second["updated"])
        assert sb.pending_writes == 0


async def test_a_write_behind_one_stamped_before_a_clock_step_is_delivered(
    clock: FakeClock,
) -> None:
    """The stateful machine's lost version, step by step: runs read to the end, a minute or two
    apart, deliver the version that is current once its writes have committed."""
    async with _tenant(clock) as (sb, client):
        receipt = str(sb.items("receipts")[3]["id"])
        sb.server_offset = timedelta(minutes=5)
        sb.edit("receipts", receipt, number="E-1", lag=LAG)
        sb.server_offset = timedelta(0)
        sb.edit("receipts", receipt, number="E-2", lag=LAG)
        saved: str | None = None
        delivered: list[tuple[str, str | None]] = []
        for step in (0, 63, 120, 300):
            clock.advance(step)
            feed = client.receipts.changes(since=saved, limit=6, concurrency=4)
            async for batch in feed:
                delivered += [(str(r.id), r.number) for r in batch.items]
            saved = feed.checkpoint
        assert sb.pending_writes == 0
        assert _current(sb, receipt)[0] == "E-2"
    assert (receipt, "E-2") in delivered
    assert len(delivered) == len(set(delivered))
