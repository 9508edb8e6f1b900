"""Running a command so that Ctrl-C and SIGTERM unwind it instead of killing it mid-write."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

__all__ = ["Terminated", "run_until_signal"]


class Terminated(BaseException):
    """SIGTERM arrived: like KeyboardInterrupt, the command unwinds and reports where it was."""


async def _until_sigterm(main: Coroutine[Any, Any, int]) -> int:
    """Run ``main``; SIGTERM cancels it (so files are closed) and raises :class:`Terminated`."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    terminated: list[bool] = []

    def terminate() -> None:
        terminated.append(True)
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, terminate)
    except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
        return await main
    try:
        return await main
    except asyncio.CancelledError:
        if terminated:
            raise Terminated from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def run_until_signal(main: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run(main)``; Ctrl-C raises KeyboardInterrupt and SIGTERM :class:`Terminated`,
    each after ``main`` was cancelled and unwound (its files closed, its connections shut)."""
    return asyncio.run(_until_sigterm(main))
