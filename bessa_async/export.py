"""Receipts, closings and sales reports as spreadsheet rows: what ``bessa export`` and ``bessa
report`` write, from Python.

Each ``*_COLUMNS`` mapping is the one list of a layout's columns and what each holds; the
``*_rows`` functions turn typed items into rows keyed by those columns (``excel=True``: decimal
commas and local times that German-locale Excel reads), and :func:`write_csv` writes them::

    from bessa_async.export import receipt_rows, write_csv

    with open("day.csv", "w", newline="", encoding="utf-8") as out:
        write_csv(receipt_rows(receipts, tz="Europe/Vienna"), out)
"""

from __future__ import annotations

from ._models.export import (
    CLOSING_COLUMNS,
    EXCEL_DELIMITER,
    EXPORT_COLUMNS,
    LAYOUTS,
    LINE_COLUMNS,
    SALES_COLUMNS,
    Layout,
    business_day_of,
    closing_rows,
    columns_text,
    header_text,
    page_text,
    receipt_rows,
    sales_rows,
    write_csv,
)

__all__ = [
    "CLOSING_COLUMNS",
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
