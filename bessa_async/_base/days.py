"""Local business days as UTC windows: the first of the domain's pitfalls, taken off users' hands.

A Vienna calendar day is not a UTC day (15 June 2026 is ``2026-06-14T22:00Z .. 2026-06-15T22:00Z``),
lasts 23 or 25 hours on the days the clocks change, and a venue's business day may start at
06:00 so that a sale at 01:30 belongs to the day before. Windows are half-open ``[start, end)``
and built with :mod:`zoneinfo`, so every day of every year is right.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidTypeError, InvalidValueError, UnknownTimeZoneError

__all__ = ["DEFAULT_TZ", "business_day", "business_days"]

DEFAULT_TZ = "Europe/Vienna"
"""The zone bessa's venues trade in unless told otherwise."""


def _zone(tz: str | tzinfo) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    if not isinstance(tz, str):
        raise InvalidTypeError(f"tz must be an IANA zone name or a tzinfo, got {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # ValueError: "", "/etc/x", "../x"
        raise UnknownTimeZoneError(
            f"unknown time zone {tz!r}; pass an IANA name such as {DEFAULT_TZ!r}"
        ) from exc


def _check(day: object, day_start: object) -> None:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise InvalidTypeError(f"day must be a datetime.date (not a datetime), got {day!r}")
    if not isinstance(day_start, time) or day_start.tzinfo is not None:
        raise InvalidTypeError(f"day_start must be a naive local datetime.time, got {day_start!r}")


def business_day(
    day: date, tz: str | tzinfo = DEFAULT_TZ, *, day_start: time = time(0)
) -> tuple[datetime, datetime]:
    """The UTC window ``[start, end)`` of one local business day.

    Args:
        day: the local date.
        tz: an IANA zone name or a tzinfo; Europe/Vienna by default.
        day_start: the local time the business day starts (e.g. ``time(6)`` for a bar whose
            night belongs to the day before). A start that falls into a DST gap is read the way
            :mod:`zoneinfo` reads it (shifted by the gap).

    Returns:
        Aware UTC datetimes, ready for ``timestamp__gte`` / ``timestamp__lt``.

    Example:
        >>> business_day(date(2026, 6, 15))
        (datetime.datetime(2026, 6, 14, 22, 0, tzinfo=datetime.timezone.utc), \
datetime.datetime(2026, 6, 15, 22, 0, tzinfo=datetime.timezone.utc))
    """
    _check(day, day_start)
    zone = _zone(tz)
    start = datetime.combine(day, day_start, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), day_start, tzinfo=zone).astimezone(UTC)
    return start, end


def business_days(
    first: date, last: date, tz: str | tzinfo = DEFAULT_TZ, *, day_start: time = time(0)
) -> dict[date, tuple[datetime, datetime]]:
    """The UTC window of every local business day from ``first`` to ``last``, both included.

    Consecutive windows touch: one day's ``end`` is the next day's ``start``, so together they
    cover ``[business_day(first)[0], business_day(last)[1])`` without gap or overlap.
    """
    _check(first, day_start)
    _check(last, day_start)
    if last < first:
        raise InvalidValueError(f"last ({last}) is before first ({first})")
    zone = _zone(tz)
    return {
        first + timedelta(days=n): business_day(
            first + timedelta(days=n), zone, day_start=day_start
        )
        for n in range((last - first).days + 1)
    }
