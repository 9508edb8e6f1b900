"""A Celery worker that keeps a copy of many tenants and places their orders.

Run it (Redis, the tokens file and the API named by the environment; see the README)::

    REDIS_URL=redis://localhost:6379/0 BESSA_TENANTS_FILE=tenants.json \\
        celery -A examples.celery_tenants.worker worker --concurrency 2
    celery -A examples.celery_tenants.worker beat  # the schedule: every tenant, every 5 minutes

Tasks carry a tenant id, never a token: a task's arguments go through the broker. The default
(prefork) pool runs tasks in child processes, one at a time each: a child keeps one
:class:`BlockingClient` per token, replaced when the tenant's token changes (a client made
before the fork starts afresh in the child). Tasks are acknowledged when done, so one whose
child dies is delivered again; a marker per task id keeps a second copy from being queued; a
lock per tenant and resource keeps two runs of one feed apart; and the checkpoint is stored with
the items, in the same store as the arq example's.
"""

from __future__ import annotations

import json
import os
from typing import Any

import redis
from celery import Celery, Task
from celery.schedules import crontab
from celery.signals import worker_process_shutdown

from bessa_async import BlockingClient, JobFailedError, Order, from_dict, to_dict

from ..arq_tenants.tenants import RESOURCES, Store, tenant_ids, token_of

JOB_SECONDS = 600
"""How long one task may run; a sync's lock is held no longer (a killed child's lock expires)."""
ORDER_WAIT = 300
"""How long a task waits for the till to finish an order."""

app = Celery("bessa_tenants", broker=os.environ.get("REDIS_URL", "redis://localhost:6379/0"))
app.conf.update(
    task_acks_late=True,  # acknowledged when done: a task whose child died runs again
    task_reject_on_worker_lost=True,
    task_time_limit=JOB_SECONDS,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    beat_schedule={
        "sync-every-tenant": {
            "task": "examples.celery_tenants.worker.sync_all",
            "schedule": crontab(minute="*/5"),
        }
    },
)

_CLIENTS: dict[str, BlockingClient] = {}  # token -> client, in this process
_CURRENT: dict[str, str] = {}  # tenant -> the token its tasks use now
_STORE: list[Store] = []


def client_for(tenant: str) -> BlockingClient:
    """This process's client for the tenant's current token (BESSA_BASE_URL: which API)."""
    token = token_of(tenant)
    old = _CURRENT.get(tenant)
    if old is not None and old != token and old in _CLIENTS:  # rotated: one task at a time
        _CLIENTS.pop(old).close()
    _CURRENT[tenant] = token
    if token not in _CLIENTS:
        _CLIENTS[token] = BlockingClient(token)
    return _CLIENTS[token]


def store() -> Store:
    """This process's store (BESSA_STORE)."""
    if not _STORE:
        _STORE.append(Store())
    return _STORE[0]


def _redis() -> redis.Redis:
    return redis.Redis.from_url(app.conf.broker_url)


def _queue_once(marker: str, seconds: int) -> bool:
    """Claim a task id: False if a task with it is already queued."""
    return bool(_redis().set(f"bessa:queued:{marker}", 1, nx=True, ex=seconds))


@app.task(bind=True)
def sync_tenant(self: Task[Any, Any], tenant: str, resource: str) -> int:
    """Copy what changed in one tenant's resource; return how many items were stored."""
    _redis().delete(f"bessa:queued:sync:{tenant}:{resource}")  # a later change: a new run
    lock = _redis().lock(f"bessa:lock:{tenant}:{resource}", timeout=JOB_SECONDS)
    if not lock.acquire(blocking_timeout=60):
        raise self.retry(countdown=60)  # another run of this feed is still going
    try:
        client, copy = client_for(tenant), store()
        since = copy.checkpoint(tenant, resource)
        feed = (client.receipts if resource == "receipts" else client.articles).changes(
            since=since, limit=100
        )
        stored = 0
        with feed:
            for batch in feed:
                rows = [(str(i.id), str(i.updated), json.dumps(to_dict(i))) for i in batch.items]
                copy.save(tenant, resource, rows, batch.checkpoint)
                stored += len(rows)
        copy.save(tenant, resource, [], feed.checkpoint)
        return stored
    finally:
        lock.release()


def queue_sync(tenant: str, resource: str) -> bool:
    """Queue one tenant's resource; False: that sync is already queued."""
    task_id = f"sync:{tenant}:{resource}"
    if not _queue_once(task_id, JOB_SECONDS):
        return False
    sync_tenant.apply_async((tenant, resource), task_id=task_id)
    return True


@app.task
def sync_all() -> int:
    """The schedule's task: one sync per tenant and resource; return how many were new."""
    return sum(queue_sync(tenant, resource) for tenant in tenant_ids() for resource in RESOURCES)


def queue_order(tenant: str, payload: dict[str, Any]) -> bool:
    """Queue an order (the API's JSON shape, with its ``reference``); False: already queued."""
    task_id = f"order:{tenant}:{payload['reference']}"
    if not _queue_once(task_id, 86_400):
        return False
    place_order.apply_async((tenant, payload), task_id=task_id)
    return True


@app.task
def place_order(tenant: str, payload: dict[str, Any]) -> str:
    """Send an order to its till and wait for it; return and store the outcome."""
    order = from_dict(Order, payload)  # the library's own checks: nothing sent if it is bad
    if order.reference is None:
        raise ValueError("an order from the queue needs its reference, to be found again")
    # A task run again after its child died sends the same key: it reaches the same till job.
    key = f"queue-{tenant}-{order.reference}"
    handle = client_for(tenant).orders.submit(order, idempotency_key=key)
    try:
        handle.wait(timeout=ORDER_WAIT)
        outcome = "completed"
    except JobFailedError as exc:
        outcome = f"failed: {exc.code}"
    store().record_order(tenant, order.reference, str(handle.handle.id), outcome)
    return outcome


@worker_process_shutdown.connect
def _close(**_: Any) -> None:
    for client in _CLIENTS.values():
        client.close()
    _CLIENTS.clear()
    for copy in _STORE:
        copy.close()
    _STORE.clear()
