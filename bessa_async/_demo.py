"""``bessa demo``: the walkthrough a newcomer runs first, on the bundled sandbox.

It uses the library as a user would (public API only) and checks its own figures: the day's
sales report must equal the sum of the day's receipts. Any mismatch makes it exit non-zero.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Final, TextIO

from bessa_async import BessaClient, PermissionDeniedError, business_day
from bessa_async.testing import Fault, Sandbox

__all__ = ["walkthrough"]

DEMO_DAY: Final = date(2026, 6, 13)
"""A Saturday of the sandbox's default data."""


async def walkthrough(
    out: TextIO,
    receipts: int,
    seed: int,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Run the demo, printing to ``out``; returns the exit code (0 when every figure matched)."""

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    problems: list[str] = []
    async with Sandbox(seed=seed, receipts=receipts) as sandbox:
        say(f"sandbox running at {sandbox.url} (seed {seed}, {receipts} receipts)")
        async with BessaClient(
            sandbox.token, base_url=sandbox.url, clock=clock, sleep=sleep
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

        async with BessaClient(sandbox.restricted_token, base_url=sandbox.url) as limited:
            say("\n5. a token without rights to receipts")
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
