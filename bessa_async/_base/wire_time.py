"""Times as the API writes them: HTTP dates in headers and ISO 8601 instants in bodies. Pure.

The one reader of each, so that a ``Retry-After``, a ``Date`` the changes feed takes its
watermark from, a record's ``updated`` and a token's moment are read by the same rule. Every
moment read here is an aware datetime in UTC; nothing here raises anything but what it documents.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from typing import Final, Literal

__all__ = ["InstantError", "http_date", "instant", "read_instant"]

Problem = Literal["not text", "not ISO 8601", "no offset", "out of range"]


class InstantError(ValueError):
    """Why a value is not an aware ISO 8601 instant; each reader words it for its own user."""

    def __init__(self, problem: Problem, value: object) -> None:
        super().__init__(f"{problem}: {value!r:.60}")
        self.problem: Final = problem
        self.value: Final = value


def http_date(text: str | None) -> datetime | None:
    """An HTTP date (RFC 9110, and the obsolete forms it allows) as an aware UTC datetime.

    None when ``text`` is absent, empty or unreadable, or names a moment outside the years
    1..9999 in UTC. A date without a zone (``-0000``) is GMT, as RFC 9110 says.
    """
    if not text or not isinstance(text, str):
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
        if when.tzinfo is None:
            return when.replace(tzinfo=UTC)
        return when.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def read_instant(value: object) -> datetime:
    """An ISO 8601 timestamp with an offset (or an aware datetime) as an aware UTC datetime.

    Raises:
        InstantError: ``value`` is not a str (nor a datetime), not ISO 8601, has no offset, or
            names a moment outside the years 1..9999 in UTC.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InstantError("not ISO 8601", value) from None
    else:
        raise InstantError("not text", value)
    if moment.utcoffset() is None:
        raise InstantError("no offset", value)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it
        raise InstantError("out of range", value) from None


def instant(value: object) -> datetime | None:
    """:func:`read_instant`, or None for anything it refuses: for looking at raw JSON."""
    try:
        return read_instant(value)
    except InstantError:
        return None
