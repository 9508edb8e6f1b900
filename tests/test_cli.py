"""The bessa command: every command against an in-process sandbox, outputs and exit codes."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shlex
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bessa_async import BessaClient, Order, OrderLine, business_days
from bessa_async._cli import main
from bessa_async._demo import walkthrough
from bessa_async._export import CSV_COLUMNS
from bessa_async.testing import FakeClock, Fault, Sandbox
from bessa_async.testing._faults import parse_faults

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


# --- orders and jobs -------------------------------------------------------------------------


def _order_file(tmp_path: Path, *, active: bool = True, point: str | None = None) -> Path:
    data = Sandbox(receipts=400).data  # the same seeded data the --sandbox tenant serves
    article = next(a for a in data.articles if a["active"] == active and a["type"] == "standard")
    sales_point = point or next(p["id"] for p in data.sales_points if p["status"] == "active")
    target = tmp_path / "order.json"
    target.write_text(
        json.dumps(
            {
                "sales_point": sales_point,
                "reference": "cli-order",
                "lines": [{"article": article["id"], "quantity": 2}],
            }
        ),
        encoding="utf-8",
    )
    return target


def test_order_submit_and_wait_prints_the_completed_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """order submit --wait: exit 0, the completed job as JSON, a resumable token on stderr."""
    assert main([*SANDBOX, "order", "submit", str(_order_file(tmp_path)), "--wait"]) == 0
    captured = capsys.readouterr()
    job = json.loads(captured.out)
    assert job["status"] == "completed"
    assert job["reference"] == "cli-order"
    assert "resume with: bessa job wait '{" in captured.err


def test_an_order_that_fails_exits_5(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An inactive article: the till fails the job, exit 5 with its code."""
    order = _order_file(tmp_path, active=False)
    assert main([*SANDBOX, "order", "submit", str(order), "--wait"]) == 5
    assert "article_inactive" in capsys.readouterr().err


def test_a_wait_that_times_out_exits_6(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A deadline shorter than the till: exit 6 and how to resume."""
    order = str(_order_file(tmp_path))
    assert main([*SANDBOX, "order", "submit", order, "--wait", "--timeout", "0.01"]) == 6
    assert "still pending after 0.01 s; resume with: bessa job wait" in capsys.readouterr().err


def test_an_order_the_api_refuses_exits_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown Sales Point is a 400 field map: exit 4."""
    order = _order_file(tmp_path, point="00000000-0000-4000-8000-000000000000")
    assert main([*SANDBOX, "order", "submit", str(order)]) == 4
    assert "sales_point" in capsys.readouterr().err


def test_a_malformed_order_file_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A line without a quantity is refused before anything is sent."""
    target = tmp_path / "order.json"
    target.write_text('{"sales_point": "x", "lines": [{"article": "y"}]}', encoding="utf-8")
    assert main([*SANDBOX, "order", "submit", str(target)]) == 8
    assert "line 1 needs an article and a quantity" in capsys.readouterr().err


async def test_job_wait_resumes_from_the_token(sandbox: Sandbox) -> None:
    """A token printed by one process is waited on by another."""
    point = next(p["id"] for p in sandbox.data.sales_points if p["status"] == "active")
    article = next(a["id"] for a in sandbox.data.articles if a["active"])
    async with BessaClient(sandbox.token, base_url=sandbox.url) as client:
        handle = await client.orders.submit(
            Order(sales_point=point, lines=[OrderLine(article=article, quantity=Decimal(1))])
        )
    argv = ["--base-url", sandbox.url, "--token", sandbox.token, "job", "wait", handle.to_token()]
    assert await asyncio.to_thread(main, argv) == 0
    argv[-1] = str(handle.id)
    assert await asyncio.to_thread(main, argv) == 0


async def test_an_unknown_outcome_exits_7(sandbox: Sandbox, tmp_path: Path) -> None:
    """The answer is lost and the lookup fails: exit 7, with the reference to look up later."""
    sandbox.inject(Fault.drop(after_handler=True), path="requests/orders/", method="POST")
    sandbox.inject(Fault.status(503), path="requests/orders/", method="GET")
    data = {
        "sales_point": next(p["id"] for p in sandbox.data.sales_points if p["status"] == "active"),
        "reference": "lost-1",
        "lines": [{"article": sandbox.data.articles[0]["id"], "quantity": "1"}],
    }
    order = tmp_path / "order.json"
    await asyncio.to_thread(order.write_text, json.dumps(data), encoding="utf-8")
    argv = ["--base-url", sandbox.url, "--token", sandbox.token, "order", "submit", str(order)]
    assert await asyncio.to_thread(main, argv) == 7


def test_the_sandbox_takes_a_fault_spec() -> None:
    """bessa sandbox --faults reads KIND[:RATE][@PATH] and refuses nonsense (exit 2)."""
    rules = parse_faults("503:0.1,429:0.03@receipts/,latency=20:0.5,502-html,drop-after")
    assert [(f.kind, path, rate) for f, path, rate in rules] == [
        ("status", None, 0.1),
        ("status", "receipts/", 0.03),
        ("latency", None, 0.5),
        ("status", None, 1.0),
        ("drop", None, 1.0),
    ]
    assert rules[3][0].body == "html"
    with pytest.raises(ValueError, match="unknown kind 'teapot'"):
        parse_faults("teapot")
    with pytest.raises(ValueError, match="not a probability"):
        parse_faults("503:2")
    with pytest.raises(SystemExit) as info:
        main(["sandbox", "--faults", "teapot"])
    assert info.value.code == 2


async def test_a_failed_export_says_how_to_resume_and_the_resume_completes_it(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An export that fails part-way prints the command that resumes it; that command appends
    the rest: the file is then exactly what an export without the failure writes."""
    clean, target = tmp_path / "clean.csv", tmp_path / "june.csv"
    base = ["--base-url", sandbox.url, "--token", sandbox.token]
    args = ["export", "receipts", "--day", "2026-06-01", "--to", "2026-06-30", "--limit", "5"]
    assert await asyncio.to_thread(main, [*base, *args, "--output", str(clean)]) == 0
    sandbox.inject(Fault.latency(0.005), path="receipts/")  # still running after 12 requests
    export = asyncio.create_task(
        asyncio.to_thread(main, [*base, *args, "--output", str(target), "--concurrency", "4"])
    )
    await sandbox.wait_for_requests(len(sandbox.requests) + 12)
    sandbox.clear_faults()
    sandbox.inject(Fault.status(404), path="receipts/")
    assert await export == 8
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if line.startswith("resume with: bessa "))
    assert sandbox.token not in line
    words = shlex.split(line.removeprefix("resume with: "))
    sandbox.clear_faults()
    assert await asyncio.to_thread(main, ["--token", sandbox.token, *words[1:]]) == 0
    assert await asyncio.to_thread(target.read_bytes) == await asyncio.to_thread(clean.read_bytes)
