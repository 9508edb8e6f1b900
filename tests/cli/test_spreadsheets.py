"""What accountants open: ``--excel`` read back as German-locale Excel reads it, ``bessa report
sales`` over a range of days, and ``bessa export closings``."""

from __future__ import annotations

import csv
import json
import shlex
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bessa_async import business_days
from bessa_async._cli.app import main
from bessa_async._models.export import CLOSING_COLUMNS, SALES_COLUMNS
from bessa_async.testing import Sandbox

SANDBOX = ["--sandbox", "--sandbox-receipts", "400", "--sandbox-start", "2026-06-01"]
DAYS = ["--day", "2026-06-10", "--to", "2026-06-12"]
NUMBERS = frozenset(
    {"total", "tip", "net", "tax", "gross", "quantity", "unit_price", "discount"}
    | {"line_total", "tax_rate"}
)
"""The columns Excel must read as numbers."""
AMOUNT_TEXTS = frozenset({"taxes", "payments"})
"""Text columns that hold amounts."""


def _read(path: Path, *, excel: bool) -> list[dict[str, str]]:
    """The rows as a program reads them: Excel (BOM, ';') or plain CSV (UTF-8, ',')."""
    encoding, delimiter = ("utf-8-sig", ";") if excel else ("utf-8", ",")
    with path.open(newline="", encoding=encoding) as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def _excel_number(text: str) -> Decimal:
    """A cell as German-locale Excel reads a number: ',' the decimal mark, '.' groups digits
    (so a "4.90" would silently become 490)."""
    assert "." not in text, f"Excel (de-AT) reads {text!r} as thousands or a date"
    return Decimal(text.replace(",", "."))


def _export(tmp_path: Path, name: str, *options: str) -> Path:
    target = tmp_path / name
    argv = [*SANDBOX, "export", *options, *DAYS, "--concurrency", "1", "--output", str(target)]
    assert main(argv) == 0
    return target


@pytest.mark.parametrize("layout", ["receipts", "lines"])
def test_excel_export_holds_every_amount_of_the_plain_one(layout: str, tmp_path: Path) -> None:
    """--excel: a UTF-8 BOM, ';', decimal commas, local times Excel parses; every other cell,
    the columns and the rows as in the plain export."""
    plain_file = _export(tmp_path, "plain.csv", "receipts", "--layout", layout)
    excel_file = _export(tmp_path, "excel.csv", "receipts", "--layout", layout, "--excel")
    raw = excel_file.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfreceipt_id;number;")
    assert "Ã" not in raw.decode("utf-8-sig")
    plain, excel = _read(plain_file, excel=False), _read(excel_file, excel=True)
    assert list(excel[0]) == list(plain[0])
    assert len(excel) == len(plain) > 20
    amounts = 0
    for ours, theirs in zip(excel, plain, strict=True):
        for column, cell in ours.items():
            want = theirs[column]
            if column in NUMBERS and want:
                assert _excel_number(cell) == Decimal(want), (column, cell, want)
                amounts += 1
            elif column in AMOUNT_TEXTS:
                assert "." not in cell
                assert cell.replace(",", ".") == want
            elif column == "timestamp_local":
                local = datetime.fromisoformat(want).replace(tzinfo=None, microsecond=0)
                assert datetime.strptime(cell, "%Y-%m-%d %H:%M:%S") == local
            else:
                assert cell == want, column
    assert amounts > 50


def test_excel_totals_of_a_day_are_its_sales_report(tmp_path: Path) -> None:
    """The --excel receipts of each business day sum to that day's row of
    ``report sales --from/--to --excel``, and both match the JSON report."""
    receipts = _read(_export(tmp_path, "r.csv", "receipts", "--excel"), excel=True)
    by_day: dict[str, Decimal] = defaultdict(Decimal)
    for row in receipts:
        by_day[row["business_day"]] += _excel_number(row["total"]) if row["total"] else 0
    report = tmp_path / "sales.csv"
    range_ = ["--from", "2026-06-10", "--to", "2026-06-12"]
    assert main([*SANDBOX, "report", "sales", *range_, "--excel", "--output", str(report)]) == 0
    days = _read(report, excel=True)
    assert tuple(days[0]) == tuple(SALES_COLUMNS)
    assert [d["business_day"] for d in days] == ["2026-06-10", "2026-06-11", "2026-06-12"]
    assert {d["business_day"]: _excel_number(d["gross"]) for d in days} == by_day
    as_json = tmp_path / "sales.json"
    assert (
        main([*SANDBOX, "report", "sales", *range_, "--format", "json", "--output", str(as_json)])
        == 0
    )
    body = json.loads(as_json.read_text(encoding="utf-8"))
    assert [d["business_day"] for d in body] == [d["business_day"] for d in days]
    for row, figures in zip(days, body, strict=True):
        assert _excel_number(row["gross"]) == Decimal(figures["gross"])
        assert _excel_number(row["net"]) == Decimal(figures["net"])
        assert figures["by_tax_rate"]  # JSON has every figure of the report


def test_report_sales_over_a_range_prints_a_table_per_day(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([*SANDBOX, "report", "sales", "--from", "2026-06-10", "--to", "2026-06-11"]) == 0
    out = capsys.readouterr().out
    assert out.count("sales report 2026-06-1") == 2
    assert "sales report 2026-06-11 (Europe/Vienna)" in out


def test_a_plain_sales_csv_has_decimal_points(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SANDBOX, "report", "sales", "--day", "2026-06-13", "--format", "csv"]) == 0
    [row] = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert row["business_day"] == "2026-06-13"
    assert Decimal(row["gross"]) > 0
    assert "." in row["gross"]


@pytest.mark.parametrize("form", ["csv", "jsonl"])
def test_export_closings_writes_every_closing_of_the_days(form: str, tmp_path: Path) -> None:
    """bessa export closings: each closing signed in the business days, once."""
    target = _export(tmp_path, f"z.{form}", "closings", "--format", form)
    windows = business_days(date(2026, 6, 10), date(2026, 6, 12))
    start, end = windows[min(windows)][0], windows[max(windows)][1]
    closings = Sandbox(receipts=400).data.closings  # the data the --sandbox tenant serves
    expected = {
        c["id"]: c for c in closings if start <= datetime.fromisoformat(c["timestamp"]) < end
    }
    assert expected
    if form == "csv":
        rows = _read(target, excel=False)
        assert tuple(rows[0]) == tuple(CLOSING_COLUMNS)
        got = {row["closing_id"]: row["gross"] for row in rows}
    else:
        items = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
        got = {item["id"]: item["gross"] for item in items}
    assert got == {id_: c["gross"] for id_, c in expected.items()}
    assert len(got) == len(expected)


def test_the_guide_s_spreadsheet_commands_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command of the spreadsheet section of docs/cli.md runs as written."""
    guide = (Path(__file__).parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    section = guide.partition("## Exports for spreadsheets")[2]
    block = section.partition("```sh\n")[2].partition("```")[0]
    commands = [shlex.split(line) for line in block.splitlines()]
    assert len(commands) == 4
    monkeypatch.chdir(tmp_path)
    for words in commands:
        assert words[:2] == ["bessa", "--sandbox"]
        assert main(["--sandbox-receipts", "400", *words[1:]]) == 0, words
        output = tmp_path / words[words.index("--output") + 1]
        assert output.stat().st_size > 100
    assert any(row["total"] for row in _read(tmp_path / "june.csv", excel=True))
    assert json.loads((tmp_path / "week.json").read_text(encoding="utf-8"))[6]["gross"]
