"""The Celery worker (prefork, two children) against a real Redis (``BESSA_TEST_REDIS``) and a
50-tenant sandbox, each in a child process: the beat entry's task copies every tenant exactly,
again after new items; an order queued twice runs once, and its child killed mid-task is
replaced and the task run again without a second order; no token in the log or in Redis."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import redis
from celery.schedules import crontab

from bessa_async import ClientClosedError

from ..arq_tenants.harness import (
    assert_no_token,
    control,
    copy_matches,
    expected_ids,
    order_jobs,
    order_payload,
    redis_url,
    sandbox,
    wait_until,
    worker,
)
from ..arq_tenants.tenants import Store
from .worker import _close, app, client_for, queue_order

DB = 15
"""This module's Redis database (the arq example's tests use another)."""
TENANTS = 50
WORKER = ["celery", "-A", "examples.celery_tenants.worker", "worker", "--pool", "prefork"]
WORKER += ["--concurrency", "2", "--loglevel", "INFO", "--without-heartbeat"]
WORKER += ["--without-gossip", "--without-mingle", "--hostname", "bessa-test@%h"]


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as listed:
        return [int(child) for child in listed.read().split()]


def test_a_rotated_token_gets_a_new_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tenants = tmp_path / "tenants.json"
    tenants.write_text(json.dumps({"tenant-x": "a" * 40}), encoding="utf-8")
    monkeypatch.setenv("BESSA_TENANTS_FILE", str(tenants))
    first = client_for("tenant-x")
    assert client_for("tenant-x") is first  # one client per token in the child process
    tenants.write_text(json.dumps({"tenant-x": "b" * 40}), encoding="utf-8")
    rotated = client_for("tenant-x")
    assert rotated is not first
    with pytest.raises(ClientClosedError):
        first.request("GET", "companies/")  # closed: nothing is sent with the old token
    _close()
    with pytest.raises(ClientClosedError):
        rotated.request("GET", "companies/")


def test_beat_enqueues_every_tenant_every_five_minutes() -> None:
    (entry,) = app.conf.beat_schedule.values()
    assert entry["task"] == "examples.celery_tenants.worker.sync_all"
    assert entry["schedule"] == crontab(minute="*/5")


@pytest.mark.timeout(180)
def test_a_worker_copies_50_tenants_exactly_and_a_killed_child_orders_once(
    tmp_path: Path,
) -> None:
    url = redis_url(DB)
    broker = redis.Redis.from_url(url)
    broker.flushdb()
    app.conf.update(broker_url=url)  # this process queues tasks as an app would
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
        log = tmp_path / "celery.log"
        with worker(WORKER, env, log) as celery:
            expected = expected_ids(api, tokens)
            (entry,) = app.conf.beat_schedule.values()
            app.send_task(entry["task"])  # what beat sends every five minutes
            wait_until(lambda: copy_matches(store, expected), "the first copy", log)

            for _ in range(3):
                control(api, "items/insert", {"resource": "receipts", "fields": {}})
            control(api, "items/insert", {"resource": "articles", "fields": {"name": "Spritzer"}})
            again = expected_ids(api, tokens)
            assert sum(map(len, again.values())) == sum(map(len, expected.values())) + 4
            app.send_task(entry["task"])
            wait_until(lambda: copy_matches(store, again), "the second copy", log)

            # An order for the offline till: the task waits on it; its child is killed then.
            ref = "queue-order-killed"
            payload = order_payload(api, tokens["tenant-a"], ref, offline=True)
            assert [queue_order("tenant-a", payload), queue_order("tenant-a", payload)] == [
                True,
                False,
            ]
            wait_until(lambda: order_jobs(api, ref) == 1, "the order to reach the till", log)
            assert store.order("tenant-a", ref) is None
            killed = _children(celery.pid)
            for child in killed:
                os.kill(child, signal.SIGKILL)
            wait_until(
                lambda: len(set(_children(celery.pid)) - set(killed)) == 2,
                "the pool to replace its children",
                log,
            )
            control(
                api, "sales-points/online", {"online": True, "sales_point": payload["sales_point"]}
            )
            wait_until(lambda: store.order("tenant-a", ref) is not None, "the order", log)
            _, outcome = store.order("tenant-a", ref) or ("", "")
            assert outcome == "completed"
            assert order_jobs(api, ref) == 1  # the task ran twice; the till got one order
            received = f"place_order[order:tenant-a:{ref}] received".encode()
            assert log.read_bytes().count(received) == 2  # delivered again after the kill
        store.close()
        assert assert_no_token(tokens, broker, log) > 0
    broker.flushdb()
    broker.close()
