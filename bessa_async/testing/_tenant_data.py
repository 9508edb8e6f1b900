"""One tenant's generated data, as the sandbox serves it."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date, time
from typing import final

import attrs

from ._cursor import Item

__all__ = ["TenantData"]


@final
@attrs.frozen(kw_only=True, eq=False)
class TenantData:
    """One tenant's generated data, items pre-serialised as the API renders them.

    Treat it as read-only: the sandbox serves these very dicts. Every tuple is in the order the
    API lists it (receipts and closings by ``timestamp`` then ``id``; master data by ``id``;
    stock levels by ``article`` then ``location``).
    """

    name: str
    """The tenant's name in the request log, e.g. ``"tenant-a"``."""
    start: date
    """First local trading day."""
    days: int
    """Number of local trading days."""
    companies: tuple[Item, ...]
    locations: tuple[Item, ...]
    sales_points: tuple[Item, ...]
    tax_rates: tuple[Item, ...]
    article_groups: tuple[Item, ...]
    articles: tuple[Item, ...]
    article_options: tuple[Item, ...]
    payment_methods: tuple[Item, ...]
    tables: tuple[Item, ...]
    users: tuple[Item, ...]
    receipts: tuple[Item, ...]
    closings: tuple[Item, ...]
    stock_levels: tuple[Item, ...]
    day_starts: Mapping[str, time]
    """Business day start (local time) per main Sales Point id."""

    def resources(self) -> dict[str, tuple[Item, ...]]:
        """Items per list path, relative to the API base and without the trailing slash."""
        return {
            "companies": self.companies,
            "locations": self.locations,
            "sales-points": self.sales_points,
            "tax-rates": self.tax_rates,
            "article-groups": self.article_groups,
            "articles": self.articles,
            "article-options": self.article_options,
            "payment-methods": self.payment_methods,
            "tables": self.tables,
            "users": self.users,
            "receipts": self.receipts,
            "reports/closings": self.closings,
            "stock-levels": self.stock_levels,
        }

    def receipt(self, receipt_id: str) -> Item:
        """The receipt with this id (``KeyError`` if there is none)."""
        return self._receipts_by_id()[receipt_id]

    @functools.cache  # noqa: B019 - the instance is immutable and lives as long as the sandbox
    def _receipts_by_id(self) -> dict[str, Item]:
        return {item["id"]: item for item in self.receipts}
