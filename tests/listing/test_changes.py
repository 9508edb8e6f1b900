"""The changes feed: checkpoints (pure), the server's clock (pure), and runs on the sandbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async import (
    BessaClient,
    DecodeError,
    InvalidTypeError,
    InvalidValueError,
    Receipt,
    ResumeTokenError,
)
from bessa_async._listing.changes import server_time
from bessa_async._listing.checkpoint import Chain, Checkpoint, Pass, read_checkpoint
from bessa_async.testing import FakeClock, Sandbox

# --- checkpoints, pure ------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
texts = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
LATER = datetime(2100, 1, 1, tzinfo=UTC)
"""This machine's clock for the pure checkpoints: after every moment they hold."""
chains = st.builds(
    Chain,
    lo=st.none() | moments,
    hi=st.none() | moments,
    cursor=st.none() | texts,
    done=st.booleans(),
).filter(lambda c: c.lo is None or c.hi is None or c.lo < c.hi)
planned = st.builds(
    Pass,
    bound=st.none() | moments,
    start=moments,
    chains=st.lists(chains, min_size=1, max_size=4)
    .map(tuple)
    .filter(lambda cs: not all(c.done for c in cs)),
)
passes = planned | st.builds(Pass, bound=st.none() | moments, start=st.none() | moments)
versions = st.tuples(texts, moments.map(lambda m: m.isoformat()), texts)
checkpoints = st.builds(
    Checkpoint,
    resource=st.sampled_from(["receipts", "articles"]),
    filters=st.lists(st.tuples(texts, texts), max_size=3).map(lambda p: tuple(sorted(p))),
    watermark=st.none() | moments,
    current=st.none() | passes,
    seen=st.frozensets(versions, max_size=5),
)


@given(checkpoints)
def test_a_checkpoint_reads_back_as_itself(checkpoint: Checkpoint) -> None:
    text = checkpoint.to_json()
    back = read_checkpoint(
        text,
        resource=checkpoint.resource,
        filters=checkpoint.filters,
        now=LATER,
        allowance=timedelta(0),
    )
    assert back == checkpoint
    assert json.loads(text)["kind"] == "bessa.changes"


GOOD = Checkpoint(resource="receipts", filters=(("type", "invoice"),)).to_json()
NOW = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
"""This machine's clock for the bad checkpoints."""


def _with(**changes: object) -> str:
    body = json.loads(GOOD)
    body.update(changes)
    return json.dumps(body)


def _chain(**changes: object) -> dict[str, object]:
    return {"lo": None, "hi": None, "cursor": None, "done": False, **changes}


def _pass(**changes: object) -> dict[str, object]:
    return {"bound": None, "start": "2026-07-15T11:00:00+00:00", "chains": [_chain()], **changes}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a changes checkpoint"),
        ('{"v": 1, "kind": "sharded listing"}', "not a changes checkpoint"),
        (_with(v=2), "version 2"),
        (_with(resource="articles"), "belongs to 'articles'"),
        (_with(filters=[["type", "training"]]), "filters"),
        (_with(watermark="2026-06-01T00:00:00"), "no UTC offset"),
        (_with(watermark=5), "not a timestamp"),
        (_with(seen=[["a", "b"]]), "[id, updated, digest]"),
        (_with(seen="x"), "'seen'"),
        (_with(**{"pass": 3}), "'pass'"),
        (_with(**{"pass": _pass(chains=[_chain(done="yes")])}), "'done'"),
        (_with(**{"pass": _pass(chains=[_chain(cursor=7)])}), "cursor"),
        (_with(**{"pass": _pass(chains=[3])}), "chain"),
        (_with(**{"pass": {"bound": None, "chains": []}}), "'pass'"),
        # what tampering makes: a run that reads nothing new, or nothing at all, for ever
        (_with(watermark="2026-07-15T12:02:00+00:00"), "0:02:00 after this machine's clock"),
        (_with(**{"pass": _pass(start="2026-07-16T00:00:00+00:00")}), "start"),
        (_with(**{"pass": _pass(start=None, chains=[_chain(done=True)])}), "no start"),
        (_with(**{"pass": _pass(chains=[_chain(done=True)])}), "all done"),
        (_with(v=True), "version True"),
        (_with(v=1.0), "version 1.0"),
        (_with(extra=1), "fields"),
        (_with(filters=[["type"]]), "'filters'"),
        (_with(filters=[["type", "invoice"], 3]), "'filters'"),
        (_with(resource=None), "belongs to None"),
        # bad input a run would have met only after sending requests
        (_with(seen=[["a", "yesterday", "d"]]), "version's updated"),
        (_with(seen=[["a", "2026-07-01T00:00:00", "d"]]), "no UTC offset"),
        (_with(watermark="0001-01-01T00:00:00+00:00"), "before 1970"),
        (_with(**{"pass": _pass(chains=[_chain(lo="0001-01-01T00:30:00+01:00")])}), "range"),
        (_with(**{"pass": _pass(chains=[_chain(hi="9999-12-31T23:00:00-02:00")])}), "range"),
        (
            _with(
                **{
                    "pass": _pass(
                        chains=[
                            _chain(lo="2026-07-02T00:00:00+00:00", hi="2026-07-01T00:00:00+00:00")
                        ]
                    )
                }
            ),
            "lo is not before its hi",
        ),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),
    ],
)
def test_a_bad_checkpoint_says_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(ResumeTokenError, match="nothing was sent") as caught:
        read_checkpoint(
            text,
            resource="receipts",
            filters=(("type", "invoice"),),
            now=NOW,
            allowance=timedelta(seconds=60),
        )
    assert words in str(caught.value)


def test_a_checkpoint_within_the_allowance_of_this_machines_clock_is_read() -> None:
    text = _with(watermark="2026-07-15T12:01:00+00:00")
    read = read_checkpoint(
        text,
        resource="receipts",
        filters=(("type", "invoice"),),
        now=NOW,
        allowance=timedelta(seconds=60),
    )
    assert read.watermark == datetime(2026, 7, 15, 12, 1, tzinfo=UTC)


def test_the_watermark_is_the_servers_second_less_one() -> None:
    moment = server_time("Mon, 15 Jun 2026 10:00:07 GMT", resource="receipts")
    assert moment == datetime(2026, 6, 15, 10, 0, 6, tzinfo=UTC)


@pytest.mark.parametrize("header", [None, "", "yesterday"])
def test_no_date_header_is_a_decode_error(header: str | None) -> None:
    with pytest.raises(DecodeError, match="Date header"):
        server_time(header, resource="receipts")


# --- runs on the sandbox ----------------------------------------------------------------------


def _names(request: object) -> set[str]:
    return {name for name, _ in request.query}  # type: ignore[attr-defined]


async def test_a_first_load_delivers_every_receipt_once(
    client: BessaClient, sandbox: Sandbox
) -> None:
    feed = client.receipts.changes(limit=100)
    batches = [batch async for batch in feed]
    ids = [r.id for batch in batches for r in batch.items]
    assert len(ids) == len(set(ids)) == len(sandbox.data.receipts)
    assert all(isinstance(r, Receipt) for batch in batches for r in batch.items)
    assert feed.stats.new == len(ids)
    assert batches[-1].checkpoint == feed.checkpoint
    sent = [r for r in sandbox.requests if r.path == "receipts/"]
    assert all("updated__lt" not in _names(r) for r in sent)
    assert all("updated__gte" not in _names(r) for r in sent)  # a full load: no bound


async def test_a_run_on_an_unchanged_tenant_costs_one_request(
    client: BessaClient, sandbox: Sandbox
) -> None:
    first = client.receipts.changes(limit=100)
    async for _ in first:
        pass
    before = len(sandbox.requests)
    again = client.receipts.changes(since=first.checkpoint, limit=100)
    assert [batch async for batch in again] == []
    assert len(sandbox.requests) - before == again.stats.requests == 1
    (sent,) = sandbox.requests[before:]
    assert "updated__gte" in _names(sent)
    assert "updated__lt" not in _names(sent)


async def test_a_saved_batch_checkpoint_resumes_after_that_batch(
    client: BessaClient, sandbox: Sandbox
) -> None:
    seen: list[object] = []
    saved = None
    async for batch in client.receipts.changes(limit=50):
        seen.extend(r.id for r in batch.items)
        saved = batch.checkpoint
        if len(seen) >= 100:
            break
    assert saved is not None
    rest = [
        r.id async for batch in client.receipts.changes(since=saved, limit=50) for r in batch.items
    ]
    assert set(seen).isdisjoint(rest)
    assert len(seen) + len(rest) == len(sandbox.data.receipts)


@pytest.mark.parametrize("concurrency", [2, 4])
async def test_concurrent_chains_deliver_the_same_items(
    client: BessaClient, sandbox: Sandbox, concurrency: int
) -> None:
    feed = client.receipts.changes(limit=40, concurrency=concurrency)
    ids = [r.id async for batch in feed for r in batch.items]
    assert len(ids) == len(set(ids)) == len(sandbox.data.receipts)
    assert feed.stats.chains == concurrency
    sent = [r for r in sandbox.requests if r.path == "receipts/"]
    assert all("updated__lt" not in _names(r) for r in sent)


async def test_master_data_is_followed_by_one_chain(client: BessaClient, sandbox: Sandbox) -> None:
    feed = client.articles.changes(concurrency=4)
    ids = [a.id async for batch in feed for a in batch.items]
    assert len(ids) == len(set(ids)) == len(sandbox.data.articles)
    assert feed.stats.chains == 1


async def test_since_a_datetime_sends_it_as_the_bound(
    client: BessaClient, sandbox: Sandbox
) -> None:
    since = datetime(2026, 6, 1, tzinfo=UTC)
    feed = client.articles.changes(since=since, limit=100)
    async for _ in feed:
        pass
    assert dict(sandbox.requests[-1].query)["updated__gte"] == since.isoformat()


async def test_a_feed_runs_once(client: BessaClient) -> None:
    feed = client.tax_rates.changes()
    async for _ in feed:
        pass
    with pytest.raises(InvalidValueError, match="runs once"):
        feed.__aiter__()


def _tampered(**changes: object) -> str:
    """A receipts checkpoint with no filters, ``changes`` made to it by hand."""
    body = json.loads(Checkpoint(resource="receipts", filters=()).to_json())
    body.update(changes)
    return json.dumps(body)


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (
            lambda c: c.receipts.changes(since=_tampered(watermark="2100-01-01T00:00:00+00:00")),
            ResumeTokenError,
            "after this machine's clock",
        ),
        (
            lambda c: c.receipts.changes(
                since=_tampered(**{"pass": _pass(start=None, chains=[_chain(done=True)])})
            ),
            ResumeTokenError,
            "no start",
        ),
        (lambda c: c.receipts.changes(since=_tampered(v=True)), ResumeTokenError, "True"),
        (
            lambda c: c.receipts.changes(since=_tampered(seen=[["a", "b", "c"]])),
            ResumeTokenError,
            "updated",
        ),
        (
            lambda c: c.receipts.changes(since='{"a":' * 50_000 + "1" + "}" * 50_000),
            ResumeTokenError,
            "not JSON",
        ),
        (lambda c: c.receipts.changes(since=GOOD), ResumeTokenError, "filters"),
        (lambda c: c.articles.changes(since=GOOD), ResumeTokenError, "belongs to 'receipts'"),
        (lambda c: c.receipts.changes(since="{}"), ResumeTokenError, "not a changes"),
        (lambda c: c.receipts.changes(since=datetime(2026, 6, 1)), InvalidValueError, "naive"),
        (lambda c: c.receipts.changes(since=5), InvalidTypeError, "since must be"),
        (lambda c: c.receipts.changes(salespoint="x"), InvalidTypeError, "'salespoint'"),
        (
            lambda c: c.receipts.changes(timestamp__gte=datetime(2026, 6, 1, tzinfo=UTC)),
            InvalidTypeError,
            "time windows itself",
        ),
        (lambda c: c.receipts.changes(sales_point="nope"), InvalidValueError, "nope"),
        (lambda c: c.receipts.changes(limit=0), InvalidValueError, "limit"),
        (lambda c: c.receipts.changes(concurrency=0), InvalidValueError, "concurrency"),
        (lambda c: c.receipts.changes(overlap=5), InvalidValueError, "overlap"),
        (lambda c: c.receipts.changes(overlap=-timedelta(1)), InvalidValueError, "overlap"),
    ],
)
async def test_bad_arguments_are_refused_before_anything_is_sent(
    client: BessaClient, sandbox: Sandbox, call: object, error: type[Exception], words: str
) -> None:
    before = len(sandbox.requests)
    with pytest.raises(error) as caught:
        call(client)  # type: ignore[operator]
    assert words in str(caught.value)
    assert len(sandbox.requests) == before


async def test_own_filters_are_sent_and_bind_the_checkpoint(
    client: BessaClient, sandbox: Sandbox
) -> None:
    feed = client.receipts.changes(type="training", limit=100)
    items = [r async for batch in feed for r in batch.items]
    assert items
    assert {r.type for r in items} == {"training"}
    with pytest.raises(ResumeTokenError):
        client.receipts.changes(since=feed.checkpoint)
    again = client.receipts.changes(since=feed.checkpoint, type="training")
    assert [b async for b in again] == []


async def test_reconcile_names_the_ids_no_longer_listed(client: BessaClient) -> None:
    feed = client.tax_rates.changes()
    rates = [r.id async for batch in feed for r in batch.items]
    gone = "00000000-0000-4000-8000-000000000000"
    assert await feed.reconcile([*rates, gone]) == {gone}


async def test_a_resumed_run_also_reads_what_changed_behind_its_cursor(clock: FakeClock) -> None:
    """A run resumed in the middle of a pass finishes it, then reads a new pass: a change made
    before the run started, behind the saved cursor, is delivered by this run."""
    now = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    async with (
        Sandbox(receipts=60, clock=clock, sleep=clock.sleep, now=now) as sb,
        BessaClient(sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep) as client,
    ):
        async for batch in client.receipts.changes(limit=10):
            saved, behind = batch.checkpoint, str(batch.items[0].id)
            break
        clock.advance(3)
        sb.edit("receipts", behind, number="E-1")
        feed = client.receipts.changes(since=saved, limit=10)
        got = [r async for batch in feed for r in batch.items]
    assert [r.number for r in got if str(r.id) == behind] == ["E-1"]
    assert len(got) == len({r.id for r in got}) == len(sb.data.receipts) - 10 + 1


async def test_rows_entering_ahead_of_a_drf_offset_repeat_nothing(clock: FakeClock) -> None:
    """DRF's cursor inside a page-wide group of equal timestamps is a bare offset: a row that
    enters the filtered list before it (an old receipt edited) makes the next page show a row
    of the last one again. The feed delivers that row once."""
    now = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    async with (
        Sandbox(receipts=30, clock=clock, sleep=clock.sleep, now=now, drf_cursor=True) as sb,
        BessaClient(sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep) as client,
    ):
        first = client.receipts.changes(limit=6)
        async for _ in first:
            pass
        tied = {sb.insert("receipts")["id"] for _ in range(7)}  # one timestamp: now
        clock.advance(400)
        async for batch in client.receipts.changes(since=first.checkpoint, limit=6):
            saved, ids = batch.checkpoint, [str(r.id) for r in batch.items]
            break
        old = sb.data.receipts[0]["id"]
        sb.edit("receipts", old, number="E-1")  # enters the list before the offset
        feed = client.receipts.changes(since=saved, limit=6)
        ids += [str(r.id) async for batch in feed for r in batch.items]
    assert sorted(ids) == sorted([*tied, old])
    assert feed.stats.repeats >= 1
