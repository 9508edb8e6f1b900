"""Virtual time for tests: backoff, ``Retry-After`` and polling without real waiting."""

from __future__ import annotations

import asyncio
import time
from typing import final


@final
class FakeClock:
    """A monotonic clock that only moves when something sleeps on it (or :meth:`advance`).

    Pass it to the client as both clock and sleep::

        clock = FakeClock()
        client = BessaClient(token, base_url=sb.url, clock=clock, sleep=clock.sleep)

    Every wait returns at once (after yielding to the loop once) and is recorded in
    :attr:`sleeps`, so a test can assert the exact backoff a client chose.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        """The current virtual time, in seconds."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward without sleeping."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """Record the wait and advance virtual time by it; yields to the loop once."""
        seconds = max(0.0, float(seconds))
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    @property
    def slept(self) -> float:
        """Total seconds slept so far."""
        return sum(self.sleeps)


@final
class RunningClock:
    """Real monotonic time plus the seconds it was moved forward: the standalone sandbox's
    clock, so jobs run in real time and the control endpoint can still jump ahead."""

    def __init__(self) -> None:
        self._ahead = 0.0

    def __call__(self) -> float:
        """The current time, in seconds."""
        return time.monotonic() + self._ahead

    def advance(self, seconds: float) -> None:
        """Move time forward at once."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._ahead += seconds
