"""What an order or a payment is, checked before anything is sent, and its request body.

The values check locally: ids are UUIDs, money is a ``Decimal`` with at most two decimals (a
``float`` is refused) and twelve digits before them, quantities are positive with at most three
decimals and nine digits before them, an order has a line.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final, final

import attrs

from .._base.validate import check_decimal, check_items, check_text, check_uuid
from .model import JobKind

__all__ = [
    "Order",
    "OrderLine",
    "OrderOption",
    "Payment",
    "new_reference",
    "order_body",
    "payment_body",
]

_CENT: Final = Decimal("0.01")
# The API does not publish its fields' max_digits. These bounds are far beyond any sale, and
# keep a line's total (quantity x unit price: at most 26 digits) exact within decimal's default
# 28-digit context, wherever it is computed; a typo such as 10**27 is refused before sending.
_MONEY: Final = {"places": 2, "digits": 14}
_QUANTITY: Final = {"places": 3, "digits": 12}
_REFERENCE_MAX: Final = 100
_NOTE_MAX: Final = 500
_ZERO: Final = Decimal(0)

# One named converter per field: the attrs mypy plugin types __init__ from these.


def _option_id(value: uuid.UUID | str) -> uuid.UUID:
    return check_uuid("option", value)


def _article(value: uuid.UUID | str) -> uuid.UUID:
    return check_uuid("article", value)


def _sales_point(value: uuid.UUID | str) -> uuid.UUID:
    return check_uuid("sales_point", value)


def _table(value: uuid.UUID | str | None) -> uuid.UUID | None:
    return None if value is None else check_uuid("table", value)


def _order_id(value: uuid.UUID | str) -> uuid.UUID:
    return check_uuid("order", value)


def _payment_method(value: uuid.UUID | str) -> uuid.UUID:
    return check_uuid("payment_method", value)


def _quantity(value: Decimal | int) -> Decimal:
    return check_decimal("quantity", value, **_QUANTITY, minimum=_ZERO, inclusive=False)


def _unit_price(value: Decimal | int | None) -> Decimal | None:
    if value is None:
        return None
    return check_decimal("unit_price", value, **_MONEY, minimum=_ZERO, inclusive=True)


def _amount(value: Decimal | int) -> Decimal:
    return check_decimal("amount", value, **_MONEY, minimum=_ZERO, inclusive=False)


def _tip(value: Decimal | int | None) -> Decimal | None:
    return (
        None
        if value is None
        else check_decimal("tip", value, **_MONEY, minimum=_ZERO, inclusive=True)
    )


def _note(value: str | None) -> str | None:
    return check_text("note", value, _NOTE_MAX)


def _reference(value: str | None) -> str | None:
    return check_text("reference", value, _REFERENCE_MAX)


def _options(value: Iterable[OrderOption]) -> tuple[OrderOption, ...]:
    return check_items("options", value, OrderOption)


def _lines(value: Iterable[OrderLine]) -> tuple[OrderLine, ...]:
    return check_items("lines", value, OrderLine, min_items=1)


@final
@attrs.frozen(kw_only=True)
class OrderOption:
    """An option choice on an order line (e.g. oat milk), by the choice's id."""

    option: uuid.UUID = attrs.field(converter=_option_id)
    quantity: Decimal = attrs.field(default=Decimal(1), converter=_quantity)


@final
@attrs.frozen(kw_only=True)
class OrderLine:
    """One line of an order: an article and a positive quantity (up to three decimals and nine
    digits before them).

    ``unit_price`` overrides the article's price (two decimals, twelve digits before them);
    ``None`` lets the till price it.
    """

    article: uuid.UUID = attrs.field(converter=_article)
    quantity: Decimal = attrs.field(converter=_quantity)
    unit_price: Decimal | None = attrs.field(default=None, converter=_unit_price)
    note: str | None = attrs.field(default=None, converter=_note)
    options: tuple[OrderOption, ...] = attrs.field(default=(), converter=_options)


@final
@attrs.frozen(kw_only=True)
class Order:
    """An order for a Sales Point: the value :meth:`OrderJobs.submit` sends.

    ``reference`` identifies the logical submission (your shop's order number, say); it is how a
    submission with an unknown outcome is found again, so it must be unique per order. Leave it
    ``None`` and one is generated.

    Raises:
        InvalidValueError, InvalidTypeError: a malformed id, a float, inexact or too large
            amount, no lines (also ``ValueError`` / ``TypeError``); nothing was sent.
    """

    sales_point: uuid.UUID = attrs.field(converter=_sales_point)
    lines: tuple[OrderLine, ...] = attrs.field(converter=_lines)
    reference: str | None = attrs.field(default=None, converter=_reference)
    table: uuid.UUID | None = attrs.field(default=None, converter=_table)
    note: str | None = attrs.field(default=None, converter=_note)


@final
@attrs.frozen(kw_only=True)
class Payment:
    """A payment settling an order: the value :meth:`PaymentJobs.submit` sends.

    ``order`` is the order's id (``job.result.order``) or its order job's id; ``amount`` the
    amount due (more than zero, two decimals, twelve digits before them); ``tip`` extra, not
    revenue. ``reference`` as for
    :class:`Order` (your payment provider's id, say).

    Raises:
        InvalidValueError, InvalidTypeError: a malformed id, a float, inexact or too large
            amount (also ``ValueError`` / ``TypeError``); nothing was sent.
    """

    sales_point: uuid.UUID = attrs.field(converter=_sales_point)
    order: uuid.UUID = attrs.field(converter=_order_id)
    payment_method: uuid.UUID = attrs.field(converter=_payment_method)
    amount: Decimal = attrs.field(converter=_amount)
    tip: Decimal | None = attrs.field(default=None, converter=_tip)
    reference: str | None = attrs.field(default=None, converter=_reference)


def _money_text(value: Decimal) -> str:
    return f"{value.quantize(_CENT):f}"


def _quantity_text(value: Decimal) -> str:
    return f"{value:f}"


def order_body(order: Order, reference: str) -> dict[str, Any]:
    """The JSON body of an order; optional fields left out when unset. Pure."""
    lines: list[dict[str, Any]] = []
    for line in order.lines:
        item: dict[str, Any] = {
            "article": str(line.article),
            "quantity": _quantity_text(line.quantity),
        }
        if line.unit_price is not None:
            item["unit_price"] = _money_text(line.unit_price)
        if line.note is not None:
            item["note"] = line.note
        if line.options:
            item["options"] = [
                {"option": str(o.option), "quantity": _quantity_text(o.quantity)}
                for o in line.options
            ]
        lines.append(item)
    body: dict[str, Any] = {"sales_point": str(order.sales_point), "reference": reference}
    if order.table is not None:
        body["table"] = str(order.table)
    if order.note is not None:
        body["note"] = order.note
    body["lines"] = lines
    return body


def payment_body(payment: Payment, reference: str) -> dict[str, Any]:
    """The JSON body of a payment. Pure."""
    body: dict[str, Any] = {
        "sales_point": str(payment.sales_point),
        "order": str(payment.order),
        "payment_method": str(payment.payment_method),
        "amount": _money_text(payment.amount),
        "reference": reference,
    }
    if payment.tip is not None:
        body["tip"] = _money_text(payment.tip)
    return body


def new_reference(kind: JobKind) -> str:
    """A reference for a submission the caller gave none: unique, and says who made it."""
    return f"bessa-async-{kind}-{uuid.uuid4().hex}"
