"""One of several processes sharing a token: ``python tests/gate_worker.py URL REDIS MODE PREFIX
CALLS IN_FLIGHT [RATE]``, the token in ``BESSA_TOKEN``.

It prints ``ready`` once its client is built, waits for a line on stdin (so that all processes
start together), makes ``CALLS`` requests ``IN_FLIGHT`` at a time through one client, and
prints its counts as JSON: calls that succeeded, calls that failed, 429s drawn. MODE is
``alone`` (the client's own gate), ``pause`` (the pause shared in Redis) or ``pace`` (the pause
and the pace ``RATE``, 30/s by default). Imports nothing but the library and redis-py, so it
starts fast; the shared gate's tests and benchmark run it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence

import redis.asyncio as aioredis

from bessa_async import BessaClient, BessaError, Hooks
from bessa_async.hooks import ResponseEvent
from bessa_async.redis import RedisRateGate


async def work(argv: Sequence[str]) -> int:
    url, redis_url, mode, prefix, calls, in_flight, *rest = argv
    rate = rest[0] if rest else "30/s"
    counts = {"ok": 0, "failed": 0, "429s": 0}

    def answered(event: ResponseEvent) -> None:
        counts["429s"] += event.status == 429

    redis_client = aioredis.Redis.from_url(redis_url)
    gate = None
    if mode != "alone":
        gate = RedisRateGate(redis_client, rate=rate if mode == "pace" else None, prefix=prefix)
    async with BessaClient(
        base_url=url,
        max_in_flight=int(in_flight),
        rate_gate=gate,
        hooks=Hooks(on_response=answered),
    ) as client:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)

        async def call() -> None:
            try:
                await client.request("GET", "articles/", params={"limit": 1})
            except BessaError:
                counts["failed"] += 1
            else:
                counts["ok"] += 1

        await asyncio.gather(*(call() for _ in range(int(calls))))
    await redis_client.aclose()
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(work(sys.argv[1:])))
