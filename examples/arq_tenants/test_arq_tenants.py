"""The arq worker against a real Redis (``BESSA_TEST_REDIS``) and a 50-tenant sandbox, each in a
child process: every tenant copied exactly, again after new items; a JSON order placed once
however often it is queued; no token in the worker's log or anywhere in Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from arq import create_pool
from arq.connections import RedisSettings

from bessa_async import BessaError, InvalidTypeError, Order, OrderLine, from_dict, to_dict

from .harness import (
    assert_no_token,
    control,
    copy_matches,
    expected_ids,
    mismatches,
    order_jobs,
    order_payload,
    redis_url,
    sandbox,
    wait_until,
    worker,
)
from .tenants import Store
from .worker import WorkerSettings, client_for, enqueue_order, shutdown, sync_all

DB = 14
"""This module's Redis database (the Celery example's tests use another)."""
TENANTS = 50


async def _queue(url: str, *jobs: tuple[str, Any]) -> list[bool]:
    """Queue ``("sync_all", None)`` or ``("order", (tenant, payload))`` jobs as an app would."""
    pool = await create_pool(RedisSettings.from_dsn(url))
    try:
        queued = []
        for name, args in jobs:
            if name == "order":
                queued.append(await enqueue_order(pool, *args))
            else:
                queued.append(await pool.enqueue_job(name) is not None)
        return queued
    finally:
        await pool.aclose()


async def test_a_rotated_token_gets_a_new_client_once_the_old_ones_jobs_are_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants = tmp_path / "tenants.json"
    tenants.write_text(json.dumps({"tenant-x": "a" * 40}), encoding="utf-8")
    monkeypatch.setenv("BESSA_TENANTS_FILE", str(tenants))
    async with client_for("tenant-x") as first:
        async with client_for("tenant-x") as again:
            assert again is first  # one client per token in the worker process
        tenants.write_text(json.dumps({"tenant-x": "b" * 40}), encoding="utf-8")
        async with client_for("tenant-x") as rotated:
            assert rotated is not first
        open_while_used = not first.closed  # a job still uses it
    assert open_while_used
    assert first.closed
    assert not rotated.closed
    await shutdown({})
    assert rotated.closed


def test_a_queued_order_is_built_from_json_by_the_librarys_converter() -> None:
    article = str(uuid.uuid4())
    payload: dict[str, Any] = {
        "reference": "shop-1",
        "sales_point": str(uuid.uuid4()),
        "lines": [{"article": article, "quantity": "2", "unit_price": "4.50"}],
    }
    order = from_dict(Order, payload)
    assert order.lines == (OrderLine(article=article, quantity=2, unit_price=Decimal("4.50")),)
    assert to_dict(order)["lines"][0]["quantity"] == "2"
    with pytest.raises(InvalidTypeError, match="OrderLine"):
        Order(**payload)  # what the old recipe did: a dict is no OrderLine
    with pytest.raises(BessaError, match="quantity"):
        from_dict(Order, {**payload, "lines": [{"article": str(uuid.uuid4()), "quantity": 2.5}]})


def test_the_schedule_runs_every_five_minutes() -> None:
    (job,) = WorkerSettings.cron_jobs
    assert job.coroutine is sync_all
    assert job.minute == set(range(0, 60, 5))


@pytest.mark.timeout(180)
def test_a_worker_copies_50_tenants_exactly_and_places_orders_once(tmp_path: Path) -> None:
    url = redis_url(DB)
    queue = redis.Redis.from_url(url)
    queue.flushdb()
    with sandbox(TENANTS, receipts=100) as (api, tokens):
        tenants_file = tmp_path / "tenants.json"
        tenants_file.write_text(json.dumps(tokens), encoding="utf-8")
        store = Store(str(tmp_path / "copy.sqlite3"))
        env = {
            "REDIS_URL": url,
            "BESSA_TENANTS_FILE": str(tenants_file),
            "BESSA_STORE": store.path,
            "BESSA_BASE_URL": api,
        }
        log = tmp_path / "arq.log"
        with worker(["arq", "examples.arq_tenants.worker.WorkerSettings"], env, log):
            expected = expected_ids(api, tokens)
            assert len(expected) == 2 * TENANTS
            assert asyncio.run(_queue(url, ("sync_all", None))) == [True]
            wait_until(lambda: copy_matches(store, expected), "the first copy", log)

            # New receipts and an article between runs: the next run copies exactly those.
            for _ in range(3):
                control(api, "items/insert", {"resource": "receipts", "fields": {}})
            control(api, "items/insert", {"resource": "articles", "fields": {"name": "Spritzer"}})
            again = expected_ids(api, tokens)
            assert sum(map(len, again.values())) == sum(map(len, expected.values())) + 4
            assert asyncio.run(_queue(url, ("sync_all", None))) == [True]
            wait_until(lambda: copy_matches(store, again), "the second copy", log)
            assert not mismatches(store, again)

            # A run of a feed waits while another holds the feed's lock, then copies.
            lock = queue.lock("bessa:lock:tenant-a:articles", timeout=60)
            assert lock.acquire(blocking=False)
            control(api, "items/insert", {"resource": "articles", "fields": {"name": "Radler"}})
            third = expected_ids(api, tokens)
            assert asyncio.run(_queue(url, ("sync_all", None))) == [True]

            def runs(arrow: str, job: str) -> int:
                return log.read_bytes().count(f"{arrow} sync:tenant-a:{job}:sync_tenant".encode())

            started = lambda: runs("→", "articles") == 3 and runs("←", "receipts") == 3  # noqa: E731
            wait_until(started, "the run to meet the lock", log)
            assert runs("←", "articles") == 2  # waiting for the lock
            assert store.ids("tenant-a", "articles") == again["tenant-a", "articles"]
            lock.release()
            wait_until(lambda: copy_matches(store, third), "the copy after the lock", log)

            # A shop queues the same order twice (a retried request): one job, one till order.
            ref = "queue-order-1"
            payload = order_payload(api, tokens["tenant-a"], ref)
            order = ("order", ("tenant-a", payload))
            assert asyncio.run(_queue(url, order, order)) == [True, False]
            wait_until(lambda: store.order("tenant-a", ref) is not None, "the order", log)
            _job, outcome = store.order("tenant-a", ref) or ("", "")
            assert outcome == "completed"
            assert order_jobs(api, ref) == 1
        store.close()
        scanned = assert_no_token(tokens, queue, log)
        assert scanned > 0
    queue.flushdb()
    queue.close()
