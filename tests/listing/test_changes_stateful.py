"""The receipts changes feed as a state machine against the sandbox: inserts, edits, late
uploads, soft deletes, clock steps, commit lag, a server clock (its ``Date`` and its stamps) that
runs ahead of the client's for a while, and changes made between two pages of a running pass,
read by runs that stop without saving, stop after saving, or read to the end.

Invariants, judged by what a consumer stores (the batches whose checkpoint it saved):

- a run read to the end from the last saved checkpoint has delivered every version that was
  visible when it began and is still current when it ends (what changes during the run is the
  next run's; the next full run checks it);
- once every write has committed, a last full run leaves no current version undelivered;
- no version is stored twice. A version is ``(id, updated)`` plus the receipt's number, which
  every edit here changes, and its ``deleted`` stamp: with whole-second stamps two changes in
  one second share ``updated`` and are still two versions.

Both precisions of ``updated``, concurrency 1 and 4, and the sandbox's key cursors as well as
DRF's position-plus-offset ones (where rows entering a group of equal timestamps behind the
cursor make a page show rows again) are run. Each example drives its own
event loop (``asyncio.Runner``) through its rules, on a fake clock. The sandbox starts at this
machine's time, so the client's clock, which the feed checks the server's against, agrees with
the server's until a rule sets it ahead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

import bessa_async._listing.changes
from bessa_async import BessaClient, Receipt
from bessa_async.testing import FakeClock, Sandbox, ServedPage

LIMIT = 6
Version = tuple[str, datetime, str, datetime | None]

lags = st.sampled_from([timedelta(0), timedelta(0), timedelta(seconds=7), timedelta(seconds=45)])
"""Commit lags, all within the feed's default overlap (60 s): elapsed time, which the server's
clock set ahead or put right meanwhile does not stretch."""
steps = st.sampled_from([0.0, 0.3, 1.0, 1.7, 30.0, 61.0, 400.0])


def _version(receipt: Receipt) -> Version:
    assert receipt.updated is not None
    return str(receipt.id), receipt.updated, str(receipt.number), receipt.deleted


def _served(item: dict[str, Any]) -> Version:
    updated = datetime.fromisoformat(item["updated"])
    deleted = None if item["deleted"] is None else datetime.fromisoformat(item["deleted"])
    return item["id"], updated, item["number"], deleted


class ChangesMachine(RuleBasedStateMachine):
    """A consumer of ``client.receipts.changes()`` and the changes that happen to a tenant."""

    precision: ClassVar[str] = "microseconds"
    concurrency: ClassVar[int] = 1
    drf_cursor: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.clock = FakeClock()
        self.sb = Sandbox(
            receipts=30,
            clock=self.clock,
            sleep=self.clock.sleep,
            now=datetime.now(UTC),
            updated_precision=self.precision,  # type: ignore[arg-type]
            soft_deletes=True,
            drf_cursor=self.drf_cursor,
        )
        self.client: BessaClient | None = None
        self.saved: str | None = None
        """The last checkpoint the consumer saved (None: a first full load)."""
        self.stored: set[Version] = set()
        """Versions of the batches whose checkpoint was saved."""
        self.edits = 0
        self.armed: Callable[[ServedPage], None] | None = None
        self.failures: list[BaseException] = []
        self.sound = True
        """No run has failed (the closing check would only hide the first failure)."""

    @initialize()
    def start(self) -> None:
        self.runner.run(self._start())

    async def _start(self) -> None:
        await self.sb.start()
        self.client = BessaClient(
            self.sb.token, base_url=self.sb.url, clock=self.clock, sleep=self.clock.sleep
        )

    def teardown(self) -> None:
        try:
            if self.sound and self.client is not None:
                self._settle()
        finally:
            self._close()

    def _settle(self) -> None:
        """Once every write has committed, one more full run leaves nothing undelivered."""
        self.armed = None
        self.clock.advance(120)
        assert self.sb.pending_writes == 0, "a write has not committed within its lag"
        self.run_to_the_end()
        current = {_served(item) for item in self.sb.items("receipts")}
        assert current <= self.stored, f"never delivered: {sorted(current - self.stored)[:3]}"

    def _close(self) -> None:
        async def close() -> None:
            if self.client is not None:
                await self.client.aclose()
            await self.sb.close()

        try:
            self.runner.run(close())
        finally:
            self.runner.close()

    # -- changes -------------------------------------------------------------------------

    def _pick(self, index: int) -> str:
        receipts = self.sb.items("receipts")
        return str(receipts[index % len(receipts)]["id"])

    def _number(self) -> str:
        self.edits += 1
        return f"E-{self.edits}"

    @rule(lag=lags)
    def insert(self, lag: timedelta) -> None:
        self.sb.insert("receipts", lag=lag)

    @rule(count=st.integers(2, 8), index=st.integers(0, 10_000))
    def insert_ties(self, count: int, index: int) -> None:
        """Receipts sharing one timestamp (a row's): a group DRF's cursor counts into."""
        receipts = self.sb.items("receipts")
        moment = receipts[index % len(receipts)]["timestamp"]
        for _ in range(count):
            self.sb.insert("receipts", timestamp=moment)

    @rule(index=st.integers(0, 10_000), lag=lags)
    def edit(self, index: int, lag: timedelta) -> None:
        self.sb.edit("receipts", self._pick(index), number=self._number(), lag=lag)

    @rule(count=st.integers(1, 4), hours=st.sampled_from([0.5, 6.0, 30.0]), lag=lags)
    def upload_late(self, count: int, hours: float, lag: timedelta) -> None:
        self.sb.upload_late(count=count, hours_ago=hours, lag=lag)

    @rule(index=st.integers(0, 10_000), lag=lags)
    def delete(self, index: int, lag: timedelta) -> None:
        self.sb.delete("receipts", self._pick(index), lag=lag)

    @rule(seconds=steps)
    def step(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(ahead=st.sampled_from([timedelta(minutes=5), timedelta(hours=1)]))
    def server_clock_ahead(self, ahead: timedelta) -> None:
        """The server's clock runs ahead of the client's (its Date and the stamps it writes)
        until the next ``server_clock_fixed``: a bad clock for a while, then corrected."""
        self.sb.server_offset = ahead

    @rule()
    def server_clock_fixed(self) -> None:
        self.sb.server_offset = timedelta(0)

    @rule(
        page=st.integers(1, 4),
        where=st.sampled_from(["behind", "ahead", "tie"]),
        action=st.sampled_from(["edit", "delete", "insert", "late"]),
        seconds=st.sampled_from([0.0, 0.4, 2.0]),
    )
    def arm_mid_pass_change(self, page: int, where: str, action: str, seconds: float) -> None:
        """The next run changes a row after its ``page``-th page: one it read (behind the
        cursor), the last of the list (ahead of it), or it adds one to the page's biggest group
        of equal timestamps (which DRF's cursor counts into)."""

        def change(served: ServedPage) -> None:
            if served.resource != "receipts" or served.number != page or not served.items:
                return
            self.armed = None
            try:
                self.clock.advance(seconds)
                target = served.items[0] if where == "behind" else served.items[-1]
                if where == "ahead":
                    target = self.sb.items("receipts")[-1]
                if where == "tie":  # into the page's biggest group of equal timestamps
                    stamps = [item["timestamp"] for item in served.items]
                    moment = max(reversed(stamps), key=stamps.count)
                    self.sb.insert("receipts", timestamp=moment)
                elif action == "insert":
                    self.sb.insert("receipts", timestamp=target["timestamp"])
                elif action == "edit":
                    self.sb.edit("receipts", target["id"], number=self._number())
                elif action == "delete":
                    self.sb.delete("receipts", target["id"])
                else:
                    self.sb.upload_late(count=2, hours_ago=3)
            except BaseException as exc:  # raised by the test, not into the server
                self.failures.append(exc)

        self.armed = change

    # -- runs ----------------------------------------------------------------------------

    def _feed(self) -> Any:
        assert self.client is not None
        self.sound = False  # until the run has ended and been checked
        self.sb.after_page(self.armed)
        return self.client.receipts.changes(
            since=self.saved, limit=LIMIT, concurrency=self.concurrency
        )

    def _store(self, items: tuple[Receipt, ...], checkpoint: str) -> None:
        versions = [_version(r) for r in items]
        repeated = self.stored.intersection(versions)
        assert not repeated, f"stored twice across saved checkpoints: {repeated}"
        assert len(set(versions)) == len(versions), "a version twice in one batch"
        self.stored.update(versions)
        self.saved = checkpoint

    def _done(self) -> None:
        self.sb.after_page(None)
        if self.failures:
            raise self.failures[0]
        self.sound = True

    @rule(k=st.integers(1, 3))
    def run_stopped_unsaved(self, k: int) -> None:
        """A run killed after ``k`` batches, before it saved any of them."""

        async def run() -> None:
            feed = self._feed()
            taken = 0
            async for _ in feed:
                taken += 1
                if taken == k:
                    break

        self.runner.run(run())
        self._done()

    @rule(k=st.integers(1, 3))
    def run_stopped_saved(self, k: int) -> None:
        """A run that saves each batch and stops after ``k`` of them."""

        async def run() -> None:
            feed = self._feed()
            taken = 0
            async for batch in feed:
                self._store(batch.items, batch.checkpoint)
                taken += 1
                if taken == k:
                    break

        self.runner.run(run())
        self._done()

    @rule()
    def run_to_the_end(self) -> None:
        """A run read to the end delivers every version visible at its start still current."""
        visible = {_served(item) for item in self.sb.items("receipts")}

        async def run() -> None:
            feed = self._feed()
            async for batch in feed:
                self._store(batch.items, batch.checkpoint)
            self.saved = feed.checkpoint

        self.runner.run(run())
        self._done()
        current = {_served(item) for item in self.sb.items("receipts")}
        missing = (visible & current) - self.stored
        self.sound = not missing
        assert not missing, f"never delivered: {sorted(missing)[:3]}"


@pytest.mark.parametrize("cursor", ["key", "drf"])
@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize("precision", ["seconds", "microseconds"])
def test_the_changes_feed_loses_and_repeats_nothing(
    precision: str, concurrency: int, cursor: str
) -> None:
    """Whatever happens to the tenant between and during runs, a full run delivers every
    version visible at its start, and no saved batch repeats a stored version; with the
    sandbox's key cursors and with DRF's position-plus-offset ones."""
    _run_machine(f"{precision}_{concurrency}_{cursor}", precision, concurrency, cursor)


def _run_machine(name: str, precision: str, concurrency: int, cursor: str) -> None:
    machine = type(
        f"ChangesMachine_{name}",
        (ChangesMachine,),
        {"precision": precision, "concurrency": concurrency, "drf_cursor": cursor == "drf"},
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=16,
            stateful_step_count=30,
            deadline=None,
            # The explain phase traces every line, and its path lookups block the loop.
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


@pytest.mark.parametrize("cursor", ["key", "drf"])
@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_feed_that_defers_past_its_cap_loses_and_repeats_nothing(
    concurrency: int, cursor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same, with so few versions kept inside the overlap that most runs defer rows and
    wait out the overlap for them (a burst of late uploads, scaled down)."""
    monkeypatch.setattr(bessa_async._listing.changes, "KEEP_AT_MOST", 4)
    _run_machine(f"deferring_{concurrency}_{cursor}", "seconds", concurrency, cursor)
