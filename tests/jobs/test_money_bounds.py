"""The bounds the docs give for money and quantities, at their edges: the largest value they
allow goes out exactly, the next one up is refused where the value is made."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async import InvalidValueError, Order, OrderLine, Payment
from bessa_async._jobs.submissions import order_body, payment_body

ID = uuid.UUID(int=1)
LARGEST_AMOUNT = Decimal("999999999999.99")  # twelve digits before two decimals
LARGEST_QUANTITY = Decimal("999999999.999")  # nine digits before three decimals


def _payment(amount: Decimal, tip: Decimal | None = None) -> Payment:
    return Payment(sales_point=ID, order=ID, payment_method=ID, amount=amount, tip=tip)


def _line(quantity: Decimal, unit_price: Decimal | None = None) -> OrderLine:
    return OrderLine(article=ID, quantity=quantity, unit_price=unit_price)


def test_the_largest_documented_values_go_out_exactly() -> None:
    body = payment_body(_payment(LARGEST_AMOUNT, tip=LARGEST_AMOUNT), "ref")
    assert (body["amount"], body["tip"]) == ("999999999999.99", "999999999999.99")
    order = Order(sales_point=ID, lines=[_line(LARGEST_QUANTITY, LARGEST_AMOUNT)])
    (line,) = order_body(order, "ref")["lines"]
    assert (line["quantity"], line["unit_price"]) == ("999999999.999", "999999999999.99")


@pytest.mark.parametrize(
    "make",
    [
        lambda: _payment(Decimal(10**12)),
        lambda: _payment(Decimal(1), tip=Decimal(10**12)),
        lambda: _line(Decimal(10**9)),
        lambda: _line(Decimal(1), unit_price=Decimal(10**12)),
    ],
    ids=["amount", "tip", "quantity", "unit_price"],
)
def test_one_more_digit_is_refused(make: Callable[[], object]) -> None:
    with pytest.raises(InvalidValueError, match="digits before the decimal point"):
        make()


@given(cents=st.integers(1, 10**14 - 1), tenths=st.integers(1, 10**12 - 1))
def test_every_amount_and_quantity_within_the_bounds_goes_out_exactly(
    cents: int, tenths: int
) -> None:
    amount = Decimal(cents).scaleb(-2)
    quantity = Decimal(tenths).scaleb(-3)
    assert Decimal(payment_body(_payment(amount), "ref")["amount"]) == amount
    order = Order(sales_point=ID, lines=[_line(quantity, amount)])
    (line,) = order_body(order, "ref")["lines"]
    assert (Decimal(line["quantity"]), Decimal(line["unit_price"])) == (quantity, amount)
