"""The changes feed against wrong clocks: a server ``Date`` that runs ahead, a server behind this
machine, stamps from a clock that is ahead. The sandbox starts at this machine's time, so the
client's clock (moved by the same ``FakeClock``) and the server's agree until an offset is set."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from bessa_async import BessaClient
from bessa_async._listing.changes import pass_start
from bessa_async.testing import FakeClock, Sandbox


@asynccontextmanager
async def _tenant(clock: FakeClock) -> AsyncIterator[tuple[Sandbox, BessaClient]]:
    async with (
        Sandbox(receipts=20, clock=clock, sleep=clock.sleep, now=datetime.now(UTC)) as sb,
        BessaClient(sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep) as client,
    ):
        yield sb, client


def _set_server_clock(sb: Sandbox, ahead: timedelta) -> None:
    """The server's clock (its Date and the stamps it writes) from now on ``ahead`` of ours."""
    sb.server_offset = ahead


async def _run(
    client: BessaClient, since: str | None
) -> tuple[list[tuple[str, str | None]], str, bool]:
    feed = client.articles.changes(since=since)
    got = [(str(a.id), a.name) async for batch in feed for a in batch.items]
    return got, feed.checkpoint, feed.stats.clocks_disagree


MINUTE = timedelta(minutes=1)


def test_the_watermark_never_passes_this_machines_clock() -> None:
    """The server's time, never later than ours (rounded like a Date: to the second, less
    one); a step back from the previous watermark within the overlap keeps the previous one,
    a larger one is taken."""
    local = datetime(2026, 12, 8, 12, 0, 0, 700_000, tzinfo=UTC)
    ours = datetime(2026, 12, 8, 11, 59, 59, tzinfo=UTC)
    assert pass_start(local + timedelta(hours=1), local, None, MINUTE) == ours
    behind = local - timedelta(seconds=30)
    assert pass_start(behind, local, None, MINUTE) == behind
    assert pass_start(behind, local, ours, MINUTE) == ours
    assert pass_start(behind, local, ours + MINUTE, MINUTE) == behind


async def test_one_run_with_a_date_an_hour_ahead_loses_nothing(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """One run's answers carry a Date one hour ahead; an article edited five minutes later is
    delivered once by the next three runs (five minutes apart), and the disagreement is
    logged."""
    async with _tenant(clock) as (sb, client):
        _set_server_clock(sb, timedelta(hours=1))
        with caplog.at_level(logging.WARNING, logger="bessa_async"):
            first, saved, disagree = await _run(client, None)
        assert len(first) == len(sb.data.articles)
        assert disagree
        assert "Date is 1:00:00 ahead" in caplog.text or "Date is 0:59:59 ahead" in caplog.text
        watermark = saved
        _set_server_clock(sb, timedelta(0))
        clock.advance(300)
        article = sb.data.articles[2]["id"]
        sb.edit("articles", article, name="Edited")
        delivered: list[tuple[str, str | None]] = []
        for _ in range(3):  # every five minutes, from five minutes after the edit
            clock.advance(300)
            got, watermark, disagree = await _run(client, watermark)
            delivered += got
            assert not disagree
    assert delivered == [(article, "Edited")]


async def test_a_server_behind_this_machine_loses_nothing(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A server clock 30 s behind ours is within the overlap: its own time is the watermark,
    an edit after a run is delivered by the next, and nothing is logged."""
    async with _tenant(clock) as (sb, client):
        _set_server_clock(sb, timedelta(seconds=-30))
        with caplog.at_level(logging.WARNING, logger="bessa_async"):
            _, saved, _ = await _run(client, None)
            clock.advance(5)
            article = sb.data.articles[1]["id"]
            sb.edit("articles", article, name="Behind")
            got, saved, disagree = await _run(client, saved)
            again, _, _ = await _run(client, saved)
    assert got == [(article, "Behind")]
    assert again == []
    assert not disagree
    assert caplog.text == ""


async def test_a_server_an_hour_ahead_for_good_repeats_nothing(clock: FakeClock) -> None:
    """A server whose clock is an hour ahead of ours for every run: the watermark follows our
    clock, so each run reads the last hour again, and the versions kept skip every repeat."""
    async with _tenant(clock) as (sb, client):
        _set_server_clock(sb, timedelta(hours=1))
        _, saved, _ = await _run(client, None)
        delivered: list[tuple[str, str | None]] = []
        for n in range(3):
            clock.advance(600)
            article = sb.data.articles[n]["id"]
            sb.edit("articles", article, name=f"Ahead {n}")
            got, saved, disagree = await _run(client, saved)
            delivered += got
            assert disagree
    assert delivered == [(sb.data.articles[n]["id"], f"Ahead {n}") for n in range(3)]


async def test_stamps_from_a_clock_ahead_are_delivered_once_and_logged(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A server clock an hour ahead for a minute stamps an edit an hour ahead; the edit is
    delivered once, later edits stamped right are delivered, and the feed says so."""
    async with _tenant(clock) as (sb, client):
        _, saved, _ = await _run(client, None)
        _set_server_clock(sb, timedelta(hours=1))
        early = sb.data.articles[0]["id"]
        sb.edit("articles", early, name="Stamped ahead")
        _set_server_clock(sb, timedelta(0))
        with caplog.at_level(logging.WARNING, logger="bessa_async"):
            got, saved, disagree = await _run(client, saved)
        assert got == [(early, "Stamped ahead")]
        assert disagree
        assert "updated is 0:5" in caplog.text  # an hour ahead, less the time since
        clock.advance(120)
        later = sb.data.articles[1]["id"]
        sb.edit("articles", later, name="Stamped right")
        got, saved, _ = await _run(client, saved)
        assert got == [(later, "Stamped right")]
        got, _, _ = await _run(client, saved)
        assert got == []


async def test_a_watermark_that_goes_back_is_logged(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A checkpoint whose watermark is ten minutes after the server's time now (saved against a
    clock that was ahead): the run reads from the earlier time, says so, and its checkpoint
    stands at the server's time (a view of the client checks the same clock)."""
    async with _tenant(clock) as (sb, client):
        _, saved, _ = await _run(client, None)
        clock.advance(60)
        _set_server_clock(sb, timedelta(minutes=-10))
        article = sb.data.articles[4]["id"]
        sb.edit("articles", article, name="Stamped behind")  # ten minutes before the watermark
        feed = client.with_options(timeout=5).articles.changes(since=saved)
        with caplog.at_level(logging.WARNING, logger="bessa_async"):
            got = [(str(a.id), a.name) async for batch in feed for a in batch.items]
        assert feed.stats.clocks_disagree
        assert "the watermark goes back 0:0" in caplog.text
        assert got == []  # sent before the run knew: its bound was the old watermark's
        again, _, _ = await _run(client, feed.checkpoint)
    assert again == [(article, "Stamped behind")]
