"""The tenants' wall-clock time: every location trades in Europe/Vienna."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

__all__ = ["VIENNA", "local_moment", "period_end"]

VIENNA: Final = ZoneInfo("Europe/Vienna")


def local_moment(day: date, hours: float) -> datetime:
    """The UTC moment of a local wall-clock time ``hours`` after midnight of ``day``."""
    wall = datetime.combine(day, time()) + timedelta(seconds=round(hours * 3600))
    return wall.replace(tzinfo=VIENNA).astimezone(UTC)


_LAST_DAY_ENDS_AT: Final = 6.0
"""Local hour of the morning after the last trading day at which the generated data ends."""


def period_end(start: date, days: int) -> datetime:
    """The moment the data of ``days`` trading days from ``start`` ends: nothing in it (a
    receipt, a late correction, a closing) is stamped later."""
    return local_moment(start + timedelta(days=days), _LAST_DAY_ENDS_AT)
