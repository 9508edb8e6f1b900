"""The compiled readers are a fast path only: same answers as the detailed converter, or a raise."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async import (
    DecodeError,
    Receipt,
    from_dict,
    make_converter,
    to_dict,
)
from bessa_async._jobs.model import Job
from bessa_async._models.convert import _FAST, EXTRA, decode
from bessa_async._models.readers import _DECIMALS, _UUIDS, _parse_uuid, reader
from bessa_async._models.records import NO_EXTRA
from bessa_async._registry import TYPED
from bessa_async.testing._data import generate_tenant

DATA = generate_tenant(
    name="tenant-a", seed="readers", receipts=300, start=date(2026, 6, 1), days=10
)
DETAILED = make_converter()
# Every typed resource's model with the sandbox items it serves (the doctor's table).
PAIRS: list[tuple[type[Any], tuple[dict[str, Any], ...]]] = [
    (model, getattr(DATA, name)) for name, model in TYPED
]
RECEIPTS = [r for r in DATA.receipts if r["lines"] and r["payments"] and r["taxes"]]


def fast(model: type[Any], item: object) -> Any:
    return reader(model, _FAST, EXTRA)(item)


def same(a: Any, b: Any) -> None:
    """Equal, with the same types and the same written form (Decimal scale, enum or word)."""
    assert a == b
    assert to_dict(a) == to_dict(b)
    for field in attrs.fields(type(a)):
        left, right = getattr(a, field.name), getattr(b, field.name)
        assert type(left) is type(right), field.name
        if attrs.has(type(left)):
            same(left, right)
        elif isinstance(left, tuple):
            for x, y in zip(left, right, strict=True):
                if attrs.has(type(x)):
                    same(x, y)
                else:
                    assert type(x) is type(y)


def test_every_generated_item_reads_the_same_fast_and_detailed() -> None:
    """Each sandbox item takes the fast path, and it gives exactly the detailed answer."""
    for model, items in PAIRS:
        for item in items:
            same(fast(model, item), DETAILED.structure(item, model))


def test_jobs_read_the_same_fast_and_detailed() -> None:
    job = {
        "id": "0b6c3a7e-3d7c-4c39-9a53-2f0c1b0e6f10",
        "type": "order",
        "status": "succeeded",
        "reference": "shop-1",
        "sales_point": "8fc0fb40-af3c-440f-887e-7c3909cc2273",
        "created": "2026-06-01T06:54:22Z",
        "updated": "2026-06-01T06:54:23Z",
        "result": {"order": "7d1c3a7e-3d7c-4c39-9a53-2f0c1b0e6f10", "note": "x"},
        "error": None,
        "unknown": [1, 2],
    }
    same(fast(Job, job), DETAILED.structure(job, Job))


def test_unknown_fields_land_in_extra_on_nested_models_too() -> None:
    item = copy.deepcopy(RECEIPTS[0])
    item["lines"][0]["colour"] = "blue"
    item["new_field"] = {"a": 1}
    receipt = fast(Receipt, item)
    assert receipt.extra == {"new_field": {"a": 1}}
    assert receipt.lines[0].extra == {"colour": "blue"}
    assert receipt.lines[1:] == () or receipt.lines[1].extra == {}


def test_amounts_keep_their_scale_through_the_cache() -> None:
    item = copy.deepcopy(RECEIPTS[0])
    item["total"], item["tip"] = "1.5", "1.50"
    receipt = fast(Receipt, item)
    assert (str(receipt.total), str(receipt.tip)) == ("1.5", "1.50")


def test_caches_stay_bounded() -> None:
    item = copy.deepcopy(RECEIPTS[0])
    for cents in range(10_000):
        item["tip"] = f"{cents // 100}.{cents % 100:02d}"
        item["sales_point"] = f"00000000-0000-4000-8000-{cents:012d}"
        assert str(fast(Receipt, item).tip) == item["tip"]
    assert len(_DECIMALS) <= 8192
    assert len(_UUIDS) <= 8192


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("total", 12),  # an int amount: valid, read by the detailed converter
        ("timestamp", "2026-06-01T08:54:00+02:00"),  # another offset: valid, converted to UTC
    ],
)
def test_unusual_but_valid_values_fall_back_to_the_same_answer(field: str, value: object) -> None:
    item = {**RECEIPTS[0], field: value}
    with pytest.raises(Exception):  # noqa: B017,PT011 - any exception means "read in detail"
        fast(Receipt, item)
    same(decode(Receipt, item, resource="receipts"), DETAILED.structure(item, Receipt))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 10**20)
    | st.floats(allow_nan=True)
    | st.sampled_from(
        [
            "0.00",
            "19.90",
            "-1.5",
            "1e3",
            "NaN",
            "Infinity",
            " 2.50 ",
            "1_000",
            "x",
            "",
            "2026-06-01T06:54:00Z",
            "2026-06-01T06:54:00+00:00",
            "2026-06-01T06:54:00+01:00",
            "2026-06-01T06:54:00",
            "2026-06-01",
            "8fc0fb40-af3c-440f-887e-7c3909cc2273",
            "{8fc0fb40-af3c-440f-887e-7c3909cc2273}",
            "urn:uuid:8fc0fb40-af3c-440f-887e-7c3909cc2273",
            "invoice",
            "cancellation",
            "a_new_word",
            "cash",
        ]
    )
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=4,
)


@st.composite
def mutated_items(draw: st.DrawFn) -> tuple[type[Any], dict[str, Any]]:
    """A real item (mostly receipts) with a few values replaced, removed or added, anywhere."""
    model, items = draw(st.sampled_from([(Receipt, RECEIPTS)] * 6 + PAIRS))
    item = copy.deepcopy(draw(st.sampled_from(items)))
    for _ in range(draw(st.integers(1, 3))):
        target: dict[str, Any] = item
        part = draw(st.sampled_from([None, "lines", "payments", "taxes", "signature"]))
        value = item.get(part) if part is not None else None
        if isinstance(value, list) and value and isinstance(value[0], dict):
            target = value[0]
        elif isinstance(value, dict):
            target = value
        key = draw(st.sampled_from([*sorted(target), "extra", "unknown"]))
        action = draw(st.sampled_from(["replace", "replace", "delete"]))
        if action == "delete":
            target.pop(key, None)
        else:
            target[key] = draw(json_values)
    return model, item


@given(case=mutated_items())
def test_the_fast_path_never_disagrees_with_the_detailed_converter(
    case: tuple[type[Any], dict[str, Any]],
) -> None:
    """Whatever arrives: the reader gives the detailed answer, or raises and leaves it to it."""
    model, item = case
    try:
        expected = DETAILED.structure(item, model)
    except Exception:  # the detailed converter refuses: so must both paths
        expected = None
    try:
        quick = fast(model, item)
    except Exception:  # a raise is always allowed: it means "read in detail"
        quick = None
    if quick is not None:
        assert expected is not None, "the fast path accepted what the detailed one refuses"
        same(quick, expected)
    if expected is None:
        with pytest.raises(DecodeError):
            from_dict(model, item)
    else:
        same(from_dict(model, item), expected)


@attrs.frozen(kw_only=True)
class _Checked:
    amount: Decimal = attrs.field(validator=attrs.validators.ge(Decimal(0)))
    note: str | None = None
    extra: Mapping[str, Any] = attrs.field(default=NO_EXTRA, hash=False, repr=False)


def test_models_with_validators_are_built_through_their_init() -> None:
    """Slots are set directly only where attrs' __init__ does nothing else."""
    assert fast(_Checked, {"amount": "1.50", "more": 1}) == _Checked(
        amount=Decimal("1.50"), extra={"more": 1}
    )
    with pytest.raises(ValueError, match="amount"):
        fast(_Checked, {"amount": "-1"})
    with pytest.raises(DecodeError, match="amount"):
        from_dict(_Checked, {"amount": "-1"})


@given(
    st.text(alphabet="0123456789abcdefABCDEF-{}urn:id_ +x", min_size=28, max_size=45)
    | st.uuids().map(str)
)
def test_uuid_parsing_matches_the_standard_library(text: str) -> None:
    try:
        expected: uuid.UUID | None = uuid.UUID(text)
    except ValueError:
        expected = None
    try:
        got: uuid.UUID | None = _parse_uuid(text)
    except ValueError:
        got = None
    assert got == expected
    if got is not None and expected is not None:
        assert (got.int, got.is_safe, str(got)) == (expected.int, expected.is_safe, str(expected))
