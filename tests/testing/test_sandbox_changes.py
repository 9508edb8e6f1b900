"""The sandbox's changes over time: its clock and Date header, stamp precision, writes, commit
lag, late uploads and the after_page hook, all on an injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest

from bessa_async import BessaClient
from bessa_async.testing import FakeClock, Sandbox, ServedPage

NOW = datetime(2026, 7, 15, 12, 0, 0, 250_000, tzinfo=UTC)
"""After every stamp of the generated data (its days end on 1 July)."""


@asynccontextmanager
async def _sandbox(clock: FakeClock, **options: Any) -> AsyncIterator[Sandbox]:
    async with Sandbox(receipts=60, clock=clock, sleep=clock.sleep, now=NOW, **options) as sb:
        yield sb


@asynccontextmanager
async def _client(sb: Sandbox, clock: FakeClock) -> AsyncIterator[BessaClient]:
    async with BessaClient(sb.token, base_url=sb.url, clock=clock, sleep=clock.sleep) as client:
        yield client


async def _get(sb: Sandbox, path: str, **query: str) -> tuple[int, Any, str]:
    """Status, decoded body and Date header of one GET."""
    headers = {"Authorization": f"Token {sb.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(sb.url + path, params=query, headers=headers) as answer,
    ):
        return answer.status, await answer.json(), answer.headers["Date"]


async def _all(client: BessaClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every raw item of a list, page by page."""
    items: list[dict[str, Any]] = []
    page = await client.request("GET", path, params={"limit": 500, **params})
    items += page["results"]
    while page["next"]:
        page = await client.request("GET", page["next"])
        items += page["results"]
    return items


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- the clock, the Date header and the offset -----------------------------------------------


async def test_every_answer_carries_the_sandbox_clocks_date(clock: FakeClock) -> None:
    """The Date header is the sandbox's clock, not the machine's, and moves with it."""
    async with _sandbox(clock) as sb:
        _, _, date = await _get(sb, "tax-rates/")
        assert parsedate_to_datetime(date) == NOW.replace(microsecond=0)
        clock.advance(90.5)
        _, _, date = await _get(sb, "no-such-path/")  # errors carry it too
        assert parsedate_to_datetime(date) == (NOW + timedelta(seconds=90.5)).replace(microsecond=0)
        assert sb.now() == NOW + timedelta(seconds=90.5)


@pytest.mark.parametrize("seconds", [40, -40])
async def test_a_server_offset_moves_stamps_and_date_but_not_the_client(
    clock: FakeClock, seconds: int
) -> None:
    """With server_offset the server's stamps and Date are that far from the client's time."""
    offset = timedelta(seconds=seconds)
    async with _sandbox(clock, server_offset=offset) as sb:
        assert sb.client_now() == NOW
        assert sb.now() == NOW + offset
        rate = sb.data.tax_rates[0]
        edited = sb.edit("tax-rates", rate["id"], name="Normal")
        assert _when(edited["updated"]) == NOW + offset
        _, _, date = await _get(sb, "tax-rates/")
        assert parsedate_to_datetime(date) == (NOW + offset).replace(microsecond=0)


async def test_the_server_offset_can_be_moved_mid_run(clock: FakeClock) -> None:
    """Setting sb.server_offset moves the server's Date and stamps from then on."""
    async with _sandbox(clock) as sb:
        assert sb.server_offset == timedelta(0)
        sb.server_offset = timedelta(hours=1)
        assert sb.now() == NOW + timedelta(hours=1)
        _, _, date = await _get(sb, "tax-rates/")
        assert parsedate_to_datetime(date) == (NOW + timedelta(hours=1)).replace(microsecond=0)
        sb.server_offset = timedelta(0)
        assert sb.now() == sb.client_now() == NOW


@pytest.mark.parametrize("seconds", [40, -40])
async def test_a_feed_follows_the_servers_clock_whatever_the_offset(
    clock: FakeClock, seconds: int
) -> None:
    """An edit made after a run is delivered by the next, with the server's clock ±40 s off."""
    async with (
        _sandbox(clock, server_offset=timedelta(seconds=seconds)) as sb,
        _client(sb, clock) as client,
    ):
        first = client.articles.changes(overlap=timedelta(0))
        async for _ in first:
            pass
        clock.advance(5)
        article = sb.data.articles[3]
        sb.edit("articles", article["id"], price="9.90")
        feed = client.articles.changes(since=first.checkpoint, overlap=timedelta(0))
        got = [a async for batch in feed for a in batch.items]
        assert [(str(a.id), str(a.price)) for a in got] == [(article["id"], "9.90")]


# --- precision -----------------------------------------------------------------------------


async def test_whole_second_precision_applies_to_every_stamp(clock: FakeClock) -> None:
    """updated_precision="seconds": generated and written stamps have no fraction."""
    clock.advance(0.75)
    async with _sandbox(clock, updated_precision="seconds") as sb:
        sb.edit("articles", sb.data.articles[0]["id"], name="Cola")
        sb.upload_late(count=2, hours_ago=3)
        async with _client(sb, clock) as client:
            served = [*await _all(client, "articles/"), *await _all(client, "receipts/")]
    stamps = [item[field] for item in served for field in ("created", "updated")]
    assert len(stamps) == 2 * (len(sb.data.articles) + 62)
    assert all(_when(stamp).microsecond == 0 for stamp in stamps)
    fractions = [r["updated"] for r in sb.data.receipts if _when(r["updated"]).microsecond]
    assert fractions  # the generated data has them; the sandbox serves them cut


async def test_microsecond_precision_keeps_the_clocks_fraction(clock: FakeClock) -> None:
    """updated_precision="microseconds" (the default) stamps the clock's exact time."""
    async with _sandbox(clock) as sb:
        clock.advance(0.000_125)
        item = sb.edit("articles", sb.data.articles[0]["id"], name="Cola")
        assert _when(item["updated"]) == NOW + timedelta(microseconds=125)


def test_a_bad_precision_or_a_naive_start_is_refused() -> None:
    """Options that cannot be served are a ValueError, before any data is made."""
    with pytest.raises(ValueError, match="seconds"):
        Sandbox(receipts=1, updated_precision="millis")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aware"):
        Sandbox(receipts=1, now=datetime(2026, 7, 1))
    with pytest.raises(ValueError, match="commit_lag"):
        Sandbox(receipts=1, commit_lag=timedelta(seconds=-1))


# --- inserts, edits and deletes --------------------------------------------------------------


async def test_an_edit_bumps_updated_and_is_listed_as_changed(clock: FakeClock) -> None:
    """A master-data edit serves a new version stamped now; updated__gte finds only it."""
    async with _sandbox(clock) as sb, _client(sb, clock) as client:
        before = {a["id"]: a["updated"] for a in await _all(client, "articles/")}
        clock.advance(10)
        article = sb.data.articles[2]
        edited = sb.edit("articles", article["id"], active=False)
        changed = await _all(client, "articles/", updated__gte=NOW)
        after = await _all(client, "articles/")
    assert changed == [edited]
    assert edited["active"] is False
    assert _when(edited["updated"]) == NOW + timedelta(seconds=10)
    assert len(after) == len(before)
    assert article["active"] is True  # the generated data is never changed in place
    assert sb.items("articles") == after


async def test_an_insert_is_a_new_item_created_now(clock: FakeClock) -> None:
    """insert() adds an item with a new id, the given fields and created = updated = now."""
    async with _sandbox(clock) as sb, _client(sb, clock) as client:
        table = sb.insert("tables", name="Terrasse 9")
        receipt = sb.insert("receipts")
        tables = await _all(client, "tables/", updated__gte=NOW)
        receipts = await _all(client, "receipts/", updated__gte=NOW)
        typed = await client.receipts.get(receipt["id"])
    assert tables == [table]
    assert table["name"] == "Terrasse 9"
    assert table["id"] not in {t["id"] for t in sb.data.tables}
    assert receipts == [receipt]
    assert receipt["created"] == receipt["updated"] == receipt["timestamp"]
    register = receipt["signature"]["cash_register_id"]
    same_till = {
        r["number"] for r in sb.data.receipts if r["signature"]["cash_register_id"] == register
    }
    assert receipt["number"] not in same_till
    assert receipt["number"] in receipt["signature"]["qr"]
    assert str(typed.id) == receipt["id"]


async def test_a_hard_delete_removes_the_item(clock: FakeClock) -> None:
    """Without soft deletes, a deleted item is listed nowhere and its detail is a 404."""
    async with _sandbox(clock) as sb, _client(sb, clock) as client:
        user = sb.data.users[0]
        sb.delete("users", user["id"])
        listed = {u["id"] for u in await _all(client, "users/")}
        status, _, _ = await _get(sb, f"users/{user['id']}/")
    assert user["id"] not in listed
    assert len(listed) == len(sb.data.users) - 1
    assert status == 404


async def test_a_soft_delete_flags_and_bumps_the_item(clock: FakeClock) -> None:
    """With soft deletes, every item carries deleted; a deleted one is listed, flagged and
    changed now, and a feed hands it over in batch.deleted."""
    async with _sandbox(clock, soft_deletes=True) as sb, _client(sb, clock) as client:
        first = client.payment_methods.changes()
        async for _ in first:
            pass
        clock.advance(70)
        method = sb.data.payment_methods[1]
        flagged = sb.delete("payment-methods", method["id"])
        listed = await _all(client, "payment-methods/")
        feed = client.payment_methods.changes(since=first.checkpoint)
        batches = [batch async for batch in feed]
    stamp = NOW + timedelta(seconds=70)
    assert _when(flagged["deleted"]) == _when(flagged["updated"]) == stamp
    assert all("deleted" in m for m in listed)
    assert [m["id"] for m in listed if m["deleted"]] == [method["id"]]
    assert [str(m.id) for b in batches for m in b.deleted] == [method["id"]]


async def test_stock_levels_are_edited_by_article_and_location(clock: FakeClock) -> None:
    """Stock levels have no id: they are named "<article>/<location>"."""
    async with _sandbox(clock) as sb, _client(sb, clock) as client:
        level = sb.data.stock_levels[0]
        edited = sb.edit("stock-levels", f"{level['article']}/{level['location']}", quantity="7")
        changed = await _all(client, "stock-levels/", updated__gte=NOW)
    assert changed == [edited]
    assert edited["quantity"] == "7"


@pytest.mark.parametrize(
    ("write", "error", "words"),
    [
        (lambda sb: sb.edit("articles", "nope", name="x"), KeyError, "no item"),
        (lambda sb: sb.delete("tables", "nope"), KeyError, "no item"),
        (lambda sb: sb.edit("gadgets", "x"), ValueError, "no resource 'gadgets'"),
        (lambda sb: sb.insert("requests/orders"), ValueError, "no resource"),
        (lambda sb: sb.insert("tables", updated="2026-01-01T00:00:00Z"), ValueError, "clock"),
        (lambda sb: sb.edit("tables", sb.data.tables[0]["id"], id="x"), ValueError, "id"),
        (
            lambda sb: sb.insert("receipts", timestamp=datetime(2026, 7, 1)),
            ValueError,
            "naive",
        ),
        (lambda sb: sb.insert("tables", id=sb.data.tables[0]["id"]), ValueError, "exists"),
        (lambda sb: sb.upload_late(count=0), ValueError, "count"),
        (lambda sb: sb.upload_late(hours_ago=0), ValueError, "hours_ago"),
        (lambda sb: sb.upload_late(sales_point="nope"), ValueError, "no invoice"),
        (
            lambda sb: sb.edit("tables", sb.data.tables[0]["id"], lag=-timedelta(1)),
            ValueError,
            "lag",
        ),
    ],
)
async def test_a_bad_write_says_what_is_wrong(
    clock: FakeClock, write: Callable[[Sandbox], object], error: type[Exception], words: str
) -> None:
    """Writes to unknown items or resources, or of stamps, are refused with a reason."""
    async with _sandbox(clock) as sb:
        with pytest.raises(error, match=words):
            write(sb)
        assert sb.pending_writes == 0


# --- late uploads and commit lag -------------------------------------------------------------


async def test_a_late_upload_has_old_timestamps_and_a_current_updated(clock: FakeClock) -> None:
    """An offline till's receipts land in the past by timestamp but now by updated, so a
    timestamp window read earlier missed them and an updated__gte read finds them."""
    async with _sandbox(clock) as sb, _client(sb, clock) as client:
        window = {"timestamp__gte": NOW - timedelta(hours=6), "timestamp__lt": NOW}
        assert await _all(client, "receipts/", **window) == []
        point = sb.data.receipts[-1]["sales_point"]
        uploaded = sb.upload_late(sales_point=point, count=3, hours_ago=5)
        changed = await _all(client, "receipts/", updated__gte=NOW)
        in_window = await _all(client, "receipts/", **window)
    stamps = [_when(r["timestamp"]) for r in uploaded]
    assert stamps == sorted(stamps)
    assert stamps[0] == NOW - timedelta(hours=5)
    assert stamps[-1] - stamps[0] == timedelta(minutes=2)
    assert all(_when(r["updated"]) == NOW and r["sales_point"] == point for r in uploaded)
    assert changed == in_window == uploaded


async def test_commit_lag_hides_a_write_until_its_time(clock: FakeClock) -> None:
    """A write at T with updated = T becomes visible at T + lag; until then the old version
    is served, and writes to one item become visible in order."""
    lag = timedelta(seconds=30)
    async with _sandbox(clock, commit_lag=lag) as sb, _client(sb, clock) as client:
        table = sb.data.tables[0]
        sb.edit("tables", table["id"], name="A")
        clock.advance(10)
        sb.edit("tables", table["id"], name="B", lag=timedelta(0))  # waits for the first
        inserted = sb.insert("tables", name="Neu", lag=timedelta(seconds=5))
        assert sb.pending_writes == 3
        assert await _all(client, "tables/", updated__gte=NOW) == []
        clock.advance(5)
        assert await _all(client, "tables/", updated__gte=NOW) == [inserted]
        clock.advance(15)
        changed = await _all(client, "tables/", updated__gte=NOW)
    assert sb.pending_writes == 0
    by_id = {t["id"]: t for t in changed}
    assert by_id[table["id"]]["name"] == "B"
    assert _when(by_id[table["id"]]["updated"]) == NOW + timedelta(seconds=10)
    assert _when(inserted["updated"]) == NOW + timedelta(seconds=10)


async def test_a_feed_with_enough_overlap_sees_a_lagging_commit(clock: FakeClock) -> None:
    """A row that commits 20 s after its updated, once a run has passed it, is delivered by
    the next run: the feed's overlap (60 s) covers the lag."""
    async with (
        _sandbox(clock, commit_lag=timedelta(seconds=20)) as sb,
        _client(sb, clock) as client,
    ):
        first = client.articles.changes()
        async for _ in first:
            pass
        article = sb.data.articles[0]
        sb.edit("articles", article["id"], price="1.00")  # stamped now, visible at +20 s
        clock.advance(2)
        hidden = client.articles.changes(since=first.checkpoint)
        assert [b async for b in hidden] == []
        clock.advance(30)
        feed = client.articles.changes(since=hidden.checkpoint)
        got = [a async for batch in feed for a in batch.items]
    assert [str(a.id) for a in got] == [article["id"]]


# --- changes between two pages ---------------------------------------------------------------


async def test_after_page_runs_between_two_pages_of_a_walk(clock: FakeClock) -> None:
    """The callback hears of each list page (resource, number, items) before the next is
    read, so a change it makes ahead of the cursor shows on a later page."""
    heard: list[ServedPage] = []
    async with _sandbox(clock) as sb, _client(sb, clock) as client:
        last = sb.data.articles[-1]

        def change(page: ServedPage) -> None:
            heard.append(page)
            if page.number == 1:
                sb.edit("articles", last["id"], name="Edited mid-walk")

        sb.after_page(change)
        names = {str(a.id): a.name async for a in client.articles.list(limit=10)}
        await client.tax_rates.list().collect()
        sb.after_page(None)
        await client.tax_rates.list().collect()
    assert names[last["id"]] == "Edited mid-walk"
    articles = [p for p in heard if p.resource == "articles"]
    assert [p.number for p in articles] == list(range(1, len(articles) + 1))
    assert [p.first for p in articles] == [True] + [False] * (len(articles) - 1)
    assert sum(len(p.items) for p in articles) == len(sb.data.articles)
    assert [p.resource for p in heard].count("tax-rates") == 1


async def test_an_async_after_page_callback_is_awaited(clock: FakeClock) -> None:
    """A coroutine function works as the callback too; each page is told once."""
    heard: list[int] = []
    async with _sandbox(clock) as sb, _client(sb, clock) as client:

        async def note(page: ServedPage) -> None:
            heard.append(page.number)

        sb.after_page(note)
        await client.tables.list(limit=5).collect()
    assert heard == list(range(1, len(heard) + 1))
    assert len(heard) == -(-len(sb.data.tables) // 5)


async def test_a_row_inserted_into_a_group_of_equal_timestamps_mid_walk_is_delivered(
    clock: FakeClock,
) -> None:
    """A receipt inserted during a pass with the timestamp of one just read (a tie in the
    list order) reaches the consumer by the end of the next run."""
    async with _sandbox(clock) as sb, _client(sb, clock) as client:
        inserted: list[dict[str, Any]] = []

        def tie(page: ServedPage) -> None:
            if page.resource == "receipts" and page.number == 2:
                inserted.append(sb.insert("receipts", timestamp=page.items[-1]["timestamp"]))

        sb.after_page(tie)
        first = client.receipts.changes(limit=10)
        ids = [str(r.id) async for batch in first for r in batch.items]
        sb.after_page(None)
        clock.advance(1)
        again = client.receipts.changes(since=first.checkpoint, limit=10)
        ids += [str(r.id) async for batch in again for r in batch.items]
    (row,) = inserted
    assert ids.count(row["id"]) == 1
    assert sorted(ids) == sorted(r["id"] for r in sb.items("receipts"))


# --- DRF's cursor: a position plus an offset -------------------------------------------------


async def _tied(sb: Sandbox, count: int) -> tuple[datetime, list[str]]:
    """``count`` receipts inserted with one timestamp after every other receipt."""
    moment = NOW - timedelta(minutes=1)
    ids = [sb.insert("receipts", timestamp=moment)["id"] for _ in range(count)]
    return moment, sorted(ids)  # a tie is listed by id


async def test_a_drf_cursor_walks_a_group_of_equal_timestamps(clock: FakeClock) -> None:
    """drf_cursor=True: pages inside a group of equal positions go on by offset and read
    every row once; the cursor is DRF's o/r/p form."""
    async with _sandbox(clock, drf_cursor=True) as sb, _client(sb, clock) as client:
        moment, ids = await _tied(sb, 5)
        walked = [r["id"] for r in await _all(client, "receipts/", timestamp__gte=moment)]
        small = []
        page = await client.request(
            "GET", "receipts/", params={"timestamp__gte": moment, "limit": 2}
        )
        small += [r["id"] for r in page["results"]]
        while page["next"]:
            assert page["previous"] is None
            page = await client.request("GET", page["next"])
            small += [r["id"] for r in page["results"]]
        everything = [r["id"] for r in await _all(client, "receipts/")]
    assert walked == small == ids
    assert len(everything) == len(set(everything)) == len(sb.data.receipts) + 5


@pytest.mark.parametrize(("drf", "skipped"), [(True, 1), (False, 0)])
async def test_a_row_leaving_a_tie_behind_a_drf_cursor_makes_it_skip_one(
    clock: FakeClock, drf: bool, skipped: int
) -> None:
    """A row of a tie group deleted behind the cursor shifts DRF's offset: the next page
    skips a live row. The sandbox's own key cursor skips nothing."""
    async with _sandbox(clock, drf_cursor=drf) as sb, _client(sb, clock) as client:
        moment, ids = await _tied(sb, 5)

        def delete_first(page: ServedPage) -> None:
            if page.number == 1:
                sb.delete("receipts", page.items[0]["id"])

        sb.after_page(delete_first)
        read = [r.id async for r in client.receipts.list(timestamp__gte=moment, limit=2)]
    assert len(read) == 5 - skipped
    assert len({str(i) for i in read} | {ids[0]}) == 5 - skipped


async def test_an_unreadable_drf_cursor_is_a_404(clock: FakeClock) -> None:
    """A cursor that is not DRF's o/r/p form is DRF's 404 Invalid cursor."""
    async with _sandbox(clock, drf_cursor=True) as sb:
        for cursor in ("garbage", "bz0tMSZyPTA", "bz0xJnI9MSZwPTU"):  # o=-1&r=0, o=1&r=1&p=5
            status, body, _ = await _get(sb, "receipts/", cursor=cursor)
            assert (status, body) == (404, {"detail": "Invalid cursor"})
