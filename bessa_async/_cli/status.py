"""A job's live status, shown as it changes (shared by ``bessa order``/``job`` and the demo)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bessa_async import JobHandle

__all__ = ["watch_status"]


async def watch_status(
    handle: JobHandle,
    on_change: Callable[[object], None],
    sleep: Callable[[float], Awaitable[None]],
    interval: float = 0.05,
) -> None:
    """Call ``on_change(status)`` whenever the handle's status changes; runs until cancelled.

    The handle's status is updated by the client's poll scheduler; this only looks at it.
    """
    last = None
    while True:
        if handle.status != last:
            last = handle.status
            on_change(last)
        await sleep(interval)
