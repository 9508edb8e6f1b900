"""bessa mirror: the tenant copied into a DuckDB file in the current directory, changes only."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dlt")

import dlt
from cli_process import HoldAfter, running_cli

from bessa_async._cli.app import EXIT_CODES, main
from bessa_async.testing import Fault, Sandbox

os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_mirror_copies_the_sandbox_into_duckdb_and_then_only_what_changed(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On the sandbox: one line per resource; the copy holds every receipt with its lines."""
    argv = ["--sandbox", "--sandbox-receipts", "40", "mirror", "receipts", "tax-rates"]
    assert main(argv) == EXIT_CODES["ok"]
    out = capsys.readouterr().out
    assert "receipts: 40 new, 0 changed, 0 deleted; " in out
    assert "tax_rates: " in out
    assert (here / "bessa_mirror.duckdb").exists()
    pipeline = dlt.pipeline("bessa_mirror", destination="duckdb", dataset_name="bessa")
    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT count(*), count(DISTINCT id) FROM receipts")
        lines = client.execute_sql("SELECT count(*) FROM receipts__lines")
    assert rows == [(40, 40)]
    assert lines
    assert lines[0][0] > 0


def _copy(sql: str) -> list[tuple[Any, ...]]:
    """The rows ``sql`` selects from the command's DuckDB copy (blocking)."""
    pipeline = dlt.pipeline("bessa_mirror", destination="duckdb", dataset_name="bessa")
    with pipeline.sql_client() as client:
        return [tuple(row) for row in client.execute_sql(sql) or ()]


async def test_the_summary_counts_each_resource_new_changed_deleted_and_requests(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One line per resource: new, changed, deleted, then the requests it sent and its
    seconds; an unchanged resource costs one request."""
    async with Sandbox(receipts=20, soft_deletes=True) as sandbox:
        argv = ["--base-url", sandbox.url, "--token", sandbox.token, "mirror", "articles"]
        assert await asyncio.to_thread(main, argv) == 0
        count = len(sandbox.data.resources()["articles"])
        first = capsys.readouterr().out.splitlines()
        assert first[0].startswith(f"articles: {count} new, 0 changed, 0 deleted; 2 requests, ")
        assert first[0].endswith(" s")
        assert await asyncio.to_thread(main, argv) == 0
        assert capsys.readouterr().out.startswith("articles: 0 new, 0 changed, 0 deleted; 1 r")
        [(one,), (two,), *_] = await asyncio.to_thread(_copy, "SELECT id FROM articles")
        sandbox.edit("articles", str(one), name="Almdudler 0.5")
        sandbox.delete("articles", str(two))
        assert await asyncio.to_thread(main, argv) == 0
        assert capsys.readouterr().out.startswith("articles: 0 new, 2 changed, 1 deleted; ")
    assert [line for line in first if line.strip()] == first[:1]


@pytest.mark.parametrize(
    ("signum", "code", "headline"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["Ctrl-C", "SIGTERM"],
)
async def test_ctrl_c_ends_after_the_batch_in_flight_with_the_copy_whole(
    here: Path, signum: signal.Signals, code: int, headline: str
) -> None:
    """SIGINT or SIGTERM during a first load: the command loads what it read, checkpoint and
    rows together, and exits with the usual code; the rerun completes the copy, each receipt
    once with all its lines."""
    hold = HoldAfter(8)
    async with Sandbox(receipts=400, sleep=hold, max_limit=10) as sandbox:
        sandbox.inject(Fault.latency(0.001), path="receipts/")
        argv = ["--base-url", sandbox.url, "--token", sandbox.token, "mirror", "receipts"]
        async with running_cli(*argv) as process:
            await sandbox.wait_for_requests(9)  # the ninth page is held: the run is going
            process.send_signal(signum)
            await asyncio.sleep(0.2)  # the signal is handled before the pages flow again
            hold.released.set()
            out, err = await process.communicate()
            assert process.returncode == code, err
        [(rows, ids)] = await asyncio.to_thread(
            _copy, "SELECT count(*), count(DISTINCT id) FROM receipts"
        )
        assert 0 < rows == ids < 400
        assert f"\n{headline}" in f"\n{err.decode()}"
        assert b"run the same command to go on" in err
        assert out.startswith(b"receipts: ")
        assert await asyncio.to_thread(main, argv) == 0
        expected = {(str(r["id"]), len(r["lines"])) for r in sandbox.data.receipts}
    copied = await asyncio.to_thread(
        _copy,
        "SELECT r.id, count(l._dlt_id) FROM receipts r "
        "LEFT JOIN receipts__lines l ON l._dlt_parent_id = r._dlt_id GROUP BY r.id",
    )
    assert {(str(i), n) for i, n in copied} == expected


def test_mirror_says_how_to_fix_a_refused_token(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused token ends with the auth exit code and the library's message, not dlt's
    traceback; the token is not shown."""
    token = "x" * 40
    code = main(["--sandbox", "--token", token, "mirror", "articles"])
    err = capsys.readouterr().err
    assert code == EXIT_CODES["auth"]
    assert "AuthenticationError" in err
    assert token not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["mirror", "receipt"],
        ["mirror", "--pipeline", "bessa", "--dataset", "bessa"],
    ],
)
def test_mirror_refuses_bad_arguments_as_usage_errors(
    here: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == EXIT_CODES["usage"]
    assert "error: argument" in capsys.readouterr().err
