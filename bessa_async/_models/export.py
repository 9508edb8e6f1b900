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
from decimal import Decimal
from types import MappingProxyType
from typing import IO, Final, Literal

import attrs

from .._base.days import DEFAULT_TZ, _zone
from .._base.errors import InvalidTypeError, InvalidValueError
from .._base.validate import delimiter_problem
from .convert import to_dict
from .records import Closing, Receipt, ReceiptPayment, SalesReport

__all__ = [
    "CLOSING_COLUMNS",
    "CSV_COLUMNS",
    "EXCEL_DELIMITER",
    "EXPORT_COLUMNS",
    "LAYOUTS",
    "LINE_COLUMNS",
    "SALES_COLUMNS",
    "Layout",
    "business_day_of",
    "closing_rows",
    "columns_text",
    "header_text",
    "page_text",
    "receipt_rows",
    "sales_rows",
    "write_csv",
]

_RECEIPT: Final = {
    "receipt_id": "the receipt's id (a UUID)",
    "number": "the receipt number (counted per main Sales Point)",
    "type": "invoice, cancellation, training, null, start, closing (revenue: the first two)",
    "timestamp": "when the receipt was signed, UTC, ISO 8601 ending in Z",
    "timestamp_local": "the same instant in the export's zone (--tz), ISO 8601 with offset",
    "business_day": "the local business day it counts for (--tz, --day-start), YYYY-MM-DD",
    "sales_point": "the Sales Point's id (a UUID)",
    "location": "the location's id (a UUID)",
}

EXPORT_COLUMNS: Final[Mapping[str, str]] = MappingProxyType(
    _RECEIPT
    | {
        "total": "the receipt's total in EUR without the tip, a decimal with a point; voids "
        "are negative; empty when not revenue, so a day's sum is its sales report's gross",
        "tip": "the tip in EUR (never revenue); empty if none or not revenue",
        "net": "the total without VAT, over all its rates; empty when not revenue",
        "tax": "the VAT, over all its rates (total = net + tax); empty when not revenue",
        "taxes": "per VAT rate 'RATE: NET + TAX', ' | ' between rates, e.g. "
        "'20.00: 10.00 + 2.00 | 10.00: 4.55 + 0.45'; empty when not revenue",
        "payment_method": "how it was paid: the payment types, '+' between several (cash+card)",
        "payments": "each payment as 'TYPE AMOUNT' (the tip included), ' | ' between several; "
        "empty when not revenue",
    }
)
"""The export's columns in order, each with what it holds: one row per receipt. Training and
zero receipts appear too, with their money columns empty (they are not revenue), so the sum of
``total`` over a business day is that day's sales report ``gross``."""

LINE_COLUMNS: Final[Mapping[str, str]] = MappingProxyType(
    _RECEIPT
    | {
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
"""The columns of the per-line layout (``layout="lines"``, ``bessa export --layout lines``): one
row per receipt line (a receipt without lines gets one row with the line columns empty, so every
receipt appears), and no receipt-level amount repeated on the lines."""

Layout = Literal["receipts", "lines"]
"""``receipts``: one row per receipt (:data:`EXPORT_COLUMNS`); ``lines``: one per receipt line
(:data:`LINE_COLUMNS`)."""

CLOSING_COLUMNS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "closing_id": "the closing's id (a UUID)",
        "number": "the closing's number (counted per main Sales Point)",
        "type": "daily, monthly or yearly",
        "timestamp": "when the closing was signed, UTC, ISO 8601 ending in Z",
        "timestamp_local": "the same instant in the export's zone (--tz), ISO 8601 with offset",
        "business_day": "the local business day it was signed in (--tz, --day-start), YYYY-MM-DD",
        "sales_point": "the Sales Point's id (a UUID)",
        "start": "the start of the period it closes, UTC, ISO 8601 ending in Z",
        "end": "the end of the period it closes (exclusive), UTC, ISO 8601 ending in Z",
        "gross": "the period's revenue in EUR, as the closing states it",
        "receipts": "the receipts of the period",
    }
)
"""The columns of ``bessa export closings``: one row per closing (Z report)."""

SALES_COLUMNS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "business_day": "the local business day (--tz, --day-start), YYYY-MM-DD",
        "start": "the day's first instant, UTC, ISO 8601 ending in Z",
        "end": "the next day's first instant (exclusive), UTC, ISO 8601 ending in Z",
        "receipts": "the revenue receipts counted",
        "gross": "revenue in EUR, voids subtracted, training and tips excluded",
        "net": "gross without VAT; empty if the API gives none",
        "tip": "tips in EUR (not revenue); empty if the API gives none",
    }
)
"""The columns of ``bessa report sales --format csv``: one row per business day."""

LAYOUTS: Final[Mapping[Layout, Mapping[str, str]]] = MappingProxyType(
    {"receipts": EXPORT_COLUMNS, "lines": LINE_COLUMNS}
)
"""Each layout's columns."""

CSV_COLUMNS: Final = tuple(EXPORT_COLUMNS)
"""The column names alone, in order (the default layout's CSV header)."""


def _columns(layout: object) -> Mapping[str, str]:
    """The columns of ``layout``, or the error naming the layouts there are."""
    for name, columns in LAYOUTS.items():
        if name == layout:
            return columns
    error = InvalidValueError if isinstance(layout, str) else InvalidTypeError
    raise error(f"layout: expected one of {', '.join(LAYOUTS)}, got {layout!r}")


def columns_text(layout: Layout | Mapping[str, str] = "receipts") -> str:
    """The column list of a layout (or of columns such as :data:`CLOSING_COLUMNS`) as aligned
    text: ``name  what it holds``, one line each."""
    columns = layout if isinstance(layout, Mapping) else _columns(layout)
    width = max(map(len, columns))
    return "\n".join(f"  {name:<{width}}  {what}" for name, what in columns.items())


def business_day_of(instant: datetime, tz: str | tzinfo, day_start: time = time(0)) -> date:
    """The local business day an aware instant belongs to (as :func:`business_day` cuts days)."""
    local = instant.astimezone(_zone(tz)).replace(tzinfo=None)
    # Wall-clock arithmetic, as business_day combines the date with day_start in the zone.
    return (local - timedelta(hours=day_start.hour, minutes=day_start.minute)).date()


EXCEL_DELIMITER: Final = ";"
"""The field separator Excel expects where the decimal mark is a comma (Austria, Germany)."""
_BOM: Final = "\ufeff"
"""Tells Excel the file is UTF-8 (without it, "Goldbräu" reads as "GoldbrÃ¤u")."""
_EXCEL_LOCAL: Final = "%Y-%m-%d %H:%M:%S"
"""Local wall time as Excel parses it into a date and time in any locale (no T, no offset)."""


@attrs.frozen
class _Style:
    """How numbers and local times are written: plainly, or as German-locale Excel reads them."""

    mark: str = "."
    local: str | None = None
    """A strftime format for local times; None: ISO 8601 with the offset."""

    def number(self, value: object) -> str:
        return "" if value is None else str(value).replace(".", self.mark)

    def local_time(self, instant: datetime, zone: tzinfo) -> str:
        local = instant.astimezone(zone)
        return local.isoformat() if self.local is None else local.strftime(self.local)


_PLAIN: Final = _Style()
_EXCEL: Final = _Style(",", _EXCEL_LOCAL)


def _style(excel: bool) -> _Style:
    return _EXCEL if excel else _PLAIN


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _money(receipt: Receipt, text: str) -> str:
    """A receipt-level amount: empty when the receipt is not revenue, so sums are revenue."""
    return text if receipt.is_revenue else ""


def _payment_word(payment: ReceiptPayment) -> str:
    return _text(payment.type or payment.payment_method)


def _receipt_row(receipt: Receipt, head: dict[str, str], style: _Style) -> dict[str, str]:
    n = style.number
    net = sum((tax.net for tax in receipt.taxes), Decimal(0))
    vat = sum((tax.tax for tax in receipt.taxes), Decimal(0))
    taxes = " | ".join(f"{n(tax.rate)}: {n(tax.net)} + {n(tax.tax)}" for tax in receipt.taxes)
    paid = " | ".join(f"{_payment_word(p)} {n(p.amount)}" for p in receipt.payments)
    return head | {
        "total": _money(receipt, n(receipt.total)),
        "tip": _money(receipt, n(receipt.tip)),
        "net": _money(receipt, n(net if receipt.taxes else None)),
        "tax": _money(receipt, n(vat if receipt.taxes else None)),
        "taxes": _money(receipt, taxes),
        "payment_method": "+".join(dict.fromkeys(map(_payment_word, receipt.payments))),
        "payments": _money(receipt, paid),
    }


def _line_rows(receipt: Receipt, head: dict[str, str], style: _Style) -> Iterator[dict[str, str]]:
    n = style.number
    if not receipt.lines:
        yield head | dict.fromkeys(tuple(LINE_COLUMNS)[len(head) :], "")
    for position, line in enumerate(receipt.lines, start=1):
        yield head | {
            "line": str(position),
            "article": _text(line.article),
            "name": _text(line.name),
            "quantity": n(line.quantity),
            "unit_price": n(line.unit_price),
            "discount": n(line.discount),
            "line_total": n(line.total),
            "tax_rate": n(line.tax_rate),
        }


def receipt_rows(
    receipts: Iterable[Receipt],
    *,
    tz: str | tzinfo = DEFAULT_TZ,
    day_start: time = time(0),
    layout: Layout = "receipts",
    excel: bool = False,
) -> Iterator[dict[str, str]]:
    """The export's rows of receipts: one dict per receipt, keyed by :data:`EXPORT_COLUMNS`
    (or with ``layout="lines"`` one per receipt line, keyed by :data:`LINE_COLUMNS`).

    Args:
        receipts: receipts, e.g. a page's ``results`` or ``client.receipts.list(...)`` collected.
        tz: the zone of the ``timestamp_local`` and ``business_day`` columns.
        day_start: the local time the business day starts (``business_day``).
        layout: ``"receipts"`` or ``"lines"``.
        excel: as German-locale Excel reads them: decimal commas, and ``timestamp_local`` as
            ``2026-06-10 14:03:12`` (local wall time, which Excel parses as a date and time).

    Raises:
        UnknownTimeZoneError: ``tz`` is no zone the system knows.
        InvalidValueError: an unknown ``layout``.
    """
    _columns(layout)
    zone = _zone(tz)
    style = _style(excel)
    for receipt in receipts:
        head = {
            "receipt_id": str(receipt.id),
            "number": _text(receipt.number),
            "type": str(receipt.type),
            "timestamp": _utc(receipt.timestamp),
            "timestamp_local": style.local_time(receipt.timestamp, zone),
            "business_day": business_day_of(receipt.timestamp, zone, day_start).isoformat(),
            "sales_point": _text(receipt.sales_point),
            "location": _text(receipt.location),
        }
        if layout == "lines":
            yield from _line_rows(receipt, head, style)
        else:
            yield _receipt_row(receipt, head, style)


def closing_rows(
    closings: Iterable[Closing],
    *,
    tz: str | tzinfo = DEFAULT_TZ,
    day_start: time = time(0),
    excel: bool = False,
) -> Iterator[dict[str, str]]:
    """One row per closing, keyed by :data:`CLOSING_COLUMNS` (``tz``, ``day_start`` and
    ``excel`` as for :func:`receipt_rows`)."""
    zone = _zone(tz)
    style = _style(excel)
    for closing in closings:
        yield {
            "closing_id": str(closing.id),
            "number": _text(closing.number),
            "type": _text(closing.type),
            "timestamp": _utc(closing.timestamp),
            "timestamp_local": style.local_time(closing.timestamp, zone),
            "business_day": business_day_of(closing.timestamp, zone, day_start).isoformat(),
            "sales_point": _text(closing.sales_point),
            "start": "" if closing.start is None else _utc(closing.start),
            "end": "" if closing.end is None else _utc(closing.end),
            "gross": style.number(closing.gross),
            "receipts": _text(closing.receipts),
        }


def sales_rows(
    reports: Iterable[tuple[date, SalesReport]], *, excel: bool = False
) -> Iterator[dict[str, str]]:
    """One row per business day's sales report, keyed by :data:`SALES_COLUMNS`."""
    n = _style(excel).number
    for day, report in reports:
        yield {
            "business_day": day.isoformat(),
            "start": _utc(report.start),
            "end": _utc(report.end),
            "receipts": str(report.receipts),
            "gross": n(report.gross),
            "net": n(report.net),
            "tip": n(report.tip),
        }


def write_csv(
    rows: Iterable[Mapping[str, str]],
    file: IO[str],
    *,
    delimiter: str = ",",
    header: bool = True,
    layout: Layout = "receipts",
    columns: Iterable[str] | None = None,
) -> int:
    """Write rows as ``bessa export`` does: the header, then one line per row, ``\\r\\n`` ends.

    Open ``file`` with ``newline=""`` (and ``encoding="utf-8"``), as :mod:`csv` asks.

    Args:
        rows: dicts keyed by the layout's columns (from :func:`receipt_rows`).
        file: a text file or buffer.
        delimiter: one character; ``";"`` is what Excel expects where the decimal mark is a
            comma (Austria, Germany).
        header: write the header line first.
        layout: whose columns: ``"receipts"`` (:data:`EXPORT_COLUMNS`) or ``"lines"``
            (:data:`LINE_COLUMNS`), as given to :func:`receipt_rows`.
        columns: other columns instead of the layout's, e.g. :data:`CLOSING_COLUMNS`.

    Returns:
        The number of rows written (the header not counted).

    Raises:
        InvalidValueError: a delimiter that is not one usable character, an unknown layout.
    """
    if problem := delimiter_problem(delimiter):
        raise (InvalidValueError if isinstance(delimiter, str) else InvalidTypeError)(
            f"delimiter: {problem}"
        )
    names = tuple(_columns(layout) if columns is None else columns)
    writer = csv.DictWriter(file, names, delimiter=delimiter)
    if header:
        writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def _table(what: str, layout: Layout) -> Mapping[str, str]:
    return CLOSING_COLUMNS if what == "closings" else _columns(layout)


def header_text(
    form: str,
    delimiter: str = ",",
    layout: Layout = "receipts",
    *,
    what: str = "receipts",
    columns: Iterable[str] | None = None,
    excel: bool = False,
) -> str:
    """What a file of this format (``csv`` or ``jsonl``) starts with: the CSV header of
    ``what`` (or of ``columns``), after the BOM with ``excel``; or nothing."""
    if form != "csv":
        return ""
    text = io.StringIO()
    if excel:
        text.write(_BOM)
    columns = _table(what, layout) if columns is None else columns
    write_csv((), text, delimiter=delimiter, columns=columns)
    return text.getvalue()


def page_text(
    items: Iterable[Receipt] | Iterable[Closing],
    form: str,
    *,
    what: str = "receipts",
    tz: str | tzinfo = DEFAULT_TZ,
    day_start: time = time(0),
    delimiter: str = ",",
    layout: Layout = "receipts",
    excel: bool = False,
) -> str:
    """A page of receipts (or closings) in the format: CSV rows or one JSON object per line."""
    if form != "csv":
        return "".join(json.dumps(to_dict(r), ensure_ascii=False) + "\n" for r in items)
    rows: Iterator[dict[str, str]]
    if what == "closings":
        rows = closing_rows(
            (c for c in items if isinstance(c, Closing)), tz=tz, day_start=day_start, excel=excel
        )
    else:
        rows = receipt_rows(
            (r for r in items if isinstance(r, Receipt)),
            tz=tz,
            day_start=day_start,
            layout=layout,
            excel=excel,
        )
    text = io.StringIO()
    write_csv(rows, text, delimiter=delimiter, header=False, columns=_table(what, layout))
    return text.getvalue()


if receipt_rows.__doc__:  # not under python -OO
    # The API reference shows the columns from the same table the command prints.
    receipt_rows.__doc__ += "".join(
        f"\n    Columns of layout {layout!r}::\n\n"
        + "\n".join("    " + line for line in columns_text(layout).splitlines())
        + "\n"
        for layout in LAYOUTS
    )
