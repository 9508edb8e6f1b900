"""The sandbox's job processing on its own terms: timing, till failures, orders, receipts, hints.

Raw aiohttp against the sandbox with a FakeClock, so a job's whole life runs in milliseconds.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, final

import aiohttp
import pytest
import pytest_asyncio

from bessa_async.testing import FakeClock, Sandbox
from bessa_async.testing.__main__ import main as sandbox_main


@final
class Raw:
    """Tenant A's HTTP against one sandbox; answers as (status, headers, JSON)."""

    def __init__(self, sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
        self.sb = sandbox
        self.http = http

    async def send(
        self, method: str, path: str, body: object = None
    ) -> tuple[int, dict[str, str], Any]:
        """One request; the body is sent as JSON."""
        headers = {"Authorization": f"Token {self.sb.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        async with self.http.request(
            method, self.sb.url + path, data=data, headers=headers
        ) as resp:
            return resp.status, dict(resp.headers), json.loads(await resp.read())

    async def post(self, path: str, body: object) -> dict[str, Any]:
        """POST a job that must be accepted."""
        status, _, job = await self.send("POST", path, body)
        assert status == 202, job
        result: dict[str, Any] = job
        return result

    async def get(self, path: str) -> dict[str, Any]:
        """GET that must answer 200."""
        status, _, body = await self.send("GET", path)
        assert status == 200, body
        result: dict[str, Any] = body
        return result

    async def job(self, job: dict[str, Any]) -> dict[str, Any]:
        """The job now."""
        kind = "orders" if job["type"] == "order" else "payments"
        return await self.get(f"requests/{kind}/{job['id']}/")


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session."""
    async with aiohttp.ClientSession() as session:
        yield session


def _active_point(sb: Sandbox) -> dict[str, Any]:
    wanted = str(sb.fixtures.sales_point.id)  # active and online, whatever the seed
    return next(p for p in sb.data.sales_points if p["id"] == wanted)


def _order(sb: Sandbox, **changes: object) -> dict[str, Any]:
    articles = [a for a in sb.data.articles if a["active"] and a["type"] == "standard"]
    body: dict[str, Any] = {
        "sales_point": _active_point(sb)["id"],
        "reference": f"shop-{uuid.uuid4().hex[:8]}",
        "lines": [
            {"article": articles[0]["id"], "quantity": "2"},
            {"article": articles[-1]["id"], "quantity": "1", "unit_price": "9.90"},
        ],
    }
    body.update(changes)
    return body


def _expected_total(sb: Sandbox, body: dict[str, Any]) -> Decimal:
    prices = {a["id"]: Decimal(a["price"]) for a in sb.data.articles}
    return sum(
        (
            Decimal(line["quantity"]) * Decimal(line.get("unit_price") or prices[line["article"]])
            for line in body["lines"]
        ),
        Decimal(0),
    )


def _payment(sb: Sandbox, order: str, amount: Decimal, **changes: object) -> dict[str, Any]:
    method = next(m for m in sb.data.payment_methods if m["active"] and m["type"] == "card")
    body: dict[str, Any] = {
        "sales_point": _active_point(sb)["id"],
        "order": order,
        "payment_method": method["id"],
        "amount": f"{amount:.2f}",
        "tip": "1.20",
        "reference": f"psp-{uuid.uuid4().hex[:8]}",
    }
    body.update(changes)
    return body


def _age(job: dict[str, Any]) -> float:
    return (
        datetime.fromisoformat(job["updated"]) - datetime.fromisoformat(job["created"])
    ).total_seconds()


async def test_updated_is_when_the_job_finished_not_when_it_was_read(
    http: aiohttp.ClientSession,
) -> None:
    """A job read long after it finished still says it finished job_delay * 2 after creation."""
    clock = FakeClock()
    async with Sandbox(receipts=20, clock=clock, job_delay=1) as sb:
        raw = Raw(sb, http)
        job = await raw.post("requests/orders/", _order(sb))
        clock.advance(500)
        done = await raw.job(job)
        assert done["status"] == "completed"
        assert _age(done) == pytest.approx(2.0, abs=1e-3)


async def test_job_durations_are_drawn_per_job_and_seeded(http: aiohttp.ClientSession) -> None:
    """job_duration=(low, high) gives each job its own time in the range, the same per seed."""

    async def durations(seed: int) -> list[float]:
        clock = FakeClock()
        async with Sandbox(receipts=20, seed=seed, clock=clock, job_duration=(0.2, 3.0)) as sb:
            raw = Raw(sb, http)
            jobs = [await raw.post("requests/orders/", _order(sb)) for _ in range(12)]
            clock.advance(3.0)
            return [_age(await raw.job(job)) for job in jobs]

    first = await durations(1)
    assert all(0.2 - 1e-3 <= d <= 3.0 + 1e-3 for d in first)
    assert len({round(d, 3) for d in first}) > 6
    assert first == await durations(1)
    assert first != await durations(2)


async def test_job_duration_may_be_a_function_of_the_seeded_generator(
    http: aiohttp.ClientSession,
) -> None:
    """A callable duration gets the sandbox's random.Random; the job is picked up halfway."""
    clock = FakeClock()
    given: list[object] = []

    def duration(rng: random.Random) -> float:
        given.append(rng)
        return 4.0

    async with Sandbox(receipts=20, clock=clock, job_duration=duration) as sb:
        raw = Raw(sb, http)
        job = await raw.post("requests/orders/", _order(sb))
        clock.advance(1.9)
        assert (await raw.job(job))["status"] == "pending"
        clock.advance(0.2)
        assert (await raw.job(job))["status"] == "processing"
        clock.advance(2)
        assert (await raw.job(job))["status"] == "completed"
    assert len(given) == 1
    assert isinstance(given[0], random.Random)


async def test_order_then_payment_makes_a_receipt_and_the_report_agrees(
    http: aiohttp.ClientSession,
) -> None:
    """A paid order becomes an invoice in receipts/ (lines, tip, taxes); the report adds it."""
    clock = FakeClock()
    async with Sandbox(receipts=50, clock=clock, job_delay=1) as sb:
        raw = Raw(sb, http)
        body = _order(sb)
        order_job = await raw.post("requests/orders/", body)
        clock.advance(2)
        order_done = await raw.job(order_job)
        assert order_done["status"] == "completed"
        assert order_done["result"]["receipt"] is None
        total = _expected_total(sb, body)
        pay_job = await raw.post(
            "requests/payments/", _payment(sb, order_done["result"]["order"], total)
        )
        clock.advance(2)
        paid = await raw.job(pay_job)
        assert paid["status"] == "completed", paid["error"]
        receipt = await raw.get(f"receipts/{paid['result']['receipt']}/")
        assert receipt["number"] == paid["result"]["number"]
        assert receipt["type"] == "invoice"
        assert receipt["orders"] == [order_done["result"]["order"]]
        assert Decimal(receipt["total"]) == total
        assert receipt["tip"] == "1.20"
        assert [p["amount"] for p in receipt["payments"]] == [f"{total + Decimal('1.20'):.2f}"]
        assert [line["article"] for line in receipt["lines"]] == [
            line["article"] for line in body["lines"]
        ]
        assert sum(Decimal(t["gross"]) for t in receipt["taxes"]) == total
        for tax in receipt["taxes"]:
            assert Decimal(tax["net"]) + Decimal(tax["tax"]) == Decimal(tax["gross"])
        stamp = datetime.fromisoformat(receipt["timestamp"])
        window = {
            "start": (stamp - timedelta(seconds=1)).isoformat().replace("+", "%2B"),
            "end": (stamp + timedelta(seconds=1)).isoformat().replace("+", "%2B"),
        }
        query = "&".join(f"{k}={v}" for k, v in window.items())
        report = await raw.get(f"reports/sales/?{query}")
        assert report["receipts"] == 1
        assert Decimal(report["gross"]) == total
        assert report["tip"] == "1.20"


async def test_payment_failures_are_the_tills_codes(http: aiohttp.ClientSession) -> None:
    """Wrong amount, unknown order, second payment and inactive method fail with their codes."""
    clock = FakeClock()
    async with Sandbox(receipts=20, clock=clock, job_delay=1) as sb:
        raw = Raw(sb, http)
        body = _order(sb)
        order_job = await raw.post("requests/orders/", body)
        total = _expected_total(sb, body)
        inactive = next(m for m in sb.data.payment_methods if not m["active"])
        jobs = {
            "amount_mismatch": _payment(sb, order_job["id"], total + 1),
            "order_not_found": _payment(sb, str(uuid.uuid4()), total),
            "payment_method_inactive": _payment(
                sb, order_job["id"], total, payment_method=inactive["id"]
            ),
        }
        posted = {code: await raw.post("requests/payments/", b) for code, b in jobs.items()}
        clock.advance(2)
        for code, job in posted.items():
            failed = await raw.job(job)
            assert (failed["status"], failed["error"]["code"]) == ("failed", code)
            assert failed["error"]["detail"]
        first = await raw.post("requests/payments/", _payment(sb, order_job["id"], total))
        second = await raw.post("requests/payments/", _payment(sb, order_job["id"], total))
        clock.advance(2)
        assert (await raw.job(first))["status"] == "completed"
        again = await raw.job(second)
        assert again["error"]["code"] == "order_already_paid"


async def test_order_failures_inactive_table_and_sales_point(http: aiohttp.ClientSession) -> None:
    """An inactive table or an inactive Sales Point fails the order job with its code."""
    clock = FakeClock()
    async with Sandbox(receipts=20, clock=clock, job_delay=1) as sb:
        raw = Raw(sb, http)
        table = next(t for t in sb.data.tables if not t["active"])
        point = next(p for p in sb.data.sales_points if p["status"] != "active")
        by_table = await raw.post("requests/orders/", _order(sb, table=table["id"]))
        by_point = await raw.post("requests/orders/", _order(sb, sales_point=point["id"]))
        clock.advance(2)
        assert (await raw.job(by_table))["error"]["code"] == "table_inactive"
        assert (await raw.job(by_point))["error"]["code"] == "sales_point_inactive"


async def test_forced_failure_codes_and_clearing(http: aiohttp.ClientSession) -> None:
    """set_job_failure makes jobs fail with any code (known or not) until cleared."""
    clock = FakeClock()
    async with Sandbox(receipts=20, clock=clock, job_delay=1) as sb:
        raw = Raw(sb, http)
        sb.set_job_failure("no_active_day", "No business day is open.")
        failed = await raw.post("requests/orders/", _order(sb))
        clock.advance(2)
        assert (await raw.job(failed))["error"] == {
            "code": "no_active_day",
            "detail": "No business day is open.",
        }
        sb.set_job_failure(None)
        ok = await raw.post("requests/orders/", _order(sb))
        clock.advance(2)
        assert (await raw.job(ok))["status"] == "completed"


async def test_forced_status_word_sticks_until_handed_back(http: aiohttp.ClientSession) -> None:
    """set_job_status shows a word the client does not know; 'pending' resumes the schedule."""
    clock = FakeClock()
    async with Sandbox(receipts=20, clock=clock, job_delay=1) as sb:
        raw = Raw(sb, http)
        job = await raw.post("requests/orders/", _order(sb))
        sb.set_job_status(job["id"], "waiting_for_printer")
        clock.advance(10)
        assert (await raw.job(job))["status"] == "waiting_for_printer"
        sb.set_job_status(job["id"], "pending")
        assert (await raw.job(job))["status"] == "completed"
        with pytest.raises(KeyError):
            sb.set_job_status(str(uuid.uuid4()), "pending")


async def test_cancel_job_withdraws_a_pending_job(http: aiohttp.ClientSession) -> None:
    """cancel_job ends a pending job cancelled; a finished job stays as it is."""
    clock = FakeClock()
    async with Sandbox(receipts=20, clock=clock, job_delay=1) as sb:
        raw = Raw(sb, http)
        job = await raw.post("requests/orders/", _order(sb))
        sb.cancel_job(job["id"])
        cancelled = await raw.job(job)
        assert (cancelled["status"], cancelled["error"]["code"]) == ("cancelled", "cancelled")
        done = await raw.post("requests/orders/", _order(sb))
        clock.advance(2)
        sb.cancel_job(done["id"])
        assert (await raw.job(done))["status"] == "completed"


async def test_retry_after_hint_only_while_unfinished(http: aiohttp.ClientSession) -> None:
    """job_retry_after puts Retry-After on the 202 and on unfinished job answers only."""
    clock = FakeClock()
    async with Sandbox(receipts=20, clock=clock, job_delay=1, job_retry_after=2.5) as sb:
        raw = Raw(sb, http)
        status, headers, job = await raw.send("POST", "requests/orders/", _order(sb))
        assert (status, headers["Retry-After"]) == (202, "2.5")
        _, headers, _ = await raw.send("GET", f"requests/orders/{job['id']}/")
        assert headers["Retry-After"] == "2.5"
        clock.advance(2)
        _, headers, done = await raw.send("GET", f"requests/orders/{job['id']}/")
        assert done["status"] == "completed"
        assert "Retry-After" not in headers


async def test_back_online_after_expiry_is_expired_at_expiry(http: aiohttp.ClientSession) -> None:
    """A till back after the expiry finds the job expired, stamped at creation + expiry."""
    clock = FakeClock()
    async with Sandbox(receipts=20, clock=clock, job_delay=1, job_expiry=60) as sb:
        raw = Raw(sb, http)
        sb.set_sales_point_online(None, False)
        job = await raw.post("requests/orders/", _order(sb))
        clock.advance(90)
        sb.set_sales_point_online(None, True)
        expired = await raw.job(job)
        assert expired["status"] == "expired"
        assert _age(expired) == pytest.approx(60.0, abs=1e-3)


@pytest.mark.parametrize(
    "argv", [["--job-duration-min", "3", "--job-duration-max", "1"], ["--job-duration-min", "3"]]
)
def test_cli_refuses_a_bad_duration_range(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--job-duration-min above --job-duration-max (or alone) is a usage error before serving."""
    with pytest.raises(SystemExit) as info:
        sandbox_main(argv)
    assert info.value.code == 2
    assert "go together" in capsys.readouterr().err
