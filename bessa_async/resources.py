"""The classes behind the client's attributes (``client.receipts`` is a :class:`Receipts`) and
the filters each ``list()`` takes, for code that annotates with them::

    from bessa_async.resources import ReceiptFilters

    today: ReceiptFilters = {"timestamp__gte": start, "timestamp__lt": end}
    async for receipt in client.receipts.list(**today):
        ...

Most code never names these classes: it reaches them as ``client.<name>``.
"""

from __future__ import annotations

from ._jobs.endpoints import JobFilters, Jobs, OrderJobs, PaymentJobs
from ._listing.filters import (
    ArticleFilters,
    ByLocationFilters,
    ClosingFilters,
    ListFilters,
    ListOptions,
    LocationFilters,
    ReceiptFilters,
    RequestOptions,
    StockLevelFilters,
)
from ._resources.raw import RawResource
from ._resources.resource import (
    AnyResource,
    ArticleGroups,
    ArticleOptions,
    Articles,
    Closings,
    Companies,
    Locations,
    PaymentMethods,
    Receipts,
    Reports,
    Resource,
    SalesPoints,
    StockLevels,
    Tables,
    TaxRates,
    Users,
)

__all__ = [
    "AnyResource",
    "ArticleFilters",
    "ArticleGroups",
    "ArticleOptions",
    "Articles",
    "ByLocationFilters",
    "ClosingFilters",
    "Closings",
    "Companies",
    "JobFilters",
    "Jobs",
    "ListFilters",
    "ListOptions",
    "LocationFilters",
    "Locations",
    "OrderJobs",
    "PaymentJobs",
    "PaymentMethods",
    "RawResource",
    "ReceiptFilters",
    "Receipts",
    "Reports",
    "RequestOptions",
    "Resource",
    "SalesPoints",
    "StockLevelFilters",
    "StockLevels",
    "Tables",
    "TaxRates",
    "Users",
]
