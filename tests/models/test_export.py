"""``bessa export receipts`` for spreadsheets: --last, --delimiter, local-time columns, the
documented column list, and the public functions that write the same bytes as the command."""

from __future__ import annotations

import asyncio
import csv
import io
import shlex
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest

import bessa_async.export
from bessa_async import (
    BessaClient,
    InvalidValueError,
    Receipt,
    ReceiptLine,
    UnknownTimeZoneError,
    business_days,
)
from bessa_async._cli.app import main
from bessa_async._models.export import CLOSING_COLUMNS, LINE_COLUMNS, Layout, columns_text
from bessa_async.export import EXPORT_COLUMNS, receipt_rows, write_csv
from bessa_async.testing import Fault, Sandbox


def _receipt(at: datetime, *, lines: int = 1) -> Receipt:
    return Receipt(
        id=uuid.UUID(int=at.hour * 60 + at.minute),
        type="invoice",
        timestamp=at,
        total=Decimal("4.90") * lines,
        lines=tuple(
            ReceiptLine(name="Tagessuppe", quantity=Decimal(1), total=Decimal("4.90"))
            for _ in range(lines)
        ),
    )


def _receipt_windows(sandbox: Sandbox) -> list[tuple[str, str]]:
    """The (timestamp__gte, timestamp__lt) of every receipts request the sandbox saw."""
    windows = []
    for request in sandbox.requests:
        query = dict(request.query)
        if request.path == "receipts/" and "timestamp__gte" in query:
            windows.append((query["timestamp__gte"], query["timestamp__lt"]))
    return windows


def _base(sandbox: Sandbox) -> list[str]:
    return ["--base-url", sandbox.url, "--token", sandbox.token]


@pytest.mark.parametrize(
    ("now", "options", "first", "last"),
    [
        # 12:00 in Vienna on 16 June: the three days before are 13..15 June.
        (datetime(2026, 6, 16, 10, 0, tzinfo=UTC), [], date(2026, 6, 13), date(2026, 6, 15)),
        # 00:30 on 16 June in Vienna is still 15 June in UTC; today is the local day.
        (datetime(2026, 6, 15, 22, 30, tzinfo=UTC), [], date(2026, 6, 13), date(2026, 6, 15)),
        # ... but a business day starting at 06:00 has not begun yet at 00:30: today is the 15th.
        (
            datetime(2026, 6, 15, 22, 30, tzinfo=UTC),
            ["--day-start", "06:00"],
            date(2026, 6, 12),
            date(2026, 6, 14),
        ),
        # New York is six hours behind Vienna: 01:00 UTC on the 16th is the 15th there.
        (
            datetime(2026, 6, 16, 1, 0, tzinfo=UTC),
            ["--tz", "America/New_York"],
            date(2026, 6, 12),
            date(2026, 6, 14),
        ),
    ],
    ids=["noon", "after-local-midnight", "before-day-start", "new-york"],
)
async def test_last_n_exports_the_local_days_before_today(
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    now: datetime,
    options: list[str],
    first: date,
    last: date,
) -> None:
    """--last 3 asks for the UTC window of the three local business days before the injected
    today, in --tz and from --day-start, and says which days it exported."""
    target = tmp_path / "last.csv"
    argv = [*_base(sandbox), "export", "receipts", "--last", "3", *options, "--output", str(target)]
    assert await asyncio.to_thread(lambda: main(argv, now=lambda: now)) == 0
    tz = options[options.index("--tz") + 1] if "--tz" in options else "Europe/Vienna"
    day_start = time(6) if "--day-start" in options else time(0)
    windows = business_days(first, last, tz, day_start=day_start)
    start, end = windows[first][0], windows[last][1]
    seen = _receipt_windows(sandbox)
    assert seen
    assert {datetime.fromisoformat(gte) for gte, _ in seen} == {start}
    assert {datetime.fromisoformat(lt) for _, lt in seen} == {end}
    assert f" of {first}..{last} ({tz})" in capsys.readouterr().err


async def test_last_n_finds_the_receipts_of_those_days(sandbox: Sandbox, tmp_path: Path) -> None:
    """--last 7 on 16 June exports exactly the receipts of 9..15 June, local."""
    target = tmp_path / "week.csv"
    argv = [*_base(sandbox), "export", "receipts", "--last", "7", "--output", str(target)]
    now = datetime(2026, 6, 16, 8, 0, tzinfo=UTC)
    assert await asyncio.to_thread(lambda: main(argv, now=lambda: now)) == 0
    windows = business_days(date(2026, 6, 9), date(2026, 6, 15))
    start, end = windows[date(2026, 6, 9)][0], windows[date(2026, 6, 15)][1]
    expected = {
        r["id"]
        for r in sandbox.data.receipts
        if start <= datetime.fromisoformat(r["timestamp"]) < end
    }
    with target.open(newline="", encoding="utf-8") as handle:
        exported = {row["receipt_id"] for row in csv.DictReader(handle)}
    assert exported == expected
    assert expected


async def test_a_semicolon_export_holds_the_same_fields(sandbox: Sandbox, tmp_path: Path) -> None:
    """--delimiter ';' changes the separator only: read back with ';' the fields are the same
    as the default export's, and a field holding ';' is quoted."""
    comma, semicolon = tmp_path / "comma.csv", tmp_path / "semicolon.csv"
    args = ["export", "receipts", "--day", "2026-06-12", "--concurrency", "1"]
    assert await asyncio.to_thread(main, [*_base(sandbox), *args, "--output", str(comma)]) == 0
    argv = [*_base(sandbox), *args, "--delimiter", ";", "--output", str(semicolon)]
    assert await asyncio.to_thread(main, argv) == 0
    text = (await asyncio.to_thread(semicolon.read_bytes)).decode()
    assert text.startswith(";".join(EXPORT_COLUMNS) + "\r\n")
    with (
        comma.open(newline="", encoding="utf-8") as a,
        semicolon.open(newline="", encoding="utf-8") as b,
    ):
        assert list(csv.reader(a)) == list(csv.reader(b, delimiter=";"))
    out = io.StringIO()
    row = dict.fromkeys(LINE_COLUMNS, "") | {"name": "Melange; groß"}
    write_csv([row], out, delimiter=";", header=False, layout="lines")
    assert '"Melange; groß"' in out.getvalue()


@pytest.mark.parametrize(
    ("utc", "local", "day"),
    [
        # 29 March 2026: Vienna goes from 02:00 (+01:00) to 03:00 (+02:00) at 01:00 UTC.
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), "2026-03-29T01:30:00+01:00", "2026-03-29"),
        (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "2026-03-29T03:30:00+02:00", "2026-03-29"),
        # 25 October 2026: 02:30 happens twice; the offset tells which.
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "2026-10-25T02:30:00+02:00", "2026-10-25"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "2026-10-25T02:30:00+01:00", "2026-10-25"),
        (datetime(2026, 10, 24, 22, 30, tzinfo=UTC), "2026-10-25T00:30:00+02:00", "2026-10-25"),
    ],
)
def test_local_columns_on_the_days_the_clocks_change(utc: datetime, local: str, day: str) -> None:
    """timestamp_local carries the Vienna offset of that instant; business_day its local date;
    timestamp stays UTC."""
    [row] = receipt_rows([_receipt(utc)], tz="Europe/Vienna")
    assert row["timestamp"] == utc.isoformat().replace("+00:00", "Z")
    assert row["timestamp_local"] == local
    assert row["business_day"] == day


def test_business_day_counts_a_late_night_to_the_day_before() -> None:
    """With day_start 06:00, a sale at 01:30 local belongs to the previous business day."""
    late = datetime(2026, 6, 15, 23, 30, tzinfo=UTC)  # 01:30 on 16 June in Vienna
    [row] = receipt_rows([_receipt(late)], day_start=time(6))
    assert row["timestamp_local"] == "2026-06-16T01:30:00+02:00"
    assert row["business_day"] == "2026-06-15"
    [row] = receipt_rows([_receipt(late)], tz="UTC", day_start=time(6))
    assert (row["timestamp_local"], row["business_day"]) == (
        "2026-06-15T23:30:00+00:00",
        "2026-06-15",
    )


def test_rows_are_one_per_receipt_keyed_by_the_columns() -> None:
    """By default each receipt is one row with exactly the documented columns in order."""
    at = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
    rows = list(receipt_rows([_receipt(at, lines=2), _receipt(at, lines=0)]))
    assert [tuple(row) for row in rows] == [tuple(EXPORT_COLUMNS)] * 2
    assert [row["total"] for row in rows] == ["9.80", "0.00"]


def test_line_rows_are_one_per_line_without_receipt_amounts() -> None:
    """layout="lines": one row per receipt line (a receipt without lines gets one row with the
    line columns empty), and no receipt-level amount that a sum would count once per line."""
    at = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
    rows = list(receipt_rows([_receipt(at, lines=2), _receipt(at, lines=0)], layout="lines"))
    assert [tuple(row) for row in rows] == [tuple(LINE_COLUMNS)] * 3
    assert [row["line"] for row in rows] == ["1", "2", ""]
    assert rows[2]["line_total"] == rows[2]["name"] == ""
    receipt_amounts = set(EXPORT_COLUMNS) - set(LINE_COLUMNS)
    assert receipt_amounts >= {"total", "tip", "net", "tax", "taxes", "payments"}
    assert not {"receipt_total", *receipt_amounts} & set(LINE_COLUMNS)
    with pytest.raises(InvalidValueError, match="layout: expected one of receipts, lines"):
        list(receipt_rows([], layout="line"))  # type: ignore[arg-type]


def test_bad_zone_and_delimiter_are_bessa_errors() -> None:
    """An unknown zone and a delimiter that is not one usable character say what is accepted."""
    at = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
    with pytest.raises(UnknownTimeZoneError, match="Europe/Wien"):
        list(receipt_rows([_receipt(at)], tz="Europe/Wien"))
    for bad in (";;", "", '"', "\n", "a"):
        with pytest.raises(InvalidValueError, match="delimiter"):
            write_csv([], io.StringIO(), delimiter=bad)


def test_the_column_list_is_documented_from_the_code(capsys: pytest.CaptureFixture[str]) -> None:
    """--columns, export --help and receipt_rows' docstring all show every column with its
    description, from EXPORT_COLUMNS; the CSV header is the same names."""
    with pytest.raises(SystemExit) as info:
        main(["export", "--columns"])
    assert info.value.code == 0
    listed = capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    helped = capsys.readouterr().out
    assert columns_text() in listed
    assert columns_text() in helped
    assert columns_text("lines") in listed
    assert columns_text("lines") in helped
    doc = receipt_rows.__doc__ or ""
    closings = columns_text(CLOSING_COLUMNS)
    for whole, is_doc in ((listed, False), (helped, False), (doc, True)):
        text, _, closings_part = whole.partition("CSV columns of closings")
        assert is_doc or closings in closings_part
        layouts = text.split("layout 'lines'" if is_doc else "--layout lines")
        assert len(layouts) == 2
        for part, columns in zip(layouts, (EXPORT_COLUMNS, LINE_COLUMNS), strict=True):
            documented = {
                line.split()[0]: line.split(maxsplit=1)[1]
                for line in part.splitlines()
                if line.split()[:1] and line.split()[0] in columns
            }
            assert documented == dict(columns)
    out = io.StringIO()
    write_csv([], out)
    assert out.getvalue() == ",".join(EXPORT_COLUMNS) + "\r\n"
    assert {"EXPORT_COLUMNS", "receipt_rows", "write_csv"} <= set(bessa_async.export.__all__)


@pytest.mark.parametrize("layout", ["receipts", "lines"])
async def test_a_script_writes_the_same_bytes_as_the_command(
    sandbox: Sandbox, tmp_path: Path, layout: Layout
) -> None:
    """receipt_rows + write_csv over the same receipts give the command's file byte for byte,
    with a delimiter, another zone, a day start and either layout."""
    by_cli, by_script = tmp_path / "cli.csv", tmp_path / "script.csv"
    options = ["--tz", "America/New_York", "--day-start", "06:00", "--delimiter", ";"]
    options += ["--layout", layout]
    args = ["export", "receipts", "--day", "2026-06-10", "--to", "2026-06-11", *options]
    argv = [*_base(sandbox), *args, "--concurrency", "1", "--output", str(by_cli)]
    assert await asyncio.to_thread(main, argv) == 0

    windows = business_days(
        date(2026, 6, 10), date(2026, 6, 11), "America/New_York", day_start=time(6)
    )
    start, end = windows[date(2026, 6, 10)][0], windows[date(2026, 6, 11)][1]
    async with BessaClient(sandbox.token, base_url=sandbox.url) as client:
        receipts = [r async for r in client.receipts.list(timestamp__gte=start, timestamp__lt=end)]
    text = io.StringIO(newline="")
    rows = receipt_rows(receipts, tz="America/New_York", day_start=time(6), layout=layout)
    written = write_csv(rows, text, delimiter=";", layout=layout)
    await asyncio.to_thread(by_script.write_text, text.getvalue(), encoding="utf-8", newline="")
    assert written >= len(receipts) > 0
    assert (written == len(receipts)) == (layout == "receipts")
    assert await asyncio.to_thread(by_script.read_bytes) == await asyncio.to_thread(
        by_cli.read_bytes
    )


async def test_a_stopped_last_n_export_resumes_with_its_own_days(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The resume command of a --last export names the days it chose (--day/--to) and the
    delimiter, so resuming tomorrow goes on with the same window and format."""
    target = tmp_path / "week.csv"
    sandbox.inject(Fault.cycle_next(), path="receipts/")  # the listing fails after a page
    argv = [*_base(sandbox), "export", "receipts", "--last", "7", "--delimiter", ";"]
    argv += ["--limit", "10", "--concurrency", "1", "--output", str(target)]
    now = datetime(2026, 6, 16, 8, 0, tzinfo=UTC)
    assert await asyncio.to_thread(lambda: main(argv, now=lambda: now)) == 8
    line = capsys.readouterr().err.splitlines()[-1]
    words = shlex.split(line.partition("; resume with: ")[2])
    assert "--last" not in words
    assert words[words.index("--day") + 1 :][:3] == ["2026-06-09", "--to", "2026-06-15"]
    assert words[words.index("--delimiter") + 1] == ";"
    assert words[words.index("--layout") + 1] == "receipts"
    assert sandbox.token not in line


async def test_the_sum_of_a_days_totals_is_its_sales_report(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Summed per business day, the default layout's total, net, tip and each rate's net and tax
    are the sales report's figures (voids subtract, training receipts do not count)."""
    target = tmp_path / "june.csv"
    args = ["export", "receipts", "--day", "2026-06-01", "--to", "2026-06-30"]
    assert await asyncio.to_thread(main, [*_base(sandbox), *args, "--output", str(target)]) == 0
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    types = {row["type"] for row in rows}
    assert {"invoice", "cancellation", "training", "start"} <= types  # the cases that matter
    not_revenue = [row for row in rows if row["type"] not in ("invoice", "cancellation")]
    assert all(row["total"] == row["net"] == row["payments"] == "" for row in not_revenue)

    def money(row: dict[str, str], column: str) -> Decimal:
        return Decimal(row[column] or 0)

    async with BessaClient(sandbox.token, base_url=sandbox.url) as client:
        for day in sorted({row["business_day"] for row in rows}):
            of_day = [row for row in rows if row["business_day"] == day]
            report = await client.reports.sales_for_day(date.fromisoformat(day))
            assert sum(money(row, "total") for row in of_day) == report.gross, day
            assert sum(money(row, "net") for row in of_day) == report.net, day
            assert sum(money(row, "tip") for row in of_day) == report.tip, day
            assert sum(money(row, "net") + money(row, "tax") for row in of_day) == report.gross
            paid = [p.rpartition(" ")[2] for row in of_day for p in row["payments"].split(" | ")]
            assert sum(map(Decimal, filter(None, paid))) == report.gross + (report.tip or 0)
            by_rate: dict[Decimal, list[Decimal]] = {}
            for row in of_day:
                for part in filter(None, row["taxes"].split(" | ")):
                    rate, _, amounts = part.partition(": ")
                    net, _, tax = amounts.partition(" + ")
                    sums = by_rate.setdefault(Decimal(rate), [Decimal(0), Decimal(0)])
                    sums[0] += Decimal(net)
                    sums[1] += Decimal(tax)
            assert by_rate == {r.rate: [r.net, r.tax] for r in report.by_tax_rate}, day
