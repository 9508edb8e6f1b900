"""The bessa command: every command against an in-process sandbox, outputs and exit codes."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pytest

from bessa_async import business_days
from bessa_async._cli import CSV_COLUMNS, main
from bessa_async._demo import walkthrough
from bessa_async.testing import FakeClock

SANDBOX = ["--sandbox", "--sandbox-receipts", "400"]


async def test_demo_walkthrough_matches_every_figure() -> None:
    """The demo lists, streams, cross-checks the report, survives faults and exits 0."""
    out = io.StringIO()
    clock = FakeClock()
    code = await walkthrough(out, 400, 0, clock=clock, sleep=clock.sleep)
    text = out.getvalue()
    assert code == 0, text
    assert "report == sum of receipts: OK" in text
    assert "demo finished: every figure matched" in text
    assert "PermissionDeniedError" in text
    assert "is back online" in text  # the order waited patiently for the offline till
    assert "payment job" in text
    assert "(invoice), signed by" in text  # the receipt the payment produced
    assert 1.0 in clock.sleeps  # the injected 429's Retry-After, waited in virtual time


@pytest.mark.parametrize("command", [[], ["demo"], ["get"], ["export"], ["report"]])
def test_every_command_has_help_with_an_example(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--help exits 0 and shows usage with an example."""
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: bessa" in out
    assert "example" in out or "exit codes" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command or a malformed date is a usage error."""
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main([*SANDBOX, "report", "sales", "--day", "15.6.2026"])
    assert info.value.code == 2
    assert "expected a date like 2026-06-15" in capsys.readouterr().err


def test_get_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    """get prints the decoded answer as JSON."""
    assert main([*SANDBOX, "get", "companies/", "--param", "limit=1"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["count"] == 2
    assert len(body["results"]) == 1


def test_get_all_streams_one_item_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    """get --all follows next and prints JSON lines."""
    assert main([*SANDBOX, "get", "tables/", "--param", "limit=5", "--all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    assert len(ids) == len(set(ids)) > 5


def test_wrong_token_exits_3_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A refused token: exit 3, one line of advice, the token never echoed, no traceback."""
    assert main([*SANDBOX, "--token", "s3cr3t-but-wrong", "get", "companies/"]) == 3
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines == [lines[0]]
    assert "AuthenticationError" in lines[0]
    assert "BESSA_TOKEN" in lines[0]
    assert "s3cr3t" not in err
    assert "Traceback" not in err


def test_api_validation_error_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    """A 400 from the API is exit code 4."""
    code = main([*SANDBOX, "get", "receipts/", "--param", "timestamp__gte=yesterday"])
    assert code == 4
    assert "timestamp__gte" in capsys.readouterr().err


def test_export_csv_has_a_row_per_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """export writes stable columns, one row per receipt line, every receipt of the days once."""
    target = tmp_path / "june.csv"
    args = ["export", "receipts", "--day", "2026-06-10", "--to", "2026-06-16"]
    assert main([*SANDBOX, *args, "--output", str(target), "--concurrency", "4"]) == 0
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    receipts = {row[0] for row in rows[1:]}
    windows = business_days(datetime(2026, 6, 10).date(), datetime(2026, 6, 16).date())
    start, end = windows[min(windows)][0], windows[max(windows)][1]
    assert all(start <= datetime.fromisoformat(row[3]) < end for row in rows[1:])
    err = capsys.readouterr().err
    assert f"exported {len(receipts)} receipts" in err
    for row in rows[1:]:
        if row[8]:  # a line: quantity * unit price - discount is the line total
            assert len(row) == len(CSV_COLUMNS)


def test_export_jsonl_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """JSONL holds one receipt per line, as the API shaped it."""
    target = tmp_path / "day.jsonl"
    args = ["export", "receipts", "--day", "2026-06-13", "--format", "jsonl"]
    assert main([*SANDBOX, *args, "--output", str(target)]) == 0
    receipts = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert receipts
    assert len({r["id"] for r in receipts}) == len(receipts)
    assert all(r["timestamp"].endswith("Z") for r in receipts)
    assert "not a TTY" not in capsys.readouterr().err


def test_report_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    """report sales shows the window, the counts and the rates."""
    assert main([*SANDBOX, "report", "sales", "--day", "2026-06-13"]) == 0
    out = capsys.readouterr().out
    assert "2026-06-12T22:00:00+00:00" in out
    assert "gross" in out
    assert "rate 20.00 %" in out
