"""What a task-queue worker needs besides the queue: each tenant's token, and a store that keeps
the copied items with their checkpoint. Both are yours to replace (a secrets manager, your
database); the workers only call :func:`token_of`, :func:`tenant_ids` and :class:`Store`.

Jobs name a tenant, never its token: a job's arguments are written to the queue's Redis and to
the worker's log. The token is looked up here when the job runs, so a rotated one is used from
the next job on.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

TENANTS_FILE = "BESSA_TENANTS_FILE"
"""A JSON object file ``{"tenant id": "token", ...}``; read again at each lookup."""
STORE = "BESSA_STORE"
"""The SQLite file the copy is kept in (default ``bessa-copy.sqlite3``)."""
RESOURCES = ("receipts", "articles")
"""The resources each tenant's copy follows."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    tenant TEXT, resource TEXT, id TEXT, updated TEXT, body TEXT,
    PRIMARY KEY (tenant, resource, id));
CREATE TABLE IF NOT EXISTS checkpoints (
    tenant TEXT, resource TEXT, checkpoint TEXT NOT NULL, PRIMARY KEY (tenant, resource));
CREATE TABLE IF NOT EXISTS orders (
    tenant TEXT, reference TEXT, job TEXT, outcome TEXT, PRIMARY KEY (tenant, reference));
"""


def _tokens() -> dict[str, str]:
    path = Path(os.environ.get(TENANTS_FILE, "tenants.json"))
    tokens = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(tokens, dict) or not all(isinstance(t, str) for t in tokens.values()):
        raise ValueError(f"{path} must hold a JSON object of tenant id -> token")
    return tokens


def tenant_ids() -> list[str]:
    """Every tenant the scheduler syncs."""
    return sorted(_tokens())


def token_of(tenant: str) -> str:
    """The tenant's current token (KeyError: no such tenant)."""
    return _tokens()[tenant]


class Store:
    """The copy: items and the checkpoint they bring it to, written in one transaction, so a
    worker killed at any point resumes from exactly what it stored."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or os.environ.get(STORE, "bessa-copy.sqlite3")
        self._lock = threading.Lock()
        self._open: tuple[int, sqlite3.Connection] | None = None
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """One transaction on the process's connection (arq's jobs call from threads)."""
        with self._lock:
            if self._open is None or self._open[0] != os.getpid():  # none crosses a fork
                db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
                # WAL: readers go on while one worker writes. NORMAL: a commit survives the
                # process dying; an OS crash may lose the last ones, items and checkpoint
                # together, and the next run reads them again.
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                self._open = (os.getpid(), db)
            with self._open[1] as db:
                yield db

    def close(self) -> None:
        """Close this process's connection (the next call opens another)."""
        with self._lock:
            if self._open is not None and self._open[0] == os.getpid():
                self._open[1].close()
            self._open = None

    def checkpoint(self, tenant: str, resource: str) -> str | None:
        """Where the tenant's copy of ``resource`` stands (None: nothing copied yet)."""
        with self._db() as db:
            row = db.execute(
                "SELECT checkpoint FROM checkpoints WHERE tenant = ? AND resource = ?",
                (tenant, resource),
            ).fetchone()
        return None if row is None else str(row[0])

    def save(
        self,
        tenant: str,
        resource: str,
        items: Iterable[tuple[str, str, str]],
        checkpoint: str,
    ) -> None:
        """Store ``(id, updated, JSON body)`` items and the checkpoint after them, at once."""
        with self._db() as db:
            db.executemany(
                "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?)",
                [(tenant, resource, *item) for item in items],
            )
            db.execute(
                "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)",
                (tenant, resource, checkpoint),
            )

    def ids(self, tenant: str, resource: str) -> set[str]:
        """The ids of the tenant's copied ``resource``."""
        with self._db() as db:
            rows = db.execute(
                "SELECT id FROM items WHERE tenant = ? AND resource = ?", (tenant, resource)
            ).fetchall()
        return {str(row[0]) for row in rows}

    def record_order(self, tenant: str, reference: str, job: str, outcome: str) -> None:
        """What became of an order placed from the queue."""
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?)",
                (tenant, reference, job, outcome),
            )

    def order(self, tenant: str, reference: str) -> tuple[str, str] | None:
        """The job and outcome recorded for an order (None: not yet)."""
        with self._db() as db:
            row = db.execute(
                "SELECT job, outcome FROM orders WHERE tenant = ? AND reference = ?",
                (tenant, reference),
            ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))
