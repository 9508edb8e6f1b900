"""The sales report the sandbox computes from its receipts (``reports/sales/``).

Revenue is invoices plus cancellations (which carry negative amounts), so a void subtracts what it
voids; training and zero receipts (start, null, closing) do not count. Payments include tips.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from ._amounts import money, quantity_text
from ._cursor import Item
from ._query import format_timestamp

__all__ = ["sales_report"]

_REVENUE: Final = frozenset({"invoice", "cancellation"})


def sales_report(
    receipts: Iterable[Item],
    *,
    start: datetime,
    end: datetime,
    articles: Mapping[str, Item],
    groups: Mapping[str, Item],
    methods: Mapping[str, Item],
) -> dict[str, Any]:
    """Sum the revenue receipts of a window (already selected by the caller)."""
    count = 0
    gross = net = tip = Decimal(0)
    by_rate: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    by_method: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    by_group: dict[str | None, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for receipt in receipts:
        if receipt["type"] not in _REVENUE:
            continue
        count += 1
        gross += Decimal(receipt["total"])
        tip += Decimal(receipt["tip"])
        for tax in receipt["taxes"]:
            sums = by_rate[tax["rate"]]
            sums[0] += Decimal(tax["net"])
            sums[1] += Decimal(tax["tax"])
            sums[2] += Decimal(tax["gross"])
            net += Decimal(tax["net"])
        for payment in receipt["payments"]:
            paid = by_method[payment["payment_method"]]
            paid[0] += Decimal(payment["amount"])
            paid[1] += 1
        for line in receipt["lines"]:
            article = articles.get(line["article"] or "")
            group = by_group[article["article_group"] if article else None]
            group[0] += Decimal(line["quantity"])
            group[1] += Decimal(line["total"])
    return {
        "start": format_timestamp(start),
        "end": format_timestamp(end),
        "receipts": count,
        "gross": money(gross),
        "net": money(net),
        "tip": money(tip),
        "by_tax_rate": [
            {"rate": rate, "net": money(s[0]), "tax": money(s[1]), "gross": money(s[2])}
            for rate, s in sorted(by_rate.items(), key=lambda kv: Decimal(kv[0]), reverse=True)
        ],
        "by_payment_method": [
            {
                "payment_method": method,
                "name": methods[method]["name"] if method in methods else None,
                "amount": money(s[0]),
                "count": int(s[1]),
            }
            for method, s in sorted(by_method.items())
        ],
        "by_article_group": [
            {
                "article_group": group,
                "name": groups[group]["name"] if group is not None and group in groups else None,
                "quantity": quantity_text(s[0]),
                "gross": money(s[1]),
            }
            for group, s in sorted(by_group.items(), key=lambda kv: kv[0] or "")
        ],
    }
