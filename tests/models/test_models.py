"""The converter's value rules and the models, without an event loop."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, Inexact, localcontext
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async import (
    Article,
    Closing,
    DecodeError,
    InvalidTypeError,
    InvalidValueError,
    Order,
    OrderLine,
    Payment,
    PaymentMethodType,
    Receipt,
    ReceiptType,
    SalesReport,
    from_dict,
    make_converter,
    to_dict,
)
from bessa_async._jobs.submissions import order_body, payment_body
from bessa_async._registry import TYPED
from bessa_async.testing._data import generate_tenant

DATA = generate_tenant(
    name="tenant-a", seed="models", receipts=400, start=date(2026, 6, 1), days=30
)
RECEIPT: dict[str, Any] = dict(
    next(r for r in DATA.receipts if r["type"] == "invoice" and r["lines"])
)


def test_every_generated_item_round_trips() -> None:
    """Each sandbox item decodes into its model and encodes back to the identical JSON."""
    pairs = [(model, getattr(DATA, name)) for name, model in TYPED]
    for model, items in pairs:
        for item in items:
            assert to_dict(from_dict(model, item)) == item, model.__name__


def test_receipt_values_are_typed() -> None:
    """Money is Decimal, ids UUID, timestamps aware UTC, type words enums."""
    receipt = from_dict(Receipt, RECEIPT)
    assert isinstance(receipt.total, Decimal)
    assert isinstance(receipt.id, uuid.UUID)
    assert receipt.timestamp.tzinfo is UTC
    assert isinstance(receipt.type, ReceiptType)
    assert all(isinstance(p.type, PaymentMethodType) for p in receipt.payments)


def test_unknown_fields_are_kept_and_written_back() -> None:
    """Fields the model does not know land in extra and survive the round trip."""
    item = {**RECEIPT, "voucher_code": None, "loyalty": {"points": 12}}
    receipt = from_dict(Receipt, item)
    assert receipt.extra == {"voucher_code": None, "loyalty": {"points": 12}}
    assert to_dict(receipt) == item


def test_a_soft_delete_is_read_and_written_back() -> None:
    """``deleted`` (where the API soft-deletes) is a time; absent or null, it is None."""
    item = {**RECEIPT, "deleted": "2026-06-16T08:00:00Z"}
    receipt = from_dict(Receipt, item)
    assert receipt.deleted == datetime(2026, 6, 16, 8, tzinfo=UTC)
    assert to_dict(receipt) == item
    assert from_dict(Receipt, {**RECEIPT, "deleted": None}).deleted is None
    assert "deleted" not in to_dict(from_dict(Receipt, RECEIPT))


def test_unknown_type_word_is_kept_as_a_string() -> None:
    """A receipt type the library does not know is a str, not an error, and never revenue."""
    receipt = from_dict(Receipt, {**RECEIPT, "type": "gift_card"})
    assert receipt.type == "gift_card"
    assert not isinstance(receipt.type, ReceiptType)
    assert not receipt.is_revenue


def test_missing_optional_fields_are_none() -> None:
    """Only id, type, timestamp and total are required of a receipt."""
    receipt = from_dict(
        Receipt,
        {
            "id": RECEIPT["id"],
            "type": "invoice",
            "timestamp": "2026-06-15T10:00:00Z",
            "total": "1.00",
        },
    )
    assert receipt.sales_point is None
    assert receipt.lines == ()
    assert receipt.signature is None


def test_errors_name_resource_field_path_and_value() -> None:
    """A missing required field and wrong values are one DecodeError listing each problem."""
    bad = {**RECEIPT, "total": 1.5, "lines": [{**RECEIPT["lines"][0], "quantity": "x"}]}
    del bad["timestamp"]
    with pytest.raises(DecodeError) as info:
        from_dict(Receipt, bad)
    message = str(info.value)
    assert "Receipt" in message
    assert "required field missing @ $.timestamp" in message
    assert "float 1.5 refused" in message
    assert "@ $.total" in message
    assert "not a decimal number: 'x' @ $.lines[0].quantity" in message
    assert "ExceptionGroup" not in message


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("id", "not-a-uuid", "not a UUID: 'not-a-uuid'"),
        ("timestamp", "2026-06-15T10:00:00", "timestamp without an offset"),
        ("timestamp", "yesterday", "not an ISO 8601 timestamp"),
        ("total", "NaN", "not a finite amount"),
        ("total", True, "expected a decimal string"),
        ("number", 12, "expected a string, got 12"),
        ("type", 3, "expected a type word"),
    ],
)
def test_wrong_values_are_refused(field: str, value: object, expected: str) -> None:
    """Strict rules: no guessing of offsets, floats, NaN, or types."""
    with pytest.raises(DecodeError, match=expected):
        from_dict(Receipt, {**RECEIPT, field: value})


def test_bools_and_ints_are_strict() -> None:
    """'false' is not True and a bool is not a count."""
    article = {**dict(DATA.articles[0])}
    with pytest.raises(DecodeError, match="expected true or false"):
        from_dict(Article, {**article, "active": "false"})
    closing = dict(DATA.closings[0])
    with pytest.raises(DecodeError, match="expected an integer"):
        from_dict(Closing, {**closing, "receipts": True})


def test_both_utc_spellings_are_read() -> None:
    """'Z' and '+00:00' give the same instant; other offsets are converted to UTC."""
    z = from_dict(Receipt, {**RECEIPT, "timestamp": "2026-06-15T10:00:00Z"})
    plus = from_dict(Receipt, {**RECEIPT, "timestamp": "2026-06-15T10:00:00+00:00"})
    vienna = from_dict(Receipt, {**RECEIPT, "timestamp": "2026-06-15T12:00:00+02:00"})
    assert z.timestamp == plus.timestamp == vienna.timestamp
    assert vienna.timestamp.utcoffset() == timedelta(0)


def test_sales_report_decodes() -> None:
    """The report's nested rows are typed."""
    report = from_dict(
        SalesReport,
        {
            "start": "2026-06-14T22:00:00Z",
            "end": "2026-06-15T22:00:00Z",
            "receipts": 2,
            "gross": "10.00",
            "by_tax_rate": [{"rate": "20.00", "net": "8.33", "tax": "1.67", "gross": "10.00"}],
        },
    )
    assert report.by_tax_rate[0].gross == Decimal("10.00")


def test_models_are_frozen_and_hashable() -> None:
    """Models are immutable values usable in sets."""
    receipt = from_dict(Receipt, RECEIPT)
    with pytest.raises(AttributeError):
        receipt.total = Decimal(0)  # type: ignore[misc]
    assert len({receipt, from_dict(Receipt, RECEIPT)}) == 1


def test_make_converter_gives_an_independent_converter() -> None:
    """make_converter() returns a fresh converter with the same rules."""
    converter = make_converter()
    assert converter.structure("19.90", Decimal) == Decimal("19.90")
    assert converter.unstructure(Decimal("19.90")) == "19.90"
    with pytest.raises(TypeError, match="float"):
        converter.structure(19.9, Decimal)


money = st.decimals(
    min_value=Decimal("-100000"), max_value=Decimal("100000"), places=2, allow_nan=False
)


@given(amount=money)
def test_money_round_trips(amount: Decimal) -> None:
    """Every 2-decimal amount goes string → Decimal → the same string."""
    text = f"{amount:.2f}"
    receipt = from_dict(Receipt, {**RECEIPT, "total": text})
    assert receipt.total == amount
    assert to_dict(receipt)["total"] == text


@given(value=st.uuids())
def test_uuids_round_trip(value: uuid.UUID) -> None:
    """Ids survive in their canonical form."""
    assert to_dict(from_dict(Receipt, {**RECEIPT, "id": str(value)}))["id"] == str(value)


@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]
        ),
    )
)
def test_timestamps_round_trip_as_utc(moment: datetime) -> None:
    """Any aware timestamp decodes to the same instant and is written back with Z."""
    receipt = from_dict(Receipt, {**RECEIPT, "timestamp": moment.isoformat()})
    assert receipt.timestamp == moment
    written = to_dict(receipt)["timestamp"]
    assert written.endswith("Z")
    assert datetime.fromisoformat(written) == moment


@given(
    extra=st.dictionaries(
        st.text(min_size=1).filter(lambda k: k not in RECEIPT and k != "extra"),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3)
            ),
            max_leaves=5,
        ),
        max_size=4,
    )
)
def test_unknown_fields_round_trip(extra: dict[str, Any]) -> None:
    """Whatever unknown fields arrive, to_dict gives back exactly what came in."""
    item = {**RECEIPT, **extra}
    assert to_dict(from_dict(Receipt, item)) == item


# --- orders and payments: every value is refused at construction or sent exactly --------------

_NUMBERS = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.builds(
        lambda m, e: Decimal(m).scaleb(e), st.integers(-(10**20), 10**20), st.integers(-40, 40)
    ),
)


@given(amount=_NUMBERS, price=_NUMBERS, quantity=_NUMBERS)
def test_money_and_quantities_are_refused_or_sent_exactly(
    amount: Decimal | int, price: Decimal | int, quantity: Decimal | int
) -> None:
    """Any number either fails construction with an input error, or is sent as the same value
    (and a line's total, quantity x price, is exact in decimal's default context)."""
    ids = uuid.uuid4()
    try:
        payment = Payment(sales_point=ids, order=ids, payment_method=ids, amount=amount)
    except (InvalidValueError, InvalidTypeError):
        pass
    else:
        assert Decimal(payment_body(payment, "r")["amount"]) == amount
    try:
        line = OrderLine(article=uuid.uuid4(), quantity=quantity, unit_price=price)
    except (InvalidValueError, InvalidTypeError):
        return
    sent = order_body(Order(sales_point=uuid.uuid4(), lines=[line]), "r")["lines"][0]
    assert (Decimal(sent["quantity"]), Decimal(sent["unit_price"])) == (quantity, price)
    with localcontext() as exact:
        exact.traps[Inexact] = True
        total = line.quantity * (line.unit_price or 0)  # the product itself is exact
    # Rounding it to cents, as a till does (0.125 kg at 1.99), stays inside the context: no
    # InvalidOperation, whatever the bounds let through.
    rounded = total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert abs(rounded - total) <= Decimal("0.005")
