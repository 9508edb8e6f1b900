"""bessa sync: appends each change once, resumes from its state file, survives kills."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
from datetime import datetime
from pathlib import Path

import pytest
from cli_process import HoldAfter, running_cli

from bessa_async import BessaClient
from bessa_async._cli.app import main
from bessa_async._cli.sync import _cut_torn_tail
from bessa_async._listing.checkpoint import Checkpoint
from bessa_async._registry import DEFAULT_PATHS, SYNCABLE
from bessa_async.testing import Fault, Sandbox, ServedPage


def _argv(sandbox: Sandbox, tmp_path: Path, resource: str = "receipts", *more: str) -> list[str]:
    return [
        *("--base-url", sandbox.url, "--token", sandbox.token, "sync", resource),
        *("--state", str(tmp_path / "state.json"), "--output", str(tmp_path / "out.jsonl")),
        *more,
    ]


def _items(sandbox: Sandbox, resource: str) -> tuple[dict[str, object], ...]:
    return sandbox.data.resources()[DEFAULT_PATHS[resource].rstrip("/")]


def _identity(item: dict[str, object]) -> str:
    if "id" in item:
        return str(item["id"])
    return f"{item['article']}/{item['location']}"  # stock levels have no id of their own


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def _read_lines(path: Path) -> list[dict[str, object]]:
    return await asyncio.to_thread(_lines, path)


def test_sync_has_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    """sync --help exits 0, names every resource it follows and shows an example."""
    with pytest.raises(SystemExit) as info:
        main(["sync", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: bessa sync" in out
    assert "example: bessa sync receipts --state" in out
    assert all(name in out for name in SYNCABLE)


def test_the_command_list_names_sync(capsys: pytest.CaptureFixture[str]) -> None:
    """bessa --help lists sync with its one-line help."""
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "sync " in capsys.readouterr().out


def test_every_resource_with_a_changes_feed_can_be_synced() -> None:
    """The resources are the registry's typed resources with changes(), not a second list."""
    assert {"receipts", "articles", "closings", "tax_rates", "stock_levels"} <= set(SYNCABLE)


@pytest.mark.parametrize("resource", sorted(SYNCABLE))
async def test_a_first_run_writes_each_item_once_and_a_rerun_costs_one_request(
    sandbox: Sandbox, tmp_path: Path, resource: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first run appends every item once and saves a state; a run on the unchanged tenant
    appends nothing and sends at most 2 requests (the sandbox's log)."""
    argv = _argv(sandbox, tmp_path, resource, "--limit", "50")
    assert await asyncio.to_thread(main, argv) == 0, capsys.readouterr().err
    written = await _read_lines(tmp_path / "out.jsonl")
    expected = {_identity(item) for item in _items(sandbox, resource)}
    assert sorted(_identity(item) for item in written) == sorted(expected)
    state = json.loads(await asyncio.to_thread((tmp_path / "state.json").read_text))
    checkpoint = state["checkpoint"]
    assert (state["kind"], state["output"]) == ("bessa.sync", str(tmp_path / "out.jsonl"))
    assert state["size"] == await asyncio.to_thread(os.path.getsize, tmp_path / "out.jsonl")
    assert (checkpoint["kind"], checkpoint["resource"], checkpoint["pass"]) == (
        "bessa.changes",
        resource,
        None,
    )
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"synced {resource} to {tmp_path / 'out.jsonl'}: {len(expected)} new")
    text = await asyncio.to_thread((tmp_path / "out.jsonl").read_text)
    before = len(sandbox.requests)
    assert await asyncio.to_thread(main, argv) == 0
    assert len(sandbox.requests) - before <= 2
    assert await asyncio.to_thread((tmp_path / "out.jsonl").read_text) == text
    sent = len(sandbox.requests) - before
    request = "request" if sent == 1 else "requests"
    summary = f"0 new, 0 changed, 0 deleted; {sent} {request}, 0 retries, 0 429 waits (0.0 s), "
    assert summary in capsys.readouterr().err.splitlines()[-1]


async def test_concurrent_chains_write_each_receipt_once(sandbox: Sandbox, tmp_path: Path) -> None:
    """--concurrency 4 splits the pass by timestamp: still each receipt once, and a rerun on
    the unchanged tenant is one request."""
    argv = _argv(sandbox, tmp_path, "receipts", "--limit", "20", "--concurrency", "4")
    assert await asyncio.to_thread(main, argv) == 0
    written = [item["id"] for item in await _read_lines(tmp_path / "out.jsonl")]
    assert sorted(map(str, written)) == sorted(r["id"] for r in sandbox.data.receipts)
    before = len(sandbox.requests)
    assert await asyncio.to_thread(main, argv) == 0
    assert len(sandbox.requests) - before == 1


async def test_the_lines_are_the_api_items_with_their_unknown_fields(tmp_path: Path) -> None:
    """Each line is the item as the API sent it, fields the library does not model included."""
    async with Sandbox(receipts=50, drift=True) as sandbox:
        assert await asyncio.to_thread(main, _argv(sandbox, tmp_path, "articles")) == 0
        written = {item["id"]: item for item in await _read_lines(tmp_path / "out.jsonl")}
        served = await _served(sandbox, "articles/")
    assert written == served


async def _served(sandbox: Sandbox, path: str) -> dict[object, object]:
    async with BessaClient(sandbox.token, base_url=sandbox.url) as client:
        return {item["id"]: item async for item in client.resource(path).list()}


async def test_changed_and_deleted_items_are_appended_and_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An edit and a soft delete after a run: the next run appends just those two, the deleted
    one with its ``deleted`` timestamp, and counts them in its summary."""
    async with Sandbox(receipts=20, soft_deletes=True) as sandbox:
        argv = _argv(sandbox, tmp_path, "articles")
        assert await asyncio.to_thread(main, argv) == 0
        first = await _read_lines(tmp_path / "out.jsonl")
        renamed, removed = str(first[0]["id"]), str(first[1]["id"])
        sandbox.edit("articles", renamed, name="Almdudler 0.5")
        flagged = sandbox.delete("articles", removed)
        capsys.readouterr()
        assert await asyncio.to_thread(main, argv) == 0
        added = (await _read_lines(tmp_path / "out.jsonl"))[len(first) :]
    assert {item["id"]: item.get("deleted") for item in added} == {
        renamed: None,
        removed: flagged["deleted"],
    }
    assert flagged["deleted"] is not None
    assert next(item for item in added if item["id"] == renamed)["name"] == "Almdudler 0.5"
    assert ": 0 new, 2 changed, 1 deleted; " in capsys.readouterr().err.splitlines()[-1]


OTHER_RESOURCE = Checkpoint(resource="articles", filters=()).to_json()
OTHER_FILTERS = Checkpoint(resource="receipts", filters=(("type", "invoice"),)).to_json()
BAD_STATES = [
    ("garbage", "not JSON"),
    ("", "not JSON"),
    ('{"v": 1, "kind": "bessa.listing"}', "not a changes checkpoint"),
    (OTHER_RESOURCE, "belongs to 'articles', not 'receipts'"),
    (OTHER_FILTERS, "made with the filters {'type': 'invoice'}, not {}"),
    ("[" * 100_000 + "]" * 100_000, "not JSON"),
    ('{"v": 1, "kind": "bessa.sync", "output": "o", "size": true}', "not a whole bessa sync"),
    (
        json.dumps({"v": 1, "kind": "bessa.sync", "output": "o", "size": 0, "checkpoint": {}}),
        "not a changes checkpoint",
    ),
]


@pytest.mark.parametrize(("state", "words"), BAD_STATES, ids=[w for _, w in BAD_STATES])
async def test_a_state_file_of_another_sync_is_refused_before_anything_is_sent(
    sandbox: Sandbox, tmp_path: Path, state: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a checkpoint, or another resource's or filter set's: exit 2 with one line naming the
    file and what is wrong; nothing sent, the state file kept, no output written."""
    target = tmp_path / "state.json"
    await asyncio.to_thread(target.write_text, state, encoding="utf-8")
    assert await asyncio.to_thread(main, _argv(sandbox, tmp_path)) == 2
    [line] = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert line.startswith(f"error: ResumeTokenError: --state {target}: ")
    assert words in line
    assert "nothing was sent" in line
    assert sandbox.requests == []
    assert await asyncio.to_thread(target.read_text, encoding="utf-8") == state
    assert not await asyncio.to_thread((tmp_path / "out.jsonl").exists)


async def test_a_state_file_that_is_not_text_is_refused(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bytes that are not UTF-8: exit 2 naming the file, nothing sent."""
    await asyncio.to_thread((tmp_path / "state.json").write_bytes, b'{"v": 1, "\xff"}')
    assert await asyncio.to_thread(main, _argv(sandbox, tmp_path)) == 2
    assert "ResumeTokenError: --state " in capsys.readouterr().err
    assert sandbox.requests == []


async def test_a_run_that_fails_keeps_what_earlier_runs_saved(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failure mid-run leaves the earlier lines byte for byte, the state at the last saved
    batch (never a partial one), and says so; the next run completes without a repeat."""
    output, state = tmp_path / "out.jsonl", tmp_path / "state.json"
    earlier = b'{"id": "an earlier run\'s line"}\n'
    await asyncio.to_thread(output.write_bytes, earlier)
    argv = _argv(sandbox, tmp_path, "receipts", "--limit", "10", "--concurrency", "1")

    def break_the_second_page(page: ServedPage) -> None:
        if page.number == 1:  # every read after the first page answers a body that is not JSON
            sandbox.inject(Fault.malformed_json(), path="receipts/")

    sandbox.after_page(break_the_second_page)
    assert await asyncio.to_thread(main, argv) == 8
    sandbox.after_page(None)
    text = await asyncio.to_thread(output.read_bytes)
    assert text.startswith(earlier)
    assert len(text[len(earlier) :].splitlines()) == 10
    saved = await asyncio.to_thread(state.read_text)
    assert json.loads(saved)["checkpoint"]["pass"] is not None  # the first batch's checkpoint
    err = capsys.readouterr().err.splitlines()
    assert err[-2].startswith("error: DecodeError: ")
    assert err[-1] == (
        f"sync stopped: {state} stands after the 10 items of the 1 batch this run appended to "
        f"{output}; run the same command to go on"
    )
    sandbox.clear_faults()
    sandbox.inject(Fault.status(404), path="receipts/")  # now the first request fails
    assert await asyncio.to_thread(main, argv) == 8
    assert await asyncio.to_thread(state.read_text) == saved
    assert await asyncio.to_thread(output.read_bytes) == text
    assert f"{state} and {output} are as the last run left them" in capsys.readouterr().err
    sandbox.clear_faults()
    assert await asyncio.to_thread(main, argv) == 0
    ids = [str(item["id"]) for item in (await _read_lines(output))[1:]]
    assert sorted(ids) == sorted(r["id"] for r in sandbox.data.receipts)


def test_a_torn_last_line_is_cut_off(tmp_path: Path) -> None:
    """What a kill mid-write leaves after the last newline is cut; whole lines stay, and so
    does every byte before the size the state proves whole."""
    target = tmp_path / "out.jsonl"
    target.write_bytes(b'{"id": 1}\n{"id": 2}\n{"id": 3, "na')
    assert _cut_torn_tail(str(target), 0) == len(b'{"id": 3, "na')
    assert target.read_bytes() == b'{"id": 1}\n{"id": 2}\n'
    assert _cut_torn_tail(str(target), 0) == 0
    target.write_bytes(b'{"id": 1, "no newline at all')
    assert _cut_torn_tail(str(target), 0) == len(b'{"id": 1, "no newline at all')
    assert target.read_bytes() == b""
    target.write_bytes(b'{"id": 1, "theirs"}{"id": 2, "na')
    assert _cut_torn_tail(str(target), 19) == len(b'{"id": 2, "na')
    assert target.read_bytes() == b'{"id": 1, "theirs"}'
    assert _cut_torn_tail(str(target), 19) == 0
    assert _cut_torn_tail(str(tmp_path / "missing.jsonl"), 0) == 0


async def test_a_torn_last_line_is_written_again_whole(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output ending in a torn line after what the state saved (a killed run): the run
    cuts it, says so, appends whole lines only."""
    output = tmp_path / "out.jsonl"
    argv = _argv(sandbox, tmp_path, "tax_rates")
    assert await asyncio.to_thread(main, argv) == 0
    before = await asyncio.to_thread(output.read_bytes)
    await asyncio.to_thread(output.write_bytes, before + b'{"id": "c5e')
    sandbox.edit("tax-rates", sandbox.data.tax_rates[0]["id"], name="Edited")
    assert await asyncio.to_thread(main, argv) == 0
    lines = await _read_lines(output)
    assert len(lines) == len(sandbox.data.tax_rates) + 1
    assert lines[-1]["name"] == "Edited"
    assert "cut an incomplete last line (11 bytes) off" in capsys.readouterr().err


@pytest.mark.parametrize("state", ["none", "of another output"])
async def test_a_last_line_this_command_did_not_write_is_kept(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], state: str
) -> None:
    """A file whose last line has no newline, on a first run (no state) or with a state that
    proves only another output written: that line is kept whole, and the run's lines start on
    a new line."""
    output = tmp_path / "out.jsonl"
    if state != "none":
        other = [*_argv(sandbox, tmp_path, "tax_rates")[:-1], str(tmp_path / "other.jsonl")]
        assert await asyncio.to_thread(main, other) == 0
        sandbox.edit("tax-rates", sandbox.data.tax_rates[0]["id"], name="Edited")
    theirs = b'{"id": "theirs"}\n{"id": "their last line, no newline"}'
    await asyncio.to_thread(output.write_bytes, theirs)
    capsys.readouterr()
    assert await asyncio.to_thread(main, _argv(sandbox, tmp_path, "tax_rates")) == 0
    text = await asyncio.to_thread(output.read_bytes)
    assert text.startswith(theirs + b"\n")
    lines = await _read_lines(output)
    expected = 1 if state != "none" else len(sandbox.data.tax_rates)
    assert len(lines) == 2 + expected
    err = capsys.readouterr().err
    assert "cut" not in err
    assert "ends without a newline" in err


def test_a_second_run_on_the_same_output_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """While a run holds the output, another one stops with exit 8 and writes nothing."""
    fcntl = pytest.importorskip("fcntl")
    output, state = tmp_path / "out.jsonl", tmp_path / "state.json"
    argv = ["--sandbox", "--sandbox-receipts", "20", "sync", "tax_rates"]
    argv += ["--state", str(state), "--output", str(output)]
    with output.open("a", encoding="utf-8") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main(argv) == 8
    assert "is in use by another bessa sync" in capsys.readouterr().err
    assert output.read_bytes() == b""
    assert not state.exists()


def test_a_second_run_on_the_same_state_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """While a run holds the state, another one with another output stops with exit 8 before
    reading it, writing nothing."""
    fcntl = pytest.importorskip("fcntl")
    state = tmp_path / "state.json"
    argv = ["--sandbox", "--sandbox-receipts", "20", "sync", "tax_rates"]
    argv += ["--state", str(state), "--output", str(tmp_path / "other.jsonl")]
    with (tmp_path / "state.json.lock").open("a", encoding="utf-8") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main(argv) == 8
    assert f"{state} is in use by another bessa sync" in capsys.readouterr().err
    assert not (tmp_path / "other.jsonl").exists()
    assert not state.exists()


async def test_a_state_without_its_output_says_only_new_changes_follow(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The output was removed but the state kept: the run says it writes only later changes."""
    argv = _argv(sandbox, tmp_path, "tax_rates")
    assert await asyncio.to_thread(main, argv) == 0
    await asyncio.to_thread((tmp_path / "out.jsonl").unlink)
    capsys.readouterr()
    assert await asyncio.to_thread(main, argv) == 0
    assert "out.jsonl does not exist but " in capsys.readouterr().err
    assert await asyncio.to_thread((tmp_path / "out.jsonl").read_bytes) == b""


BAD_OPTIONS = [
    (
        ["--filter", "colour=red"],
        "argument --filter: receipts has no filter 'colour' (it takes: location, sales_point, "
        "type)\n",
    ),
    (["--filter", "extra_params=x"], "argument --filter: receipts has no filter 'extra_params'"),
    (["--filter", "type"], "argument --filter: expected NAME=VALUE"),
    (["--since", "2026-06-01T00:00:00"], "argument --since: expected a moment with its offset"),
    (["--limit", "0"], "argument --limit: expected a whole number >= 1"),
    (["--concurrency", "x"], "argument --concurrency: expected a whole number >= 1"),
]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS, ids=[m for _, m in BAD_OPTIONS])
def test_a_bad_option_is_a_usage_error(
    tmp_path: Path, options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 before anything runs, one line naming the option and what it takes."""
    argv = ["sync", "receipts", "--state", str(tmp_path / "s.json")]
    with pytest.raises(SystemExit) as info:
        main([*argv, "--output", str(tmp_path / "o.jsonl"), *options])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"bessa sync: error: {message}" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("resource", sorted(SYNCABLE))
def test_the_filters_offered_are_filters(
    resource: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The list of filters an unknown one is answered with names only filters of the API, never
    the library's request or listing options."""
    argv = ["sync", resource, "--state", str(tmp_path / "s.json")]
    with pytest.raises(SystemExit):
        main([*argv, "--output", str(tmp_path / "o.jsonl"), "--filter", "colour=red"])
    takes = capsys.readouterr().err.partition("(it takes: ")[2].partition(")")[0]
    assert takes
    assert not {"extra_params", "extra_headers", "cursor", "limit", "concurrency"} & set(
        takes.split(", ")
    )


async def test_a_state_that_cannot_be_saved_stops_the_run_before_anything_is_sent(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where the state's save would fail (here its .part name is taken by a directory), the run
    stops before a request or a line, not after a batch the next run would append again."""
    blocker = tmp_path / "state.json.part"
    await asyncio.to_thread((blocker / "kept").mkdir, parents=True)
    assert await asyncio.to_thread(main, _argv(sandbox, tmp_path)) == 8
    err = capsys.readouterr().err
    assert f"--state {tmp_path / 'state.json'} cannot be saved" in err
    assert "nothing was sent or written" in err
    assert sandbox.requests == []
    assert not await asyncio.to_thread((tmp_path / "out.jsonl").exists)
    assert not await asyncio.to_thread((tmp_path / "state.json").exists)
    assert await asyncio.to_thread((blocker / "kept").is_dir)  # what was there is left alone
    assert sorted(p.name for p in await asyncio.to_thread(lambda: list(tmp_path.iterdir()))) == [
        "state.json.lock",
        "state.json.part",
    ]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anyway")
async def test_a_state_in_a_read_only_folder_stops_the_run_before_anything_is_sent(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = tmp_path / "ro"
    await asyncio.to_thread(folder.mkdir)
    await asyncio.to_thread((folder / "state.json.lock").touch)
    await asyncio.to_thread(folder.chmod, 0o555)
    try:
        argv = _argv(sandbox, tmp_path)
        argv[argv.index("--state") + 1] = str(folder / "state.json")
        assert await asyncio.to_thread(main, argv) == 8
    finally:
        await asyncio.to_thread(folder.chmod, 0o755)
    assert sandbox.requests == []
    assert not await asyncio.to_thread((tmp_path / "out.jsonl").exists)


def test_usage_errors_about_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--since with a state file, the state as the output, a directory, an unknown resource or
    a boolean filter that is not true/false: exit 2 with what to do."""
    state = tmp_path / "s.json"
    state.write_text(OTHER_RESOURCE, encoding="utf-8")
    out = str(tmp_path / "o.jsonl")
    cases = [
        (
            ["receipts", "--state", str(state), "--output", out, "--since", "2026-06-01T00:00Z"],
            "argument --since: ",
        ),
        (["receipts", "--state", out, "--output", out], "argument --state: it must not be the"),
        (["receipts", "--state", str(state), "--output", str(tmp_path)], "is a directory"),
        (["invoices", "--state", str(state), "--output", out], "argument RESOURCE: invalid"),
        (
            ["articles", "--state", str(state), "--output", out, "--filter", "active=yes"],
            "argument --filter: active takes true or false, got 'yes'",
        ),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as info:
            main(["sync", *argv])
        assert info.value.code == 2
        assert message in capsys.readouterr().err
    assert state.read_text(encoding="utf-8") == OTHER_RESOURCE


async def test_since_starts_a_first_run_at_a_moment(sandbox: Sandbox, tmp_path: Path) -> None:
    """--since on a first run: only items updated at or after it, sent as updated__gte."""
    since = "2026-06-20T00:00:00+00:00"
    argv = _argv(sandbox, tmp_path, "receipts", "--since", since, "--concurrency", "1")
    assert await asyncio.to_thread(main, argv) == 0
    written = {item["id"] for item in await _read_lines(tmp_path / "out.jsonl")}
    moment = datetime.fromisoformat(since)
    expected = {
        r["id"] for r in sandbox.data.receipts if datetime.fromisoformat(r["updated"]) >= moment
    }
    assert written == expected
    assert 0 < len(expected) < len(sandbox.data.receipts)
    assert all(dict(r.query).get("updated__gte") == since for r in sandbox.requests)


# --- stopped from outside: Ctrl-C, SIGKILL ---------------------------------------------------


def _running(*argv: str) -> contextlib.AbstractAsyncContextManager[asyncio.subprocess.Process]:
    """``python -m bessa_async ARGV`` in a subprocess, stdout discarded; killed if left running."""
    return running_cli(*argv, stdout=asyncio.subprocess.DEVNULL)


def _line_count(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


async def _until_lines(path: Path, count: int, process: asyncio.subprocess.Process) -> None:
    """Wait until ``path`` holds ``count`` lines (the run is still going: its answers are held)."""
    while await asyncio.to_thread(_line_count, path) < count:
        if process.returncode is not None:
            assert process.stderr is not None
            err = (await process.stderr.read()).decode()
            raise AssertionError(f"the sync exited {process.returncode} early: {err}")
        await asyncio.sleep(0.01)


async def _batches(sandbox: Sandbox, limit: int) -> list[set[str]]:
    """The ids of each batch a run with this page size delivers (one chain, fixed order)."""
    async with BessaClient(sandbox.token, base_url=sandbox.url) as client:
        feed = client.receipts.changes(limit=limit, concurrency=1)
        return [{str(r.id) for r in batch.items} async for batch in feed]


def _check_left_by_a_kill(folder: Path) -> None:
    """The state is a whole checkpoint (or absent); every output line but a torn last one is
    whole JSON."""
    state = folder / "state.json"
    if state.exists():
        saved = json.loads(state.read_text(encoding="utf-8"))
        assert saved["checkpoint"]["kind"] == "bessa.changes"
    whole, _, _torn = (folder / "out.jsonl").read_bytes().rpartition(b"\n")
    assert all(json.loads(line) for line in whole.splitlines())


@pytest.mark.parametrize("after", [25, 95, 170])
async def test_a_sync_killed_mid_run_loses_nothing_and_repeats_one_batch_at_most(
    tmp_path: Path, after: int
) -> None:
    """SIGKILL at some point of a run (writing lines, saving the state or waiting for a page),
    then a rerun: the output holds every receipt, each line whole, and the only lines written
    twice are those of one batch, the one whose state was not saved."""
    hold = HoldAfter(20)  # 20 pages of 10 answer at once; the run cannot end before the kill
    async with Sandbox(receipts=400, sleep=hold) as sandbox:
        sandbox.inject(Fault.latency(0.001), path="receipts/")
        argv = _argv(sandbox, tmp_path, "receipts", "--limit", "10", "--concurrency", "1")
        output = tmp_path / "out.jsonl"
        async with _running(*argv) as process:
            await _until_lines(output, after, process)
            process.send_signal(signal.SIGKILL)
            assert await process.wait() == -signal.SIGKILL
        hold.released.set()
        await asyncio.to_thread(_check_left_by_a_kill, tmp_path)
        assert await asyncio.to_thread(main, argv) == 0
        batches = await _batches(sandbox, 10)
        expected = {r["id"] for r in sandbox.data.receipts}
    written = [str(item["id"]) for item in await _read_lines(output)]
    assert set(written) == expected
    counts = collections.Counter(written)
    repeated = {ident for ident, count in counts.items() if count > 1}
    assert max(counts.values()) <= 2
    assert any(repeated <= batch for batch in batches), repeated


@pytest.mark.parametrize(
    ("signum", "code", "headline"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["Ctrl-C", "SIGTERM"],
)
async def test_ctrl_c_stops_after_saving_the_batch_and_repeats_nothing(
    tmp_path: Path, signum: signal.Signals, code: int, headline: str
) -> None:
    """SIGINT or SIGTERM mid-run: the exit code of the table once the batch being written has
    its state saved, with a line saying where the files stand; the rerun completes with every
    receipt exactly once."""
    hold = HoldAfter(20)
    async with Sandbox(receipts=400, sleep=hold) as sandbox:
        sandbox.inject(Fault.latency(0.001), path="receipts/")
        argv = _argv(sandbox, tmp_path, "receipts", "--limit", "10", "--concurrency", "1")
        output = tmp_path / "out.jsonl"
        async with _running(*argv) as process:
            await _until_lines(output, 50, process)
            process.send_signal(signum)
            _, err = await process.communicate()
            assert process.returncode == code, err
        hold.released.set()
        [line] = [line for line in err.decode().splitlines() if line.startswith(headline)]
        assert line.startswith(f"{headline}: {tmp_path / 'state.json'} stands after the ")
        assert line.endswith("; run the same command to go on")
        assert await asyncio.to_thread(main, argv) == 0
        expected = sorted(r["id"] for r in sandbox.data.receipts)
    assert sorted(str(item["id"]) for item in await _read_lines(output)) == expected
    assert not await asyncio.to_thread(os.path.exists, f"{tmp_path / 'state.json'}.part")


async def test_two_runs_on_one_state_with_two_outputs_cannot_interleave(tmp_path: Path) -> None:
    """A run in progress holds its state: a second run on the same state with another output is
    refused (exit 8) and writes nothing; the first then completes with every receipt once."""
    hold = HoldAfter(20)
    async with Sandbox(receipts=400, sleep=hold) as sandbox:
        sandbox.inject(Fault.latency(0.001), path="receipts/")
        argv = _argv(sandbox, tmp_path, "receipts", "--limit", "10", "--concurrency", "1")
        output, other = tmp_path / "out.jsonl", tmp_path / "other.jsonl"
        async with _running(*argv) as process:
            await _until_lines(output, 50, process)
            second = [str(other) if arg == str(output) else arg for arg in argv]
            assert await asyncio.to_thread(main, second) == 8
            hold.released.set()
            _, err = await process.communicate()
            assert process.returncode == 0, err
        expected = sorted(r["id"] for r in sandbox.data.receipts)
    assert sorted(str(item["id"]) for item in await _read_lines(output)) == expected
    assert not await asyncio.to_thread(other.exists)
