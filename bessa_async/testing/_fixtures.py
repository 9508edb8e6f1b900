"""Typed handles on the sandbox's well-known data, so a test never digs through dicts."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, final

import attrs

from bessa_async import (
    Article,
    Location,
    Order,
    OrderLine,
    PaymentMethod,
    SalesPoint,
    Table,
    from_dict,
)

from ._tenant_data import TenantData

__all__ = ["Fixtures", "mobile_sales_point"]

Item = dict[str, Any]


def _first(items: Sequence[Item], what: str, **wanted: object) -> Item:
    for item in items:
        if all(item.get(key) == value for key, value in wanted.items()):
            return item
    raise LookupError(f"the sandbox's data has no {what}")  # the generator changed: a bug


def mobile_sales_point(data: TenantData) -> Item:
    """The tenant's mobile till (active, at no location): offline when the sandbox starts."""
    return _first(data.sales_points, "mobile Sales Point", status="active", location=None)


@final
@attrs.frozen(kw_only=True)
class Fixtures:
    """Tenant A's well-known data as typed models (``sandbox.fixtures``).

    Orders to :attr:`sales_point` with :attr:`article` complete; each ``inactive_*`` handle makes
    a job fail with the matching code, and :attr:`offline_sales_point` holds its jobs until
    ``set_sales_point_online(str(offline_sales_point.id))``.
    """

    location: Location
    """The location of :attr:`sales_point`."""
    sales_point: SalesPoint
    """Active and online: the one to send orders to."""
    offline_sales_point: SalesPoint
    """Active, but offline from the start (the mobile till): its jobs wait."""
    inactive_sales_point: SalesPoint
    """Switched off for good: its jobs fail with ``sales_point_inactive``."""
    article: Article
    """Active, with a fixed price and no options."""
    open_price_article: Article
    """Active, priced at the till: an order line must give ``unit_price``."""
    inactive_article: Article
    """No longer sold: an order with it fails with ``article_inactive``."""
    table: Table
    """An active table at :attr:`location`."""
    inactive_table: Table
    """A table taken out of service at :attr:`location` (``table_inactive``)."""
    payment_method: PaymentMethod
    """Cash, active."""
    inactive_payment_method: PaymentMethod
    """A retired payment method (``payment_method_inactive``)."""

    @classmethod
    def of(cls, data: TenantData) -> Fixtures:
        """Pick the handles out of a tenant's generated data."""
        mobile = mobile_sales_point(data)
        point = _first([p for p in data.sales_points if p is not mobile], "till", status="active")
        located = point["location"]
        plain = [a for a in data.articles if not a["options"]]
        return cls(
            location=from_dict(Location, _first(data.locations, "location", id=located)),
            sales_point=from_dict(SalesPoint, point),
            offline_sales_point=from_dict(SalesPoint, mobile),
            inactive_sales_point=from_dict(
                SalesPoint, _first(data.sales_points, "inactive Sales Point", status="inactive")
            ),
            article=from_dict(Article, _first(plain, "article", type="standard", active=True)),
            open_price_article=from_dict(
                Article, _first(plain, "open-price article", type="open_price", active=True)
            ),
            inactive_article=from_dict(
                Article, _first(plain, "inactive article", type="standard", active=False)
            ),
            table=from_dict(Table, _first(data.tables, "table", location=located, active=True)),
            inactive_table=from_dict(
                Table, _first(data.tables, "inactive table", location=located, active=False)
            ),
            payment_method=from_dict(
                PaymentMethod, _first(data.payment_methods, "cash", type="cash", active=True)
            ),
            inactive_payment_method=from_dict(
                PaymentMethod,
                _first(data.payment_methods, "inactive payment method", active=False),
            ),
        )

    def order(
        self,
        *,
        reference: str | None = None,
        quantity: Decimal | int = 1,
        sales_point: SalesPoint | None = None,
        article: Article | None = None,
    ) -> Order:
        """An order of ``quantity`` times :attr:`article` for :attr:`sales_point` (or the ones
        given): one that completes, unless a magic ``reference`` says otherwise."""
        return Order(
            sales_point=(sales_point or self.sales_point).id,
            lines=[
                OrderLine(article=(article or self.article).id, quantity=Decimal(quantity)),
            ],
            reference=reference,
        )
