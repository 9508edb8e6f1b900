"""Request rates as Django REST Framework writes them (``"30/s"``): one reader, shared by the
client's rate gate and the sandbox's throttle. Pure."""

from __future__ import annotations

from typing import Final

from .errors import InvalidValueError

__all__ = ["parse_rate"]

_PERIODS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_rate(rate: str, *, what: str = "rate") -> tuple[int, float]:
    """(requests, seconds) of a rate as Django REST Framework writes it: ``"30/s"``,
    ``"100/minute"``, ``"1000/hour"``, ``"5000/day"`` (the period's first letter counts).

    Raises:
        InvalidValueError: not ``N/PERIOD`` with N >= 1 and PERIOD second, minute, hour or day.
    """
    if not isinstance(rate, str):
        raise InvalidValueError(f"{what} must be a str such as '30/s', got {type(rate).__name__}")
    count, _, period = rate.partition("/")
    seconds = _PERIODS.get(period.strip()[:1].lower())
    count = count.strip()
    if not (count.isascii() and count.isdigit()) or int(count) < 1 or seconds is None:
        raise InvalidValueError(
            f"{what} {rate!r}: expected N/PERIOD as DRF writes it, e.g. '30/s', "
            "'100/minute', '1000/hour', '5000/day'"
        )
    return int(count), seconds
