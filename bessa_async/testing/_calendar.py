"""The tenants' wall-clock time: every location trades in Europe/Vienna."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

__all__ = ["VIENNA", "local_moment"]

VIENNA: Final = ZoneInfo("Europe/Vienna")


def local_moment(day: date, hours: float) -> datetime:
    """The UTC moment of a local wall-clock time ``hours`` after midnight of ``day``."""
    wall = datetime.combine(day, time()) + timedelta(seconds=round(hours * 3600))
    return wall.replace(tzinfo=VIENNA).astimezone(UTC)
