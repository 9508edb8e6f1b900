"""``bessa export``'s formats: receipts as CSV rows or JSON lines, a page at a time (pure)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Final

from ._convert import to_dict
from ._models import Receipt

__all__ = ["CSV_COLUMNS", "csv_rows", "header_text", "page_text"]

CSV_COLUMNS: Final = (
    "receipt_id",
    "number",
    "type",
    "timestamp",
    "sales_point",
    "location",
    "receipt_total",
    "tip",
    "line",
    "article",
    "name",
    "quantity",
    "unit_price",
    "discount",
    "line_total",
    "tax_rate",
)
"""The export's CSV columns, in order: one row per receipt line (a receipt without lines gets
one row with the line columns empty, so every receipt appears)."""


def csv_rows(receipt: Receipt) -> list[list[str]]:
    head = [
        str(receipt.id),
        receipt.number or "",
        str(receipt.type),
        receipt.timestamp.isoformat().replace("+00:00", "Z"),
        str(receipt.sales_point or ""),
        str(receipt.location or ""),
        str(receipt.total),
        "" if receipt.tip is None else str(receipt.tip),
    ]
    if not receipt.lines:
        return [head + [""] * 8]
    return [
        [
            *head,
            str(n),
            str(line.article or ""),
            line.name or "",
            str(line.quantity),
            "" if line.unit_price is None else str(line.unit_price),
            "" if line.discount is None else str(line.discount),
            str(line.total),
            "" if line.tax_rate is None else str(line.tax_rate),
        ]
        for n, line in enumerate(receipt.lines, start=1)
    ]


def _csv_text(rows: Iterable[Sequence[str]]) -> str:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return text.getvalue()


def header_text(form: str) -> str:
    """What a file of this format (``csv`` or ``jsonl``) starts with: the CSV header, or nothing."""
    return _csv_text([CSV_COLUMNS]) if form == "csv" else ""


def page_text(receipts: Iterable[Receipt], form: str) -> str:
    """A page of receipts in the format: CSV rows (one per line) or one JSON object per line."""
    if form == "csv":
        return _csv_text(row for receipt in receipts for row in csv_rows(receipt))
    return "".join(json.dumps(to_dict(r), ensure_ascii=False) + "\n" for r in receipts)
