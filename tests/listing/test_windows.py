"""Time windows of list filters, as pure functions: a start after the end is refused, and ISO
text is held to the rule an aware datetime is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async import InvalidTypeError, InvalidValueError
from bessa_async._listing.filters import check_windows
from bessa_async._resources.resource import Receipts, filter_spec_of

_ZONES = st.sampled_from([UTC, ZoneInfo("Europe/Vienna"), ZoneInfo("America/St_Johns")])
_MOMENTS = st.builds(
    lambda seconds, zone: (
        datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    ).astimezone(zone),
    st.integers(min_value=0, max_value=366 * 86400),
    _ZONES,
)


def _split(filters: dict[str, Any]) -> dict[str, Any]:
    """The query ``receipts.list(**filters)`` would send."""
    spec = filter_spec_of(Receipts)
    assert spec is not None
    return spec.split(filters, owner="Receipts.list")[0]


@given(_MOMENTS, _MOMENTS, st.booleans())
def test_a_window_is_refused_exactly_when_its_start_is_after_its_end(
    start: datetime, end: datetime, as_text: bool
) -> None:
    """Whatever the zones (and as ISO text through ``resource()``), start > end is refused and
    every other window is taken, bounds untouched."""
    query: dict[str, Any] = {"timestamp__gte": start, "timestamp__lt": end}
    if as_text:
        query = {name: value.isoformat() for name, value in query.items()}
    if start > end:
        with pytest.raises(InvalidValueError, match="is after"):
            check_windows(query)
        with pytest.raises(ValueError, match="is after"):
            _split({"timestamp__gte": start, "timestamp__lt": end})
    else:
        check_windows(query)
        assert _split({"timestamp__gte": start, "timestamp__lt": end}) == {
            "timestamp__gte": start,
            "timestamp__lt": end,
        }


@given(_MOMENTS)
def test_text_for_a_typed_timestamp_is_refused_even_with_an_offset(moment: datetime) -> None:
    """A typed filter takes a datetime: text is a TypeError that names the helpers."""
    with pytest.raises(InvalidTypeError, match=r"business_day.*fromisoformat"):
        _split({"timestamp__gte": moment.isoformat()})


@pytest.mark.parametrize("value", ["10.00", "2026", "abc", "20260601", 5])
def test_bounds_that_are_not_iso_timestamps_are_left_alone(value: object) -> None:
    """Amounts or words under a range name (``total__gte``) are no timestamps: not judged."""
    check_windows({"total__gte": value, "total__lt": "1.00"})
