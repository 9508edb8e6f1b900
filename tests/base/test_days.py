"""Local business days as UTC windows, checked against zoneinfo over whole years."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bessa_async import business_day, business_days

VIENNA = ZoneInfo("Europe/Vienna")


def test_the_documented_example() -> None:
    """15 June 2026 in Vienna is 2026-06-14T22:00Z .. 2026-06-15T22:00Z."""
    assert business_day(date(2026, 6, 15)) == (
        datetime(2026, 6, 14, 22, tzinfo=UTC),
        datetime(2026, 6, 15, 22, tzinfo=UTC),
    )


def test_winter_day_is_offset_by_one_hour() -> None:
    """In CET the window starts at 23:00 UTC the day before."""
    assert business_day(date(2026, 1, 15))[0] == datetime(2026, 1, 14, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "hours"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 6, 1), 24)]
)
def test_dst_switch_days_last_23_or_25_hours(day: date, hours: int) -> None:
    """The spring day is 23 h long, the autumn day 25 h."""
    start, end = business_day(day)
    assert end - start == timedelta(hours=hours)


def test_day_start_moves_the_window() -> None:
    """A bar's day starting 06:00: a sale at 01:30 local belongs to the day before."""
    start, end = business_day(date(2026, 6, 15), day_start=time(6))
    assert start == datetime(2026, 6, 15, 4, tzinfo=UTC)
    sale = datetime(2026, 6, 16, 1, 30, tzinfo=VIENNA)
    assert start <= sale < end


@given(day=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)))
def test_every_day_matches_zoneinfo(day: date) -> None:
    """Any local day maps to local midnight .. next local midnight, in UTC."""
    start, end = business_day(day)
    assert start.tzinfo is UTC
    assert start.astimezone(VIENNA).replace(tzinfo=None) == datetime.combine(day, time(0))
    assert end.astimezone(VIENNA).replace(tzinfo=None) == datetime.combine(
        day + timedelta(days=1), time(0)
    )
    assert end - start in {timedelta(hours=23), timedelta(hours=24), timedelta(hours=25)}


@given(
    day=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    hour=st.integers(min_value=4, max_value=8),
    tz=st.sampled_from(["Europe/Vienna", "Europe/London", "America/New_York", "UTC"]),
)
def test_day_starts_in_any_zone(day: date, hour: int, tz: str) -> None:
    """With a day start and another zone, the window still starts at that local time."""
    start, _ = business_day(day, tz, day_start=time(hour))
    assert start.astimezone(ZoneInfo(tz)).replace(tzinfo=None) == datetime.combine(day, time(hour))


def test_a_whole_year_tiles_without_gap_or_overlap() -> None:
    """business_days over 2026: each end is the next start; the total is 365 days of hours."""
    windows = business_days(date(2026, 1, 1), date(2026, 12, 31))
    assert len(windows) == 365
    spans = list(windows.values())
    for (_, end), (start, _) in pairwise(spans):
        assert end == start
    assert spans[-1][1] - spans[0][0] == timedelta(days=365)


def test_bad_arguments_are_refused() -> None:
    """A datetime for a date, an aware day start, or reversed bounds are clear errors."""
    with pytest.raises(TypeError, match="not a datetime"):
        business_day(datetime(2026, 6, 15))
    with pytest.raises(TypeError, match="naive local"):
        business_day(date(2026, 6, 15), day_start=time(6, tzinfo=UTC))
    with pytest.raises(ValueError, match="before first"):
        business_days(date(2026, 6, 2), date(2026, 6, 1))
