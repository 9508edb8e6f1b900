"""Receipts as spreadsheet rows: the format ``bessa export`` writes, for scripts as well (pure).

:data:`EXPORT_COLUMNS` is the one list of columns and what each holds; the rows
(:func:`receipt_rows`), the CSV writer (:func:`write_csv`), ``bessa export --columns`` and the
API reference are all made from it, so a script and the command write the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from types import MappingProxyType
from typing import IO, Final

from ._convert import to_dict
from ._days import DEFAULT_TZ, _zone
from ._errors import InvalidTypeError, InvalidValueError
from ._models import Receipt

__all__ = [
    "CSV_COLUMNS",
    "EXPORT_COLUMNS",
    "business_day_of",
    "columns_text",
    "delimiter_problem",
    "header_text",
    "page_text",
    "receipt_rows",
    "write_csv",
]

EXPORT_COLUMNS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "receipt_id": "the receipt's id (a UUID), repeated on each of its lines",
        "number": "the receipt number (counted per main Sales Point)",
        "type": "invoice, cancellation, training, null, start, closing (revenue: the first two)",
        "timestamp": "when the receipt was signed, UTC, ISO 8601 ending in Z",
        "timestamp_local": "the same instant in the export's zone (--tz), ISO 8601 with offset",
        "business_day": "the local business day it counts for (--tz, --day-start), YYYY-MM-DD",
        "sales_point": "the Sales Point's id (a UUID)",
        "location": "the location's id (a UUID)",
        "receipt_total": "the receipt's total in EUR, a decimal with a point; voids are negative",
        "tip": "the tip in EUR (never revenue); empty if none",
        "line": "the line's position on the receipt from 1; empty for a receipt without lines",
        "article": "the article's id (a UUID); empty for a line without one",
        "name": "the line's text as printed",
        "quantity": "up to three decimals; negative on voids and deposit returns",
        "unit_price": "the price of one unit in EUR; empty if not given",
        "discount": "the line's discount in EUR; empty if none",
        "line_total": "the line's total in EUR",
        "tax_rate": "the line's VAT rate in percent, e.g. 20.00",
    }
)
"""The export's columns in order, each with what it holds: one row per receipt line (a receipt
without lines gets one row with the line columns empty, so every receipt appears)."""

CSV_COLUMNS: Final = tuple(EXPORT_COLUMNS)
"""The column names alone, in order (the CSV header)."""


def columns_text() -> str:
    """The column list as aligned text: ``name  what it holds``, one line each."""
    width = max(map(len, EXPORT_COLUMNS))
    return "\n".join(f"  {name:<{width}}  {what}" for name, what in EXPORT_COLUMNS.items())


def business_day_of(instant: datetime, tz: str | tzinfo, day_start: time = time(0)) -> date:
    """The local business day an aware instant belongs to (as :func:`business_day` cuts days)."""
    local = instant.astimezone(_zone(tz)).replace(tzinfo=None)
    # Wall-clock arithmetic, as business_day combines the date with day_start in the zone.
    return (local - timedelta(hours=day_start.hour, minutes=day_start.minute)).date()


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(value: object) -> str:
    return "" if value is None else str(value)


def receipt_rows(
    receipts: Iterable[Receipt], *, tz: str | tzinfo = DEFAULT_TZ, day_start: time = time(0)
) -> Iterator[dict[str, str]]:
    """The export's rows of receipts: one dict per receipt line, keyed by :data:`EXPORT_COLUMNS`.

    Args:
        receipts: receipts, e.g. a page's ``results`` or ``client.receipts.list(...)`` collected.
        tz: the zone of the ``timestamp_local`` and ``business_day`` columns.
        day_start: the local time the business day starts (``business_day``).

    Raises:
        UnknownTimeZoneError: ``tz`` is no zone the system knows.
    """
    zone = _zone(tz)
    for receipt in receipts:
        head = {
            "receipt_id": str(receipt.id),
            "number": _text(receipt.number),
            "type": str(receipt.type),
            "timestamp": _utc(receipt.timestamp),
            "timestamp_local": receipt.timestamp.astimezone(zone).isoformat(),
            "business_day": business_day_of(receipt.timestamp, zone, day_start).isoformat(),
            "sales_point": _text(receipt.sales_point),
            "location": _text(receipt.location),
            "receipt_total": str(receipt.total),
            "tip": _text(receipt.tip),
        }
        if not receipt.lines:
            yield head | dict.fromkeys(CSV_COLUMNS[len(head) :], "")
        for n, line in enumerate(receipt.lines, start=1):
            yield head | {
                "line": str(n),
                "article": _text(line.article),
                "name": _text(line.name),
                "quantity": str(line.quantity),
                "unit_price": _text(line.unit_price),
                "discount": _text(line.discount),
                "line_total": str(line.total),
                "tax_rate": _text(line.tax_rate),
            }


def delimiter_problem(delimiter: object) -> str | None:
    """Why ``delimiter`` cannot separate CSV fields, or None."""
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        return f"expected one character such as ',' or ';', got {delimiter!r}"
    if delimiter in '"\r\n' or delimiter.isalnum():
        return f"{delimiter!r} cannot separate fields; use ',', ';', '|' or a tab"
    return None


def write_csv(
    rows: Iterable[Mapping[str, str]],
    file: IO[str],
    *,
    delimiter: str = ",",
    header: bool = True,
) -> int:
    """Write rows as ``bessa export`` does: the header, then one line per row, ``\\r\\n`` ends.

    Open ``file`` with ``newline=""`` (and ``encoding="utf-8"``), as :mod:`csv` asks.

    Args:
        rows: dicts keyed by :data:`EXPORT_COLUMNS` (from :func:`receipt_rows`).
        file: a text file or buffer.
        delimiter: one character; ``";"`` is what Excel expects where the decimal mark is a
            comma (Austria, Germany).
        header: write the header line first.

    Returns:
        The number of rows written (the header not counted).

    Raises:
        InvalidValueError: a delimiter that is not one usable character.
    """
    if problem := delimiter_problem(delimiter):
        raise (InvalidValueError if isinstance(delimiter, str) else InvalidTypeError)(
            f"delimiter: {problem}"
        )
    writer = csv.DictWriter(file, CSV_COLUMNS, delimiter=delimiter)
    if header:
        writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def header_text(form: str, delimiter: str = ",") -> str:
    """What a file of this format (``csv`` or ``jsonl``) starts with: the CSV header, or nothing."""
    if form != "csv":
        return ""
    text = io.StringIO()
    write_csv((), text, delimiter=delimiter)
    return text.getvalue()


def page_text(
    receipts: Iterable[Receipt],
    form: str,
    *,
    tz: str | tzinfo = DEFAULT_TZ,
    day_start: time = time(0),
    delimiter: str = ",",
) -> str:
    """A page of receipts in the format: CSV rows (one per line) or one JSON object per line."""
    if form == "csv":
        text = io.StringIO()
        rows = receipt_rows(receipts, tz=tz, day_start=day_start)
        write_csv(rows, text, delimiter=delimiter, header=False)
        return text.getvalue()
    return "".join(json.dumps(to_dict(r), ensure_ascii=False) + "\n" for r in receipts)


if receipt_rows.__doc__:  # not under python -OO
    # The API reference shows the columns from the same table the command prints.
    receipt_rows.__doc__ += "\n    Columns::\n\n" + "\n".join(
        "    " + line for line in columns_text().splitlines()
    )
