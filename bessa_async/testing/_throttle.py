"""Throttling per token, as Django REST Framework's ``UserRateThrottle`` does it.

A rate is DRF's ``"30/second"`` (``"30/s"``, ``"100/minute"``, ``"1000/hour"``, ``"5000/day"``:
the first letter of the period counts). Each token keeps the times of its accepted requests
within the last period (a sliding window, as DRF's cache history); a request that finds the
window full is answered 429 with ``Retry-After`` and DRF's ``detail``, and is not counted.
DRF checks throttles after authentication and permissions, so a 401 or 403 is never throttled.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import final

from aiohttp import web

from bessa_async._base.rates import parse_rate as read_rate

from ._answers import detail

__all__ = ["Throttle", "parse_rate", "throttled_detail"]


def parse_rate(rate: str) -> tuple[int, float]:
    """(requests, seconds) of a DRF rate such as ``"30/s"`` or ``"100/minute"``: the library's
    reading of a rate (what ``RedisRateGate(rate=)`` keeps to), so both agree.

    Raises:
        ValueError: not ``N/PERIOD`` with N >= 1 and PERIOD one of second, minute, hour, day.
    """
    return read_rate(rate, what="throttle rate")


def throttled_detail(wait: float) -> str:
    """DRF's ``Throttled`` text for a wait of ``wait`` seconds (rounded up, as DRF does)."""
    whole = math.ceil(wait)
    unit = "second" if whole == 1 else "seconds"
    return f"Request was throttled. Expected available in {whole} {unit}."


@final
class Throttle:
    """One rate for every token, with a window per token; ``throttled`` counts the 429s."""

    def __init__(self, rate: str, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.requests, self.period = parse_rate(rate)
        self._clock = clock
        self._history: dict[str, deque[float]] = {}
        self.throttled = 0

    def check(self, token: str) -> web.Response | None:
        """None when the token may go on (the request is counted), else DRF's 429 answer."""
        now = self._clock()
        history = self._history.setdefault(token, deque())
        while history and history[0] <= now - self.period:
            history.popleft()
        if len(history) < self.requests:
            history.append(now)
            return None
        self.throttled += 1
        # SimpleRateThrottle.wait(): the oldest entry's remaining time, over the requests left.
        wait = (self.period - (now - history[0])) / (self.requests - len(history) + 1)
        whole = math.ceil(wait)
        headers = {"Retry-After": str(whole)} if whole else {}
        return detail(429, throttled_detail(wait), headers)
