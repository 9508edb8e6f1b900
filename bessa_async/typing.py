"""The types a user passes to the client: its clock, its sleep and its hooks.

``BessaClient(clock=..., sleep=...)`` takes a monotonic clock and an async sleep, so that a
test moves time itself (``bessa_async.testing.FakeClock`` is both); a :class:`~bessa_async.Hooks`
field takes a :data:`Hook` of its event. This module is their one definition: the library's own
modules import them from here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

__all__ = ["Clock", "Hook", "Sleep"]

E = TypeVar("E")

Clock: TypeAlias = Callable[[], float]
"""Monotonic seconds (``time.monotonic`` by default): the clock deadlines, backoff, polls and
operation timings are measured on."""

Sleep: TypeAlias = Callable[[float], Awaitable[None]]
"""Waits so many seconds (``asyncio.sleep`` by default): every wait of the client goes through
it."""

Hook: TypeAlias = Callable[[E], object]
"""A function of one event; if it returns an awaitable, that is awaited."""
