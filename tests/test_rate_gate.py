"""The 429 pause against the sandbox: no request of the client leaves while it lasts, and a
client stays within a DRF throttle instead of spending its attempts on 429s.

Time is a FakeClock shared by client and sandbox, so the request log's stamps are the
client's virtual time.
"""

from __future__ import annotations

import asyncio

from bessa_async import BessaClient, RateLimitError, RetryPolicy
from bessa_async.testing import FakeClock, Fault, Sandbox


async def test_no_request_starts_while_the_429_pause_lasts() -> None:
    """Calls queued for an in-flight slot wait for Retry-After too: after the 429, only the
    requests already in flight (at most max_in_flight - 1) reach the server before it ends.

    Without retries no call sleeps for its own sake: only a wait at the gate moves the clock.
    """
    clock = FakeClock()
    limit, calls = 4, 40
    async with (
        Sandbox(receipts=10, clock=clock) as sandbox,
        BessaClient(
            sandbox.token,
            base_url=sandbox.url,
            clock=clock,
            sleep=clock.sleep,
            max_in_flight=limit,
        ) as client,
    ):
        sandbox.inject(Fault.rate_limit(retry_after=1), path="articles/", times=1)
        once = RetryPolicy.disabled()
        outcomes = await asyncio.gather(
            *(client.request("GET", "articles/", retry=once) for _ in range(calls)),
            return_exceptions=True,
        )
    assert sum(isinstance(o, RateLimitError) for o in outcomes) == 1
    assert sum(isinstance(o, dict) for o in outcomes) == calls - 1
    first, *rest = sandbox.requests
    assert len(rest) == calls - 1
    during_pause = [r for r in rest if r.time < first.time + 1]
    assert len(during_pause) <= limit - 1
