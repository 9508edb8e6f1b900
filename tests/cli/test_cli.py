"""The bessa command: every command against an in-process sandbox, outputs and exit codes."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shlex
import signal
import socket
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from cli_process import HoldAfter, running_cli

from bessa_async import BessaClient, Order, OrderLine, RetryPolicy, ServerError, business_days
from bessa_async._cli.app import EXIT_CODES, main
from bessa_async._cli.demo import walkthrough
from bessa_async._models.export import CSV_COLUMNS
from bessa_async.testing import FakeClock, Fault, Sandbox
from bessa_async.testing._faults import parse_faults

SANDBOX = ["--sandbox", "--sandbox-receipts", "400", "--sandbox-start", "2026-06-01"]


async def read_until(stream: asyncio.StreamReader | None, prefix: str) -> str:
    """The first line of ``stream`` starting with ``prefix``; the lines before it are skipped."""
    assert stream is not None
    while line := (await stream.readline()).decode():
        if line.startswith(prefix):
            return line
    raise AssertionError(f"the output ended before a line starting with {prefix!r}")


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


def test_export_csv_has_a_row_per_receipt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """export writes stable columns, one row per receipt, every receipt of the days once."""
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
    assert len(receipts) == len(rows) - 1
    err = capsys.readouterr().err
    assert f"exported {len(receipts)} receipts" in err
    assert all(len(row) == len(CSV_COLUMNS) for row in rows)


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


GOOD_FILE = b"receipt_id,number\r\nyesterday's complete export\r\n"


def _export_argv(sandbox: Sandbox, target: Path, form: str = "csv") -> list[str]:
    return [
        *("--base-url", sandbox.url, "--token", sandbox.token),
        *("export", "receipts", "--day", "2026-06-10", "--to", "2026-06-12", "--format", form),
        *("--limit", "10", "--concurrency", "1", "--output", str(target)),
    ]


async def test_verbose_export_shows_each_request_and_ends_with_a_summary(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-v: one line per request (with its retries); every export ends with the tally, whose
    request count is the sandbox's."""
    target = tmp_path / "days.csv"
    sandbox.inject(Fault.status(503), path="receipts/", times=1)
    assert await asyncio.to_thread(main, ["-v", *_export_argv(sandbox, target)]) == 0
    err = capsys.readouterr().err.splitlines()
    lines = [line for line in err if line.startswith("GET receipts/ -> ")]
    assert len(lines) == len(sandbox.requests) - 1  # one call was tried twice
    assert sum(line.endswith(" s (1 retry)") for line in lines) == 1
    assert all(" -> 200 in " in line for line in lines)
    assert err[-1].startswith(f"{len(sandbox.requests)} requests, 1 retry, 0 429 waits (0.0 s), ")


async def test_an_export_ends_with_its_request_summary(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "days.csv"
    assert await asyncio.to_thread(main, _export_argv(sandbox, target)) == 0
    err = capsys.readouterr().err.splitlines()
    assert not [line for line in err if line.startswith("GET ")]  # no -v: no request lines
    assert err[-1].startswith(f"{len(sandbox.requests)} requests, 0 retries, 0 429 waits")


async def test_a_failed_export_keeps_the_old_file(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An export that fails part-way leaves yesterday's file byte for byte, and says so."""
    target = tmp_path / "june.jsonl"
    await asyncio.to_thread(target.write_bytes, GOOD_FILE)
    sandbox.inject(Fault.cycle_next(), path="receipts/")  # the listing fails after a page
    assert await asyncio.to_thread(main, _export_argv(sandbox, target, "jsonl")) == 8
    assert await asyncio.to_thread(target.read_bytes) == GOOD_FILE
    part = await asyncio.to_thread(Path(f"{target}.part").read_text, encoding="utf-8")
    written = part.splitlines()
    assert written  # it failed part-way: pages had been written
    err = capsys.readouterr().err.splitlines()
    assert err[-2].startswith("error: PaginationLoopError: ")
    stopped, _, resume = err[-1].partition("; resume with: bessa ")
    assert stopped == (
        f"export stopped: {target} is unchanged; "
        f"the {len(written)} receipts exported so far are in {target}.part"
    )
    assert f"--output {target} --resume " in resume


@pytest.mark.parametrize("form", ["csv", "jsonl"])
async def test_a_refused_export_leaves_no_part_and_the_old_file(
    form: str, sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 403 before the first receipt: the old file stays, and no .part is left behind (it
    would hold nothing but a header)."""
    target = tmp_path / f"june.{form}"
    await asyncio.to_thread(target.write_bytes, GOOD_FILE)
    sandbox.inject(Fault.status(403), path="receipts/")
    assert await asyncio.to_thread(main, _export_argv(sandbox, target, form)) == 3
    assert await asyncio.to_thread(target.read_bytes) == GOOD_FILE
    assert sorted(p.name for p in await asyncio.to_thread(lambda: list(tmp_path.iterdir()))) == [
        target.name
    ]
    err = capsys.readouterr().err.splitlines()
    assert err[-2].startswith("error: PermissionDeniedError: ")
    assert err[-1] == f"export stopped: {target} is unchanged"


async def test_a_complete_export_replaces_the_old_file(sandbox: Sandbox, tmp_path: Path) -> None:
    """A complete export takes the old file's place, whole, and leaves no .part behind."""
    target = tmp_path / "june.csv"
    await asyncio.to_thread(target.write_bytes, GOOD_FILE)
    assert await asyncio.to_thread(main, _export_argv(sandbox, target)) == 0
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    windows = business_days(datetime(2026, 6, 10).date(), datetime(2026, 6, 12).date())
    start, end = windows[min(windows)][0], windows[max(windows)][1]
    expected = {
        r["id"]
        for r in sandbox.data.receipts
        if start <= datetime.fromisoformat(r["timestamp"]) < end
    }
    assert {row[0] for row in rows[1:]} == expected
    assert not await asyncio.to_thread(Path(f"{target}.part").exists)


@pytest.mark.parametrize(
    ("signum", "code", "headline"),
    [
        (signal.SIGINT, 130, "interrupted"),
        (signal.SIGTERM, 143, "terminated"),
        (signal.SIGKILL, -signal.SIGKILL, None),
    ],
    ids=["Ctrl-C", "SIGTERM", "SIGKILL"],
)
async def test_an_interrupted_export_keeps_the_old_file(
    signum: signal.Signals, code: int, headline: str | None, tmp_path: Path
) -> None:
    """Ctrl-C, SIGTERM or a kill mid-export: the old file stays; one line says where the rest is."""
    target = tmp_path / "june.csv"
    await asyncio.to_thread(target.write_bytes, GOOD_FILE)
    hold = HoldAfter(2)  # the count and the first page; the second page never comes
    async with Sandbox(receipts=400, sleep=hold) as sandbox:
        sandbox.inject(Fault.latency(1.0), path="receipts/")
        async with running_cli(*_export_argv(sandbox, target)) as process:
            await read_until(process.stderr, "receipts: 10 of ")  # a page was written
            assert await asyncio.to_thread(Path(f"{target}.part").exists)
            process.send_signal(signum)
            _, err = await process.communicate()
            assert process.returncode == code, err
        hold.released.set()
    assert await asyncio.to_thread(target.read_bytes) == GOOD_FILE
    if headline is not None:
        [line] = err.decode().splitlines()
        stopped, _, resume = line.partition("; resume with: bessa ")
        assert stopped == (
            f"{headline}: {target} is unchanged; "
            f"the 10 receipts exported so far are in {target}.part"
        )
        assert f"--output {target} --resume " in resume


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
    assert main([*SANDBOX, "order", "submit", str(target)]) == EXIT_CODES["usage"]
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


async def test_job_wait_on_a_token_saved_after_the_job_ended(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token saved after wait() (the job had ended) resumes to the completed job."""
    point = next(p["id"] for p in sandbox.data.sales_points if p["status"] == "active")
    article = next(a["id"] for a in sandbox.data.articles if a["active"])
    async with BessaClient(sandbox.token, base_url=sandbox.url) as client:
        handle = await client.orders.submit(
            Order(sales_point=point, lines=[OrderLine(article=article, quantity=Decimal(1))])
        )
        await handle.wait()
        token = handle.to_token()
    argv = ["--base-url", sandbox.url, "--token", sandbox.token, "job", "wait", token]
    assert await asyncio.to_thread(main, argv) == 0
    job = json.loads(capsys.readouterr().out)
    assert (job["id"], job["status"]) == (str(handle.id), "completed")


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


def test_the_fault_spec_reads_kind_rate_and_path() -> None:
    """--faults reads KIND[:RATE][@PATH] and refuses nonsense with what is accepted."""
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_bessa_sandbox_listens_on_the_port_with_the_faults_given() -> None:
    """bessa sandbox --port P --faults SPEC: it answers on P, and the fault takes effect."""
    port = await asyncio.to_thread(_free_port)
    argv = ["sandbox", "--port", str(port), "--faults", "503@articles/", "--receipts", "50"]
    async with running_cli(*argv) as process:
        banner = await read_until(process.stdout, "bessa sandbox listening on ")
        url = banner.removeprefix("bessa sandbox listening on ").strip()
        assert url == f"http://127.0.0.1:{port}/v1/public/"
        token = (await read_until(process.stdout, "  token (tenant A):")).split()[-1]
        await read_until(process.stdout, "  faults: 1 rule(s) injected")
        async with BessaClient(token, base_url=url, retry=RetryPolicy.disabled()) as client:
            companies = await client.request("GET", "companies/")
            with pytest.raises(ServerError, match="503"):
                await client.request("GET", "articles/")
        assert companies["count"] == 2
        process.send_signal(signal.SIGINT)
        assert await process.wait() == 0


def test_bessa_sandbox_help_lists_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    """bessa sandbox --help exits 0 and shows the sandbox's own options."""
    with pytest.raises(SystemExit) as info:
        main(["sandbox", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: bessa sandbox" in out
    for option in ("--port", "--faults", "--receipts", "--latency", "--drift", "--job-delay"):
        assert option in out


# --- usage errors --------------------------------------------------------------------------

EXPORT = [*SANDBOX, "export", "receipts", "--day", "2026-06-10"]
REPORT = [*SANDBOX, "report", "sales", "--day", "2026-06-13"]
JOB_ID = "5eae070f-f62f-4e49-aab8-2b2d4b8b1e5a"
BAD_OPTIONS = [
    (["--layout", "line"], "export", "argument --layout: invalid choice: 'line'"),
    (["--format", "jsonl", "--layout", "lines"], "export", "--layout: only for --format csv"),
    (["--tz", "Europe/Wien"], "export", "argument --tz: unknown time zone 'Europe/Wien'"),
    (["--tz", "../etc/passwd"], "export", "argument --tz: unknown time zone"),
    (["--to", "2026-06-01"], "export", "argument --to: 2026-06-01 is before --day 2026-06-10"),
    (["--concurrency", "0"], "export", "argument --concurrency: expected a whole number >= 1"),
    (["--concurrency", "two"], "export", "argument --concurrency: expected a whole number >= 1"),
    (["--limit", "-5"], "export", "argument --limit: expected a whole number >= 1"),
    (["--day-start", "25:00"], "export", "argument --day-start: expected a time of day HH:MM"),
    (["--day", "2026-13-01"], "export", "argument --day: expected a date like 2026-06-15"),
    (["--format", "xml"], "export", "argument --format: invalid choice: 'xml'"),
    (["--last", "3"], "export", "argument --last: not allowed with argument --day"),
    (["--delimiter", ";;"], "export", "argument --delimiter: expected one character"),
    (["--delimiter", '"'], "export", "argument --delimiter: '\"' cannot separate fields"),
    (["--format", "jsonl", "--delimiter", ";"], "export", "argument --delimiter: only for"),
    (["--format", "jsonl", "--excel"], "export", "argument --excel: only for --format csv"),
    (["--excel", "--delimiter", ","], "export", "argument --excel: not allowed with --delimiter"),
    (["--output", "/no/such/dir/june.csv"], "export", "argument --output: no directory"),
    (["--output", "."], "export", "argument --output: '.' is a directory"),
    (
        ["--output", "/tmp/bessa-never-exported.csv", "--resume", "e30"],
        "export",
        "argument --resume: no '/tmp/bessa-never-exported.csv.part' to go on with",
    ),
]
BAD_COMMANDS = [
    *[([*EXPORT, *options], command, message) for options, command, message in BAD_OPTIONS],
    (
        [*EXPORT[:-2], "--last", "3", "--to", "2026-06-01"],
        "export",
        "--to: not allowed with --last",
    ),
    ([*EXPORT[:-2], "--last", "0"], "export", "argument --last: expected a whole number >= 1"),
    (EXPORT[:-2], "export", "one of the arguments --day --last is required"),
    ([*REPORT, "--tz", "Mars/Olympus"], "report", "argument --tz: unknown time zone"),
    ([*REPORT, "--to", "2026-06-01"], "report", "argument --to: 2026-06-01 is before --day"),
    ([*REPORT, "--to", "June"], "report", "argument --to: expected a date like 2026-06-15"),
    ([*REPORT, "--format", "xls"], "report", "argument --format: invalid choice: 'xls'"),
    ([*REPORT, "--format", "json", "--excel"], "report", "argument --excel: only for --format"),
    ([*REPORT, "--output", "/no/such/dir/s.csv"], "report", "argument --output: no directory"),
    ([*REPORT[:-2], "--from", "1.6.2026"], "report", "argument --day/--from: expected a date"),
    (
        [*SANDBOX, "export", "closings", *EXPORT[-2:], "--layout", "lines"],
        "export",
        "argument --layout: only for receipts, not closings",
    ),
    ([*SANDBOX, "export", "refunds", *EXPORT[-2:]], "export", "argument what: invalid choice"),
    ([*REPORT, "--day-start", "6"], "report", "argument --day-start: expected a time of day"),
    (["demo", "--receipts", "0"], "demo", "argument --receipts: expected a whole number >= 1"),
    (["demo", "--seed", "x"], "demo", "argument --seed: invalid int value: 'x'"),
    (["get", "companies/", "--param", "limit"], "get", "argument --param: expected NAME=VALUE"),
    (["order", "submit", "o.json", "--timeout", "0"], "order", "argument --timeout: expected"),
    (
        ["order", "submit", "o.json", "--idempotency-key", "a b"],
        "order",
        "argument --idempotency-key: idempotency_key must be 1-255 visible ASCII",
    ),
    (["order", "submit", "o.json", "--timeout", "nan"], "order", "argument --timeout: expected"),
    (["job", "wait", JOB_ID, "--timeout", "-1"], "job", "argument --timeout: expected seconds"),
    (["job", "wait", "not-a-token"], "job", "argument job: expected a job token"),
    (["job", "wait", "[" * 100_000], "job", "argument job: expected a job token"),
    (["job", "wait", JOB_ID, "--kind", "refund"], "job", "argument --kind: invalid choice"),
    (["doctor", "--json=yes"], "doctor", "argument --json: ignored explicit argument"),
    (["sandbox", "--port", "70000"], "sandbox", "argument --port: expected a port number"),
    (["sandbox", "--port", "http"], "sandbox", "argument --port: expected a port number"),
    (["sandbox", "--faults", "teapot"], "sandbox", "argument --faults: fault 'teapot'"),
    (["sandbox", "--receipts", "-1"], "sandbox", "argument --receipts: expected a whole number"),
    (["sandbox", "--latency", "-5"], "sandbox", "argument --latency: expected milliseconds >= 0"),
    (["sandbox", "--max-limit", "0"], "sandbox", "argument --max-limit: expected a whole number"),
    (["sandbox", "--days", "0"], "sandbox", "argument --days: expected a whole number >= 1"),
    (["sandbox", "--start", "June"], "sandbox", "argument --start: expected a date like"),
    (["sandbox", "--next-style", "bare"], "sandbox", "argument --next-style: invalid choice"),
    (["sandbox", "--job-expiry", "inf"], "sandbox", "argument --job-expiry: expected seconds"),
    (["sandbox", "--job-duration-min", "2"], "sandbox", "--job-duration-min and --job-dur"),
    (
        ["sandbox", "--job-duration-min", "3", "--job-duration-max", "1"],
        "sandbox",
        "with min <= max",
    ),
    (["mirror", "receipt"], "mirror", "argument RESOURCE: invalid choice: 'receipt'"),
    (["mirror", "--pipeline", "Shop 1"], "mirror", "argument --pipeline: expected lowercase"),
    (["mirror", "--dataset", "x" * 64], "mirror", "argument --dataset: expected lowercase"),
    (["mirror", "--dataset", "1shop"], "mirror", "argument --dataset: expected lowercase"),
    (["mirror", "--destination", "duck db"], "mirror", "argument --destination: expected a dlt"),
    (["--sandbox-receipts", "-1", "demo"], "", "argument --sandbox-receipts: expected a whole"),
    (["--base-url", "ftp://x/", "get", "a/"], "", "argument --base-url: base_url must be an abs"),
    (["frobnicate"], "", "argument COMMAND: invalid choice: 'frobnicate'"),
]


@pytest.mark.parametrize(
    ("argv", "command", "message"), BAD_COMMANDS, ids=[" ".join(row[0]) for row in BAD_COMMANDS]
)
def test_a_bad_option_is_a_usage_error(
    argv: list[str], command: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 before anything runs: usage, then one error line naming the option and the rule."""
    try:
        code: object = main(argv)
    except SystemExit as exc:
        code = exc.code
    except Exception as exc:
        code = f"{type(exc).__name__} escaped: {exc}"
    err = capsys.readouterr().err
    assert code == 2, err
    errors = [line for line in err.splitlines() if "error" in line]
    prog = f"bessa {command}".strip()
    assert errors == [f"{prog}: error: {errors[0].partition('error: ')[2]}"], err
    assert message in errors[0]
    assert err.startswith(f"usage: {prog}")
    assert "Traceback" not in err
    assert "in-process sandbox" not in err  # refused before anything started


@pytest.mark.parametrize(
    ("what", "path", "options"),
    [
        ("receipts", "receipts/", []),
        ("receipts", "receipts/", ["--excel"]),
        ("closings", "reports/closings/", ["--excel"]),
    ],
)
async def test_a_failed_export_says_how_to_resume_and_the_resume_completes_it(
    what: str,
    path: str,
    options: list[str],
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An export that fails part-way prints the command that resumes it; that command appends
    the rest: the file is then exactly what an export without the failure writes."""
    clean, target = tmp_path / "clean.csv", tmp_path / "june.csv"
    base = ["--base-url", sandbox.url, "--token", sandbox.token]
    args = ["export", what, "--day", "2026-06-01", "--to", "2026-06-30", "--limit", "5", *options]
    assert await asyncio.to_thread(main, [*base, *args, "--output", str(clean)]) == 0
    sandbox.inject(Fault.latency(0.005), path=path)  # still running after 12 requests
    export = asyncio.create_task(
        asyncio.to_thread(main, [*base, *args, "--output", str(target), "--concurrency", "4"])
    )
    await sandbox.wait_for_requests(len(sandbox.requests) + 12)
    sandbox.clear_faults()
    sandbox.inject(Fault.status(404), path=path)
    assert await export == 8
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "; resume with: bessa " in line)
    assert sandbox.token not in line
    words = shlex.split(line.partition("; resume with: ")[2])
    sandbox.clear_faults()
    assert await asyncio.to_thread(main, ["--token", sandbox.token, *words[1:]]) == 0
    assert await asyncio.to_thread(target.read_bytes) == await asyncio.to_thread(clean.read_bytes)


# --- the same order file twice -----------------------------------------------------------------


def _cli(sandbox: Sandbox, *argv: str) -> list[str]:
    return ["--base-url", sandbox.url, "--token", sandbox.token, *argv]


async def _write_order(sandbox: Sandbox, target: Path, reference: str, quantity: int) -> None:
    data = {
        "sales_point": next(p["id"] for p in sandbox.data.sales_points if p["status"] == "active"),
        "reference": reference,
        "lines": [{"article": sandbox.data.articles[0]["id"], "quantity": quantity}],
    }
    await asyncio.to_thread(target.write_text, json.dumps(data), encoding="utf-8")


async def test_the_same_order_file_submitted_twice_places_one_order(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run twice (a retrying script, Enter pressed twice): the second run answers the first job."""
    order = tmp_path / "order.json"
    await _write_order(sandbox, order, "twice-1", 2)
    argv = _cli(sandbox, "order", "submit", str(order))
    assert await asyncio.to_thread(main, argv) == 0
    first = json.loads(capsys.readouterr().out)["id"]
    assert await asyncio.to_thread(main, argv) == 0
    assert json.loads(capsys.readouterr().out)["id"] == first
    assert [job["id"] for job in sandbox.jobs() if job["reference"] == "twice-1"] == [first]


async def test_the_same_reference_with_another_body_exits_4_and_places_nothing(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An edited file under a reference already used: exit 4, saying so; still one order."""
    order = tmp_path / "order.json"
    await _write_order(sandbox, order, "edited-1", 2)
    argv = _cli(sandbox, "order", "submit", str(order))
    assert await asyncio.to_thread(main, argv) == 0
    await _write_order(sandbox, order, "edited-1", 3)
    capsys.readouterr()
    assert await asyncio.to_thread(main, argv) == 4
    err = capsys.readouterr().err
    assert "reference 'edited-1' was submitted before with a different body" in err
    assert "give it a new reference" in err
    assert len([job for job in sandbox.jobs() if job["reference"] == "edited-1"]) == 1


async def test_order_submit_sends_the_idempotency_key_given(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--idempotency-key is the key sent; without it the key follows from the reference."""
    order = tmp_path / "order.json"
    await _write_order(sandbox, order, "keyed-1", 1)
    argv = _cli(sandbox, "order", "submit", str(order))
    assert await asyncio.to_thread(main, [*argv, "--idempotency-key", "shop-order-77"]) == 0
    await _write_order(sandbox, order, "keyed-2", 1)
    assert await asyncio.to_thread(main, argv) == 0
    posts = [r for r in sandbox.requests if r.method == "POST"]
    keys = [r.headers["Idempotency-Key"] for r in posts]
    assert keys[0] == "shop-order-77"
    assert keys[1] != keys[0]
    await _write_order(sandbox, order, "keyed-2", 1)
    assert await asyncio.to_thread(main, argv) == 0  # the same file: the same key again
    assert [r.headers["Idempotency-Key"] for r in sandbox.requests if r.method == "POST"][
        2
    ] == keys[1]


async def test_an_order_file_without_a_reference_is_refused_before_sending(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a reference a second run could not be recognised: refused, nothing sent."""
    order = tmp_path / "order.json"
    await _write_order(sandbox, order, "", 1)
    code = await asyncio.to_thread(main, _cli(sandbox, "order", "submit", str(order)))
    assert code == EXIT_CODES["usage"]
    assert 'no "reference"' in capsys.readouterr().err
    assert not sandbox.requests


# --- exit codes do not depend on -v ------------------------------------------------------------


@pytest.mark.parametrize("verbosity", [[], ["-v"], ["-vv"]], ids=["quiet", "-v", "-vv"])
@pytest.mark.parametrize(
    ("case", "code"),
    [("token refused", 3), ("foreign origin", 8), ("order refused", 4), ("malformed order", 2)],
)
async def test_the_exit_code_is_the_same_with_v_and_vv(
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    verbosity: list[str],
    case: str,
    code: int,
) -> None:
    """-v and -vv add a traceback and request lines, never another exit code; the one-line
    error still ends the output, without the token."""
    order = tmp_path / "order.json"
    await _write_order(sandbox, order, "refused-1", 1)
    token = sandbox.token
    if case == "order refused":  # an unknown Sales Point: a 400
        data = json.loads(await asyncio.to_thread(order.read_text, encoding="utf-8"))
        data["sales_point"] = "00000000-0000-4000-8000-000000000000"
        await asyncio.to_thread(order.write_text, json.dumps(data), encoding="utf-8")
    if case == "malformed order":
        await asyncio.to_thread(order.write_text, '{"lines": [{}]}', encoding="utf-8")
    command = {
        "token refused": ["get", "companies/"],
        "foreign origin": ["get", "https://evil.example/companies/"],
        "order refused": ["order", "submit", str(order)],
        "malformed order": ["order", "submit", str(order)],
    }[case]
    if case == "token refused":
        token = "s3cr3t-but-wrong-token"
    argv = [*verbosity, "--base-url", sandbox.url, "--token", token, *command]
    assert await asyncio.to_thread(main, argv) == code
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("error: ")
    assert ("Traceback" in err) == bool(verbosity)
    assert token not in err


def test_connection_refused_exits_8_with_v(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listening, with -v: exit 8 as without it (after the client's retries)."""
    url = f"http://127.0.0.1:{_free_port()}/v1/public/"
    assert main(["-v", "--base-url", url, "--token", "t0k3n-for-nobody", "get", "a/"]) == 8
    assert "error: ConnectError" in capsys.readouterr().err


async def test_a_resumed_export_that_fails_at_once_keeps_its_resume_command(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A resumed export whose first request fails: the .part keeps every row, the note does not
    call them 0, and it prints the same resume command again."""
    target = tmp_path / "june.csv"
    sandbox.inject(Fault.cycle_next(), path="receipts/")  # the listing fails after a page
    argv = _export_argv(sandbox, target)
    assert await asyncio.to_thread(main, argv) == 8
    line = capsys.readouterr().err.splitlines()[-1]
    words = shlex.split(line.partition("; resume with: ")[2])
    part = Path(f"{target}.part")
    before = await asyncio.to_thread(part.read_bytes)
    assert before.count(b"\r\n") > 1  # the header and rows
    sandbox.clear_faults()
    sandbox.inject(Fault.status(404), path="receipts/")  # the resumed run's first request fails
    resumed = ["--token", sandbox.token, *words[1:]]
    assert await asyncio.to_thread(main, resumed) == 8
    again = capsys.readouterr().err.splitlines()[-1]
    assert "the 0 receipts" not in again
    assert f"{target}.part holds the receipts exported before the resume and 0 more" in again
    assert shlex.split(again.partition("; resume with: ")[2]) == words
    assert await asyncio.to_thread(part.read_bytes) == before


@pytest.mark.parametrize(
    "token",
    [
        '{"v":true}',
        '{"v":1,"kind":"sharded listing"}',
        '{"v":1,"kind":"listing position","cursor":null,"skip":0}',
    ],
)
async def test_a_refused_resume_token_sends_nothing_and_is_not_offered_again(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], token: str
) -> None:
    """A --resume token this export did not print is a usage error before anything is sent,
    and the note offers no command that would be refused the same way."""
    target = tmp_path / "june.csv"
    part = Path(f"{target}.part")
    await asyncio.to_thread(part.write_bytes, b"the rows of a stopped export\r\n")
    argv = [*_export_argv(sandbox, target), "--resume", token]
    assert await asyncio.to_thread(main, argv) == EXIT_CODES["usage"]
    err = capsys.readouterr().err
    assert "resume with:" not in err
    assert f"{part} holds the receipts exported before the resume" in err
    assert sandbox.requests == []
    assert await asyncio.to_thread(part.read_bytes) == b"the rows of a stopped export\r\n"
