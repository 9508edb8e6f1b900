"""What the task-queue examples' tests share: a many-tenant sandbox and workers in child
processes, the Redis server named by ``BESSA_TEST_REDIS``, and the checks that the copy is
exact and that no token reached a log line or Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from bessa_async import BlockingClient

from .tenants import RESOURCES, Store

ROOT = Path(__file__).resolve().parents[2]
REDIS_ENV = "BESSA_TEST_REDIS"
REQUIRE_ENV = "BESSA_REQUIRE_SERVICES"
WAIT = 90.0
"""Seconds a condition may take on a busy machine before the test gives up."""


def redis_url(db: int, env: Mapping[str, str] = os.environ) -> str:
    """``BESSA_TEST_REDIS`` with database ``db`` (one per test module: xdist runs them at once);
    skipped without it, or failed where services are required (CI)."""
    url = env.get(REDIS_ENV, "")
    if not url:
        reason = f"{REDIS_ENV} is not set (a Redis URL; .ci/run starts a server)"
        if env.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
        pytest.skip(reason)
    base, _, last = url.rstrip("/").rpartition("/")
    return f"{base}/{db}" if last.isdigit() else f"{url.rstrip('/')}/{db}"


def wait_until(
    condition: Callable[[], bool],
    what: str,
    log: Path | None = None,
    timeout: float = WAIT,
) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` (and the end of the worker's
    ``log``) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            pytest.fail(f"gave up waiting for {what}\n{tail}")
        time.sleep(0.05)


def control(url: str, path: str, body: object = None) -> Any:
    """Call the sandbox's control endpoint (``url`` is its API URL)."""
    root = url.split("/v1/public/")[0]
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{root}/_sandbox/{path}",
        data=data,
        method="GET" if data is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


@contextmanager
def sandbox(tenants: int, receipts: int) -> Iterator[tuple[str, dict[str, str]]]:
    """``python -m bessa_async.testing``: its API URL and every tenant's token by name."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bessa_async.testing",
            "--port",
            "0",
            "--tenants",
            str(tenants),
            "--receipts",
            str(receipts),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "listening on" in first, first
        url = first.split()[-1]
        tokens = {t["name"]: t["token"] for t in control(url, "tenants")["tenants"]}
        yield url, tokens
    finally:
        process.kill()
        process.communicate()


@contextmanager
def worker(argv: list[str], env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A worker in a child process, its output appended to ``log``; stopped on the way out."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *argv],
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the whole group (Celery's children too) is stopped
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def expected_ids(url: str, tokens: Mapping[str, str]) -> dict[tuple[str, str], set[str]]:
    """What the sandbox lists now, per (tenant, resource)."""
    expected = {}
    for tenant, token in tokens.items():
        with BlockingClient(token, base_url=url) as client:
            for resource in RESOURCES:
                listing = getattr(client, resource).list(limit=500)
                expected[tenant, resource] = {str(item.id) for item in listing}
    return expected


def copy_matches(store: Store, expected: Mapping[tuple[str, str], set[str]]) -> bool:
    """Whether the store holds exactly the expected ids, for every tenant and resource."""
    return all(store.ids(*key) == ids for key, ids in expected.items())


def mismatches(store: Store, expected: Mapping[tuple[str, str], set[str]]) -> list[str]:
    """Each (tenant, resource) whose copy differs, with its counts."""
    return [
        f"{t}/{r}: copied {len(store.ids(t, r))}, listed {len(ids)}"
        for (t, r), ids in expected.items()
        if store.ids(t, r) != ids
    ]


def redis_dump(client: redis.Redis) -> Iterator[bytes]:
    """Every key of the database and every value under it, whatever its type."""
    sync: Any = client  # redis-py types every reply as maybe awaitable
    for key in sync.scan_iter(count=500):
        yield key
        kind = sync.type(key)
        values: list[bytes] = []
        if kind == b"string":
            values = [sync.get(key) or b""]
        elif kind == b"hash":
            values = [part for pair in sync.hgetall(key).items() for part in pair]
        elif kind == b"list":
            values = list(sync.lrange(key, 0, -1))
        elif kind == b"set":
            values = list(sync.smembers(key))
        elif kind == b"zset":
            values = [member for member, _ in sync.zrange(key, 0, -1, withscores=True)]
        yield from values


def assert_no_token(tokens: Mapping[str, str], redis_client: redis.Redis, *logs: Path) -> int:
    """No token in any Redis key or value, nor in any log line; returns the items scanned."""
    secrets = [token.encode() for token in tokens.values()]
    scanned = 0
    for blob in redis_dump(redis_client):
        scanned += 1
        assert not any(secret in blob for secret in secrets), "a token is stored in Redis"
    for log in logs:
        text = log.read_bytes()
        assert text, f"{log.name} is empty: the worker logged nothing to check"
        assert not any(secret in text for secret in secrets), f"a token is in {log.name}"
    return scanned


def order_payload(url: str, token: str, reference: str, *, offline: bool = False) -> dict[str, Any]:
    """An order as the API's JSON, as a shop would queue it: an article that needs no options,
    at an active till (``offline``: the mobile one, offline until switched on)."""
    with BlockingClient(token, base_url=url) as client:
        point = next(
            p
            for p in client.sales_points.list()
            if p.status == "active" and (p.location is None) == offline
        )
        article = next(
            a for a in client.articles.list(active=True) if a.type == "standard" and not a.options
        )
    return {
        "reference": reference,
        "sales_point": str(point.id),
        "lines": [{"article": str(article.id), "quantity": "2"}],
    }


def order_jobs(url: str, reference: str) -> int:
    """How many order jobs tenant A's tills got with ``reference``."""
    jobs = control(url, "jobs?kind=order")["results"]
    return sum(job.get("reference") == reference for job in jobs)
