"""A sandbox serving on a loop thread of its own: for tests of code without a loop (the
blocking client, processes sharing a rate gate)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bessa_async import BessaClient
from bessa_async.testing import Sandbox

__all__ = ["ServedSandbox"]

R = TypeVar("R")


class ServedSandbox:
    """A sandbox serving on its own loop thread, for tests without a loop of their own."""

    def __init__(self, **options: Any) -> None:
        self.sandbox = Sandbox(**options)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.run(self.sandbox.start)

    def run(self, step: Callable[[], Awaitable[R]]) -> R:
        async def call() -> R:
            return await step()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result()

    def async_client(self, step: Callable[[BessaClient], Awaitable[R]]) -> R:
        """``step`` with an async client of tenant A, on the sandbox's loop."""

        async def call() -> R:
            async with BessaClient(self.sandbox.token, base_url=self.sandbox.url) as client:
                return await step(client)

        return self.run(call)

    def close(self) -> None:
        self.run(self.sandbox.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()
