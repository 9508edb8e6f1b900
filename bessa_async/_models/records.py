"""Typed, frozen models of the Public API's resources (beyond its documented conventions, inferred).

Every model keeps the fields the API sent that it does not know in ``extra`` (written back by
:func:`bessa_async.to_dict`), so nothing is lost when the real API differs from the inferred one.
Fields the library relies on (ids, business times, amounts) are required; everything else is
optional and ``None`` when absent. Type words with a known vocabulary are open enums: an unknown
word stays a ``str``.
"""

from __future__ import annotations

import enum
import types
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, final

import attrs

__all__ = [
    "Article",
    "ArticleGroup",
    "ArticleGroupTotal",
    "ArticleOption",
    "Closing",
    "ClosingType",
    "Company",
    "Location",
    "OptionChoice",
    "PaymentMethod",
    "PaymentMethodTotal",
    "PaymentMethodType",
    "Receipt",
    "ReceiptLine",
    "ReceiptPayment",
    "ReceiptType",
    "Recipient",
    "SalesPoint",
    "SalesPointStatus",
    "SalesReport",
    "Signature",
    "StockLevel",
    "Table",
    "TaxLine",
    "TaxRate",
    "User",
]


@final
class _NoExtra(Mapping[str, Any]):
    """An empty read-only mapping that pickles as a reference to :data:`NO_EXTRA` (a
    ``mappingproxy`` cannot be pickled, and with it no model, nor an error carrying one)."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"

    def __reduce__(self) -> str:
        return "NO_EXTRA"


NO_EXTRA: Final[Mapping[str, Any]] = _NoExtra()
"""The ``extra`` of a model the API sent no unknown fields for (shared: it is read-only)."""


_ABSENT_IF_NONE: Final[Mapping[str, Any]] = types.MappingProxyType({"omit_if_none": True})
"""Field metadata: left out of the JSON when None (a field the API may not send at all)."""


def _extra() -> Any:
    # Part of equality (a round trip keeps it) but not of the hash (a dict is unhashable).
    return attrs.field(default=NO_EXTRA, hash=False, repr=False)


class ReceiptType(enum.StrEnum):
    """Known receipt types; an unknown word is kept as ``str``."""

    INVOICE = "invoice"
    CANCELLATION = "cancellation"
    START = "start"
    NULL = "null"
    CLOSING = "closing"
    TRAINING = "training"


class PaymentMethodType(enum.StrEnum):
    """Known payment method types; an unknown word is kept as ``str``."""

    CASH = "cash"
    CARD = "card"
    VOUCHER = "voucher"
    INVOICE = "invoice"
    ONLINE = "online"
    OTHER = "other"


class ClosingType(enum.StrEnum):
    """Known closing intervals; an unknown word is kept as ``str``."""

    DAILY = "daily"
    MONTHLY = "monthly"
    YEARLY = "yearly"


class SalesPointStatus(enum.StrEnum):
    """Known Sales Point states; an unknown word is kept as ``str``."""

    ACTIVE = "active"
    INACTIVE = "inactive"


# --- master data ----------------------------------------------------------------------------


@final
@attrs.frozen(kw_only=True)
class Company:
    """A company of the tenant (``companies/``)."""

    id: uuid.UUID
    name: str | None = None
    uid: str | None = None
    """VAT id, e.g. ``"ATU12345678"``."""
    address: str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    deleted: datetime | None = attrs.field(default=None, metadata=_ABSENT_IF_NONE)
    """When the API flags the item deleted (soft delete); None otherwise."""
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class Location:
    """A shop or venue (``locations/``)."""

    id: uuid.UUID
    company: uuid.UUID | None = None
    name: str | None = None
    address: str | None = None
    timezone: str | None = None
    """IANA zone of the venue, e.g. ``"Europe/Vienna"``."""
    created: datetime | None = None
    updated: datetime | None = None
    deleted: datetime | None = attrs.field(default=None, metadata=_ABSENT_IF_NONE)
    """When the API flags the item deleted (soft delete); None otherwise."""
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class SalesPoint:
    """A till (``sales-points/``); ``main`` names the main Sales Point of a sub-terminal."""

    id: uuid.UUID
    location: uuid.UUID | None = None
    """None for a mobile Sales Point."""
    name: str | None = None
    fiscal_id: str | None = None
    """The RKSV cash-register id."""
    main: uuid.UUID | None = None
    status: SalesPointStatus | str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    deleted: datetime | None = attrs.field(default=None, metadata=_ABSENT_IF_NONE)
    """When the API flags the item deleted (soft delete); None otherwise."""
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class TaxRate:
    """A VAT rate (``tax-rates/``); rates are data, not an enum (20, 13, 10, 4.9, 0 ...)."""

    id: uuid.UUID
    name: str | None = None
    rate: Decimal
    created: datetime | None = None
    updated: datetime | None = None
    deleted: datetime | None = attrs.field(default=None, metadata=_ABSENT_IF_NONE)
    """When the API flags the item deleted (soft delete); None otherwise."""
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class ArticleGroup:
    """A group of articles with its account and default tax rate (``article-groups/``)."""

    id: uuid.UUID
    name: str | None = None
    account_number: str | None = None
    tax_rate: uuid.UUID | None = None
    discountable: bool | None = None
    online_orders: bool | None = None
    printing_group: uuid.UUID | None = None
    created: datetime | None = None
    updated: datetime | None = None
    deleted: datetime | None = attrs.field(default=None, metadata=_ABSENT_IF_NONE)
    """When the API flags the item deleted (soft delete); None otherwise."""
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class Article:
    """An article (``articles/``); ``type`` stays a plain string (its spelling is not public)."""

    id: uuid.UUID
    name: str | None = None
    type: str | None = None
    product_number: str | None = None
    """EAN, if any."""
    article_group: uuid.UUID | None = None
    tax_rate: uuid.UUID | None = None
    """None when the article group's rate applies."""
    price: Decimal | None = None
    """Gross price."""
    cost: Decimal | None = None
    """Net purchase price."""
    active: bool | None = None
    stock_managed: bool | None = None
    options: tuple[uuid.UUID, ...] = ()
    created: datetime | None = None
    updated: datetime | None = None
    deleted: datetime | None = attrs.field(default=None, metadata=_ABSENT_IF_NONE)
    """When the API flags the item deleted (soft delete); None otherwise."""
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class OptionChoice:
    """One choice of an option group, with its surcharge."""

    id: uuid.UUID | None = None
    name: str | None = None
    price: Decimal | None = None
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class ArticleOption:
    """An option group such as "Milk" (``article-options/``)."""

    id: uuid.UUID
    name: str | None = None
    choices: tuple[OptionChoice, ...] = ()
    min: int | None = None
    max: int | None = None
    created: datetime | None = None
    updated: datetime | None = None
    deleted: datetime | None = attrs.field(default=None, metadata=_ABSENT_IF_NONE)
    """When the API flags the item deleted (soft delete); None otherwise."""
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class PaymentMethod:
    """A payment method (``payment-methods/``)."""

    id: uuid.UUID
    name: str | None = None
    type: PaymentMethodType | str | None = None
    active: bool | None = None
    created: datetime | None = None
    updated: datetime | None = None
    deleted: datetime | None = attrs.field(default=None, metadata=_ABSENT_IF_NONE)
    """When the API flags the item deleted (soft delete); None otherwise."""
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class Table:
    """A table of a location (``tables/``)."""

    id: uuid.UUID
    name: str | None = None
    area: str | None = None
    active: bool | None = None
    location: uuid.UUID | None = None
    created: datetime | None = None
    updated: datetime | None = None
    deleted: datetime | None = attrs.field(default=None, metadata=_ABSENT_IF_NONE)
    """When the API flags the item deleted (soft delete); None otherwise."""
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class User:
    """A till user (``users/``)."""

    id: uuid.UUID
    name: str | None = None
    active: bool | None = None
    role: str | None = None
    location: uuid.UUID | None = None
    created: datetime | None = None
    updated: datetime | None = None
    deleted: datetime | None = attrs.field(default=None, metadata=_ABSENT_IF_NONE)
    """When the API flags the item deleted (soft delete); None otherwise."""
    extra: Mapping[str, Any] = _extra()


# --- receipts -------------------------------------------------------------------------------


@final
@attrs.frozen(kw_only=True)
class ReceiptLine:
    """One line of a receipt; its ``tax_rate`` may differ from the article's (pricing levels)."""

    article: uuid.UUID | None = None
    name: str | None = None
    quantity: Decimal
    """Up to three decimals; negative on voids and deposit returns."""
    unit_price: Decimal | None = None
    discount: Decimal | None = None
    total: Decimal
    tax_rate: Decimal | None = None
    """The rate in percent, e.g. ``Decimal("20.00")``."""
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class ReceiptPayment:
    """One payment on a receipt; ``amount`` includes the tip."""

    payment_method: uuid.UUID | None = None
    type: PaymentMethodType | str | None = None
    amount: Decimal
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class TaxLine:
    """VAT of one rate: ``gross = net + tax``."""

    rate: Decimal
    net: Decimal
    tax: Decimal
    gross: Decimal
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class Signature:
    """The RKSV signature; the QR string holds local time without offset: never parse it."""

    cash_register_id: str | None = None
    qr: str | None = None
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class Recipient:
    """The billing recipient of an invoice to a business customer."""

    name: str | None = None
    address: str | None = None
    uid: str | None = None
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class Receipt:
    """A fiscally signed receipt (``receipts/``).

    Revenue is ``total`` of invoices and cancellations (voids are negative); training and zero
    receipts are not revenue, and ``tip`` is never revenue (see :attr:`is_revenue`).
    """

    id: uuid.UUID
    number: str | None = None
    """Per main Sales Point, not per tenant."""
    type: ReceiptType | str
    timestamp: datetime
    sales_point: uuid.UUID | None = None
    location: uuid.UUID | None = None
    user: uuid.UUID | None = None
    table: uuid.UUID | None = None
    orders: tuple[uuid.UUID, ...] = ()
    total: Decimal
    tip: Decimal | None = None
    lines: tuple[ReceiptLine, ...] = ()
    payments: tuple[ReceiptPayment, ...] = ()
    taxes: tuple[TaxLine, ...] = ()
    cancels: uuid.UUID | None = None
    """For a cancellation: the receipt it voids."""
    recipient: Recipient | None = None
    signature: Signature | None = None
    created: datetime | None = None
    updated: datetime | None = None
    deleted: datetime | None = attrs.field(default=None, metadata=_ABSENT_IF_NONE)
    """When the API flags the item deleted (soft delete); None otherwise."""
    extra: Mapping[str, Any] = _extra()

    @property
    def is_revenue(self) -> bool:
        """Whether ``total`` counts as revenue (invoices and their voids)."""
        return self.type in (ReceiptType.INVOICE, ReceiptType.CANCELLATION)


# --- reports and stock ------------------------------------------------------------------------


@final
@attrs.frozen(kw_only=True)
class PaymentMethodTotal:
    """A sales report's sum per payment method (tips included)."""

    payment_method: uuid.UUID | None = None
    name: str | None = None
    amount: Decimal
    count: int | None = None
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class ArticleGroupTotal:
    """A sales report's sum per article group."""

    article_group: uuid.UUID | None = None
    name: str | None = None
    quantity: Decimal | None = None
    gross: Decimal
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class SalesReport:
    """``reports/sales/`` for a window: revenue with voids subtracted, training excluded."""

    start: datetime
    end: datetime
    receipts: int
    gross: Decimal
    net: Decimal | None = None
    tip: Decimal | None = None
    by_tax_rate: tuple[TaxLine, ...] = ()
    by_payment_method: tuple[PaymentMethodTotal, ...] = ()
    by_article_group: tuple[ArticleGroupTotal, ...] = ()
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class Closing:
    """A Sales Point closing (Z report, ``reports/closings/``) over its business day."""

    id: uuid.UUID
    sales_point: uuid.UUID | None = None
    type: ClosingType | str | None = None
    number: int | None = None
    timestamp: datetime
    start: datetime | None = None
    end: datetime | None = None
    gross: Decimal | None = None
    receipts: int | None = None
    created: datetime | None = None
    updated: datetime | None = None
    deleted: datetime | None = attrs.field(default=None, metadata=_ABSENT_IF_NONE)
    """When the API flags the item deleted (soft delete); None otherwise."""
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class StockLevel:
    """The stock of an article at a location (``stock-levels/``); up to three decimals."""

    article: uuid.UUID
    location: uuid.UUID | None = None
    quantity: Decimal
    unit: str | None = None
    updated: datetime | None = None
    deleted: datetime | None = attrs.field(default=None, metadata=_ABSENT_IF_NONE)
    """When the API flags the item deleted (soft delete); None otherwise."""
    id: uuid.UUID | None = attrs.field(default=None, metadata={"omit_if_none": True})
    """Stock levels need no id of their own; kept if the API sends one."""
    extra: Mapping[str, Any] = _extra()
