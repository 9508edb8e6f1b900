"""Query parsing the way Django, django-filter and DRF do it, for the sandbox.

Every function here is pure: it takes decoded query values and returns parsed values or a
DRF-style field error map. The server turns a non-empty map into a 400 answer.

Timestamps follow the Public API's rule: ISO 8601 with an offset (``Z``,
``+02:00``, ``+0200``); without an offset the value is read as UTC; a bare date is UTC midnight.
The query string is form-decoded before parsing, so a ``+`` sent literally arrives as a space and
``2026-06-15T00:00:00 02:00`` is rejected, exactly the pitfall a client avoids by sending ``%2B``.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Final

__all__ = [
    "FieldErrors",
    "format_timestamp",
    "from_micros",
    "invalid_uuid",
    "micros",
    "parse_bool",
    "parse_timestamp",
    "parse_uuid",
    "utc_midnight",
]

FieldErrors = dict[str, list[str]]
"""A DRF validation error body: each field mapped to its messages."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

# Django's ``datetime_re`` (django.utils.dateparse), which also allows a space before the offset.
_DATETIME_RE: Final = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"[T ](?P<hour>\d{1,2}):(?P<minute>\d{1,2})"
    r"(?::(?P<second>\d{1,2})(?:[.,](?P<microsecond>\d{1,6})\d{0,6})?)?"
    r"\s*(?P<tzinfo>Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_DATE_RE: Final = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})$")

INVALID_DATETIME: Final = "Enter a valid date/time."
INVALID_BOOLEAN: Final = "Must be a valid boolean."

# DRF's BooleanField vocabulary.
_TRUE: Final = frozenset({"t", "y", "yes", "true", "on", "1"})
_FALSE: Final = frozenset({"f", "n", "no", "false", "off", "0"})


def parse_timestamp(value: str) -> datetime | None:
    """Parse a timestamp filter value; ``None`` when Django would reject it.

    Returns:
        An aware UTC datetime.
    """
    text = value.strip()
    if m := _DATE_RE.match(text):
        try:
            return datetime(int(m["year"]), int(m["month"]), int(m["day"]), tzinfo=UTC)
        except ValueError:
            return None
    m = _DATETIME_RE.match(text)
    if m is None:
        return None
    tz = UTC
    if (offset := m["tzinfo"]) and offset != "Z":
        digits = offset[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:4] or "0")
        delta = timedelta(minutes=minutes if offset[0] == "+" else -minutes)
        try:
            tz = timezone(delta)
        except ValueError:
            return None
    try:
        parsed = datetime(
            int(m["year"]),
            int(m["month"]),
            int(m["day"]),
            int(m["hour"]),
            int(m["minute"]),
            int(m["second"] or 0),
            int((m["microsecond"] or "0").ljust(6, "0")),
            tzinfo=tz,
        )
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # no such day, or outside the years 1..9999 in UTC
        return None


def micros(moment: datetime) -> int:
    """Microseconds since the epoch: the sandbox's sortable form of a timestamp."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    """The aware UTC datetime for :func:`micros`' value."""
    return _EPOCH + timedelta(microseconds=value)


def format_timestamp(moment: datetime) -> str:
    """Render a timestamp as the API does: UTC with ``Z``, microseconds only when non-zero."""
    # isoformat() already leaves out a zero microsecond part.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def parse_uuid(value: str) -> str | None:
    """Canonical form of a UUID, or ``None`` when ``value`` is not one."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def invalid_uuid(value: str) -> str:
    """Django's message for a malformed UUID filter value."""
    return f"\u201c{value}\u201d is not a valid UUID."


def parse_bool(value: str) -> bool | None:
    """DRF's boolean vocabulary (``true``/``false``, ``1``/``0``, ``yes``/``no``...)."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def utc_midnight(day: date) -> datetime:
    """UTC midnight of a calendar date."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
