"""An arq worker that keeps a copy of many tenants and places their orders.

Run it (Redis, the tokens file and the API named by the environment; see the README)::

    REDIS_URL=redis://localhost:6379/0 BESSA_TENANTS_FILE=tenants.json \\
        arq examples.arq_tenants.worker.WorkerSettings

Jobs carry a tenant id, never a token: arq writes a job's arguments to Redis and to its log.
Each worker process keeps one client per token (its connection pool and rate gate), built when a
job first needs it and replaced when the tenant's token changes. Every five minutes
:func:`sync_all` enqueues one :func:`sync_tenant` job per tenant and resource; the job id makes
a second one wait for nothing while the first is queued or running, a lock per tenant and
resource keeps two runs of one feed apart, and the checkpoint is stored with the items.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from arq import Retry, create_pool, cron, func
from arq.connections import ArqRedis, RedisSettings
from redis.exceptions import LockError

from bessa_async import BessaClient, JobFailedError, Order, Resource, from_dict, to_dict

from .tenants import RESOURCES, Store, tenant_ids, token_of

JOB_SECONDS = 600
"""How long one job may run; a sync's lock is held no longer (a killed worker's lock expires)."""
REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379")
"""The queue's Redis server."""
ORDER_WAIT = 300
"""How long a job waits for the till to finish an order."""


class _Held:
    """A client and the jobs using it now: a rotated token's client closes after its last job."""

    def __init__(self, client: BessaClient) -> None:
        self.client, self.users, self.retired = client, 0, False


_CLIENTS: dict[str, _Held] = {}  # token -> client, in this worker process
_CURRENT: dict[str, str] = {}  # tenant -> the token its jobs use now


@asynccontextmanager
async def client_for(tenant: str) -> AsyncIterator[BessaClient]:
    """The worker's client for the tenant's current token (BESSA_BASE_URL: which API)."""
    token = await asyncio.to_thread(token_of, tenant)
    old = _CURRENT.get(tenant)
    if old is not None and old != token and old in _CLIENTS:  # rotated: retire the old client
        retired = _CLIENTS.pop(old)
        retired.retired = True
        if retired.users == 0:
            await retired.client.aclose()
    _CURRENT[tenant] = token
    held = _CLIENTS.get(token)
    if held is None:
        held = _CLIENTS[token] = _Held(BessaClient(token))
    held.users += 1
    try:
        yield held.client
    finally:
        held.users -= 1
        if held.retired and held.users == 0:
            await held.client.aclose()


def followed(client: BessaClient, resource: str) -> Resource[Any]:
    """The resource a sync job names (one of RESOURCES)."""
    resources: dict[str, Resource[Any]] = {"receipts": client.receipts, "articles": client.articles}
    return resources[resource]


async def sync_tenant(ctx: dict[str, Any], tenant: str, resource: str) -> int:
    """Copy what changed in one tenant's resource; return how many items were stored."""
    store: Store = ctx["store"]
    redis: ArqRedis = ctx["redis"]
    lock = redis.lock(f"bessa:lock:{tenant}:{resource}", timeout=JOB_SECONDS, blocking_timeout=60)
    try:
        await lock.acquire()
    except LockError:
        raise Retry(defer=60) from None  # another run of this feed is still going
    try:
        since = await asyncio.to_thread(store.checkpoint, tenant, resource)
        stored = 0
        async with client_for(tenant) as client:
            feed = followed(client, resource).changes(since=since, limit=100)
            async for batch in feed:
                rows = [(str(i.id), str(i.updated), json.dumps(to_dict(i))) for i in batch.items]
                await asyncio.to_thread(store.save, tenant, resource, rows, batch.checkpoint)
                stored += len(rows)
            await asyncio.to_thread(store.save, tenant, resource, [], feed.checkpoint)
        return stored
    finally:
        await lock.release()


async def sync_all(ctx: dict[str, Any]) -> int:
    """The schedule's job: one sync job per tenant and resource; return how many were new."""
    redis: ArqRedis = ctx["redis"]
    enqueued = 0
    for tenant in await asyncio.to_thread(tenant_ids):
        for resource in RESOURCES:
            job = await redis.enqueue_job(
                "sync_tenant", tenant, resource, _job_id=f"sync:{tenant}:{resource}"
            )
            enqueued += job is not None  # None: that sync is already queued or running
    return enqueued


async def enqueue_order(redis: ArqRedis, tenant: str, payload: dict[str, Any]) -> bool:
    """Queue an order (the API's JSON shape, with its ``reference``); False: already queued."""
    job_id = f"order:{tenant}:{payload['reference']}"
    return await redis.enqueue_job("place_order", tenant, payload, _job_id=job_id) is not None


async def place_order(ctx: dict[str, Any], tenant: str, payload: dict[str, Any]) -> str:
    """Send an order to its till and wait for it; return and store the outcome."""
    order = from_dict(Order, payload)  # the library's own checks: nothing sent if it is bad
    if order.reference is None:
        raise ValueError("an order from the queue needs its reference, to be found again")
    async with client_for(tenant) as client:
        # A job run again after a crash sends the same key: it reaches the same till job.
        key = f"queue-{tenant}-{order.reference}"
        handle = await client.orders.submit(order, idempotency_key=key)
        try:
            await handle.wait(timeout=ORDER_WAIT)
            outcome = "completed"
        except JobFailedError as exc:
            outcome = f"failed: {exc.code}"
    store: Store = ctx["store"]
    await asyncio.to_thread(store.record_order, tenant, order.reference, str(handle.id), outcome)
    return outcome


async def startup(ctx: dict[str, Any]) -> None:
    ctx["store"] = await asyncio.to_thread(Store)


async def shutdown(ctx: dict[str, Any]) -> None:
    for held in _CLIENTS.values():
        await held.client.aclose()
    _CLIENTS.clear()
    if "store" in ctx:
        await asyncio.to_thread(ctx["store"].close)


class WorkerSettings:
    """``arq examples.arq_tenants.worker.WorkerSettings``"""

    # sync_all is a function too, so a run can be queued by hand: `enqueue_job("sync_all")`.
    functions: ClassVar = [
        func(sync_tenant, keep_result=0),
        func(sync_all, keep_result=0),
        func(place_order, keep_result=86_400),  # the order's job id is refused for a day
    ]
    cron_jobs: ClassVar = [cron(sync_all, minute=set(range(0, 60, 5)), unique=True)]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(REDIS_URL)
    job_timeout = JOB_SECONDS
    max_jobs = 10


async def _queue_a_run(url: str) -> None:
    redis = await create_pool(RedisSettings.from_dsn(url))
    try:
        await redis.enqueue_job("sync_all")
    finally:
        await redis.aclose()


if __name__ == "__main__":  # python -m examples.arq_tenants.worker: sync every tenant now
    asyncio.run(_queue_a_run(REDIS_URL))
