"""``bessa report sales``: one business day's sales report, or one row per day of a range."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
from datetime import date

from bessa_async import (
    SalesReport,
    business_days,
    to_dict,
)

from ..export import (
    EXCEL_DELIMITER,
    SALES_COLUMNS,
    header_text,
    sales_rows,
    write_csv,
)
from . import arguments as accepts
from .client import command_client, json_default
from .export import excel_problem, output_problem
from .files import AtomicFile


async def report_command(args: argparse.Namespace) -> int:
    last = args.to or args.day
    windows = business_days(args.day, last, args.tz, day_start=args.day_start)
    reports: list[tuple[date, SalesReport]] = []
    async with command_client(args) as client:
        for day, (start, end) in windows.items():  # one at a time: gentle on the API
            reports.append((day, await client.reports.sales(start=start, end=end)))
    text = _report_text(args, reports)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        await asyncio.to_thread(save, args.output, text)
    return 0


def save(path: str, text: str) -> None:
    """Write a whole file, replacing the old one only once it is complete."""
    with AtomicFile(path) as output:
        output.write(text)


def _report_text(args: argparse.Namespace, reports: list[tuple[date, SalesReport]]) -> str:
    if args.format == "json":
        days = [{"business_day": day.isoformat(), **to_dict(report)} for day, report in reports]
        return json.dumps(days, indent=2, ensure_ascii=False, default=json_default) + "\n"
    if args.format == "csv":
        delimiter = EXCEL_DELIMITER if args.excel else ","
        text = io.StringIO()
        text.write(header_text("csv", delimiter, columns=SALES_COLUMNS, excel=args.excel))
        rows = sales_rows(reports, excel=args.excel)
        write_csv(rows, text, delimiter=delimiter, header=False, columns=SALES_COLUMNS)
        return text.getvalue()
    return "\n".join(_report_table(day, report, args.tz) for day, report in reports)


def _report_table(day: date, report: SalesReport, tz: str) -> str:
    rows: list[tuple[str, str]] = [
        ("window", f"{report.start.isoformat()} .. {report.end.isoformat()}"),
        ("receipts", str(report.receipts)),
        ("gross", str(report.gross)),
        ("net", str(report.net)),
        ("tip (not revenue)", str(report.tip)),
    ]
    rows += [
        (f"  rate {row.rate} %", f"{row.gross} (net {row.net}, tax {row.tax})")
        for row in report.by_tax_rate
    ]
    rows += [
        (f"  {row.name or row.payment_method}", f"{row.amount} ({row.count}x)")
        for row in report.by_payment_method
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"sales report {day} ({tz})", *(f"{name:<{width}}  {value}" for name, value in rows)]
    return "\n".join(lines) + "\n"


def check_report(args: argparse.Namespace) -> str | None:
    if args.format is None:
        args.format = "csv" if args.excel else "table"
    return (
        accepts.day_range(args.day, args.to) or excel_problem(args) or output_problem(args.output)
    )
