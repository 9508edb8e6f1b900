"""``bessa demo``: the walkthrough a newcomer runs first, on the bundled sandbox.

It uses the library as a user would (public API only) and checks its own figures: the day's
sales report must equal the sum of the day's receipts. Any mismatch makes it exit non-zero.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Final, TextIO

from bessa_async import (
    BessaClient,
    Hooks,
    JobHandle,
    Order,
    OrderLine,
    Payment,
    PermissionDeniedError,
    PollPolicy,
    business_day,
)
from bessa_async.testing import Fault, Sandbox
from bessa_async.typing import Clock, Sleep

from .status import watch_status

__all__ = ["walkthrough"]


DEMO_DAY: Final = date(2026, 6, 13)
"""A Saturday of the sandbox's default data."""
DEMO_POLL: Final = PollPolicy(initial=0.25, floor=0.25, ceiling=2.0)
"""A short ceiling so the demo's offline moment ends visibly soon (the default is 30 s)."""
OFFLINE: Final = 2.0
"""Seconds the demo's till stays offline."""


async def _wait(handle: JobHandle, say: Callable[[str], None], sleep: Sleep) -> None:
    def show(status: object) -> None:
        say(f"   ... {handle.kind} job {str(handle.id)[:8]}: {status}")

    watcher = asyncio.create_task(watch_status(handle, show, sleep))
    try:
        job = await handle.wait(timeout=120)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    say(f"   ... {handle.kind} job {str(handle.id)[:8]}: {job.status}")


async def _order_and_pay(
    client: BessaClient, sandbox: Sandbox, say: Callable[[str], None], sleep: Sleep
) -> list[str]:
    """Submit an order while the till is offline, wait, pay it, and show the receipt."""
    point = next(p for p in await client.sales_points.list().collect() if p.status == "active")
    articles = [
        a for a in await client.articles.list(active=True).collect() if a.type == "standard"
    ]
    first, second = articles[0], articles[1]
    order = Order(
        sales_point=point.id,
        lines=[
            OrderLine(article=first.id, quantity=Decimal(2)),
            OrderLine(article=second.id, quantity=Decimal(1)),
        ],
        reference=f"webshop-demo-{point.fiscal_id}",
    )
    sandbox.set_sales_point_online(str(point.id), online=False)

    async def back_online() -> None:
        await sleep(OFFLINE)
        sandbox.set_sales_point_online(str(point.id), online=True)
        say(f"   (the till {point.name} is back online)")

    comeback = asyncio.create_task(back_online())
    handle = await client.orders.submit(order)
    say(f"   submitted {order.reference}: 2 x {first.name}, 1 x {second.name}; till offline")
    await _wait(handle, say, sleep)
    await comeback
    job = await handle.wait()
    if job.result is None or job.result.order is None:
        return ["the completed order job names no order"]
    say(f"   order {str(job.result.order)[:8]} is open on the till")

    due = sum((a.price or Decimal(0)) * q for a, q in ((first, 2), (second, 1)))
    cash = next(m for m in await client.payment_methods.list().collect() if m.type == "cash")
    payment = await client.payments.submit(
        Payment(
            sales_point=point.id,
            order=job.result.order,
            payment_method=cash.id,
            amount=due,
            tip=Decimal("1.00"),
        )
    )
    await _wait(payment, say, sleep)
    paid = await payment.wait()
    if paid.result is None or paid.result.receipt is None:
        return ["the payment produced no receipt"]
    receipt = await client.receipts.get(paid.result.receipt)
    say(f"   receipt {receipt.number} ({receipt.type}), signed by {point.fiscal_id}:")
    for line in receipt.lines:
        say(f"     {line.quantity:>3} x {line.name:<24} {line.total:>8}")
    say(f"     {'total':<30} {receipt.total:>8}   tip {receipt.tip}")
    if receipt.total != due:
        return [f"receipt total {receipt.total} != amount due {due}"]
    return []


async def walkthrough(
    out: TextIO,
    receipts: int,
    seed: int,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    hooks: Hooks | None = None,
) -> int:
    """Run the demo, printing to ``out``; returns the exit code (0 when every figure matched).

    ``hooks`` are given to the demo's clients (to watch what it sends).
    """

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    problems: list[str] = []
    async with Sandbox(seed=seed, receipts=receipts, clock=clock, job_delay=0.3) as sandbox:
        say(f"sandbox running at {sandbox.url} (seed {seed}, {receipts} receipts)")
        async with BessaClient(
            sandbox.token,
            base_url=sandbox.url,
            clock=clock,
            sleep=sleep,
            poll=DEMO_POLL,
            hooks=hooks,
        ) as client:
            say("\n1. master data")
            for name in ("companies", "locations", "sales_points", "articles", "tables"):
                say(f"   {name:<14} {await getattr(client, name).list().count():>5}")

            start, end = business_day(DEMO_DAY)
            say(
                f"\n2. receipts of {DEMO_DAY} in Vienna = "
                f"{start:%Y-%m-%d %H:%M}Z .. {end:%Y-%m-%d %H:%M}Z, 4 cursor chains at once"
            )
            listing = client.receipts.for_day(DEMO_DAY, limit=20, concurrency=4)
            count, gross, voids = 0, Decimal("0.00"), 0
            async for receipt in listing:
                count += 1
                if receipt.is_revenue:  # voids are negative: added, never skipped
                    gross += receipt.total
                    voids += receipt.total < 0
            say(
                f"   {count} receipts ({voids} voids) in {listing.stats.pages} pages over "
                f"{listing.stats.shards} shards; revenue {gross} EUR"
            )

            report = await client.reports.sales_for_day(DEMO_DAY)
            say(f"   sales report: {report.receipts} receipts, gross {report.gross} EUR")
            for row in report.by_tax_rate:
                say(f"     {row.rate:>6} %  gross {row.gross:>9}  tax {row.tax:>8}")
            if report.gross != gross:
                problems.append(f"report gross {report.gross} != receipts' sum {gross}")
            else:
                say("   report == sum of receipts: OK")

            say("\n3. resilience: the sandbox fails the next read with an HTML 503")
            sandbox.inject(Fault.status(503, body="html"), path="companies/", times=1)
            companies = await client.companies.list().collect()
            say(f"   retried with backoff, read {len(companies)} companies")

            say("\n4. a throttled read: 429 with Retry-After: 1")
            sandbox.inject(Fault.rate_limit(retry_after=1), path="companies/", times=1)
            await client.companies.list().collect()
            say("   waited as asked, then succeeded")

            say("\n5. an order from the web shop, while the till is offline for a moment")
            problems += await _order_and_pay(client, sandbox, say, sleep)

        async with BessaClient(
            sandbox.restricted_token, base_url=sandbox.url, hooks=hooks
        ) as limited:
            say("\n6. a token without rights to receipts")
            try:
                await limited.receipts.list().first()
                problems.append("the restricted token could read receipts")
            except PermissionDeniedError as exc:
                say(f"   PermissionDeniedError: {exc.detail}")

    say()
    if problems:
        for problem in problems:
            say(f"MISMATCH: {problem}")
        return 1
    say("demo finished: every figure matched")
    return 0
