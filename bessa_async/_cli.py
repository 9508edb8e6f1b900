"""The ``bessa`` command: ``demo`` (a walkthrough on the bundled sandbox) and ``sandbox``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import TextIO
from zoneinfo import ZoneInfo

from ._client import BessaClient
from ._config import RetryPolicy
from ._days import business_day
from ._errors import BessaError, PermissionDeniedError

__all__ = ["main"]

VIENNA = ZoneInfo("Europe/Vienna")
DEMO_DAY = date(2026, 6, 15)


async def _walkthrough(
    out: TextIO,
    receipts: int,
    seed: int,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    from .testing import Fault, Sandbox

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    problems: list[str] = []
    async with Sandbox(seed=seed, receipts=receipts) as sandbox:
        say(f"sandbox running at {sandbox.url} (seed {seed}, {receipts} receipts)")
        async with BessaClient(
            sandbox.token, base_url=sandbox.url, clock=clock, sleep=sleep
        ) as client:
            say("\n1. master data")
            for path in ("companies/", "locations/", "sales-points/", "articles/", "tables/"):
                page = await client.request("GET", path, params={"limit": 1})
                say(f"   {path:<16} {page['count']:>5}")

            start, end = business_day(DEMO_DAY)
            say(f"\n2. receipts of {DEMO_DAY} in Vienna = {start.isoformat()} .. {end.isoformat()}")
            count, gross, pages = 0, Decimal("0.00"), 0
            async for page in client.receipts.for_day(DEMO_DAY, limit=100).pages():
                pages += 1
                for receipt in page.results:
                    count += 1
                    if receipt.is_revenue:  # voids are negative: added, never skipped
                        gross += receipt.total
            say(f"   {count} receipts in {pages} pages, revenue (voids subtracted) {gross} EUR")

            report = await client.reports.sales_for_day(DEMO_DAY)
            say(f"   sales report: {report.receipts} receipts, gross {report.gross} EUR")
            if report.gross != gross:
                problems.append(f"report gross {report.gross} != receipts' sum {gross}")

            say("\n3. resilience: the sandbox fails the next read with a 503")
            sandbox.inject(Fault.status(503, body="html"), path="companies/", times=1)
            await client.request("GET", "companies/")
            say("   retried with backoff and succeeded")

            say("\n4. a throttled read: 429 with Retry-After: 1")
            sandbox.inject(Fault.rate_limit(retry_after=1), path="companies/", times=1)
            await client.request("GET", "companies/")
            say("   waited as asked, then succeeded")

            say("\n5. submitting an order (a job for the Sales Point)")
            article = (await client.request("GET", "articles/", params={"active": True}))[
                "results"
            ][0]
            point = (await client.request("GET", "sales-points/"))["results"][0]
            job = await client.request(
                "POST",
                "requests/orders/",
                json={
                    "sales_point": point["id"],
                    "reference": f"demo-{uuid.uuid4().hex[:8]}",
                    "lines": [{"article": article["id"], "quantity": "2"}],
                },
                headers={"Idempotency-Key": str(uuid.uuid4())},
                retry=RetryPolicy.disabled(),
            )
            say(f"   job {job['id']} accepted, status {job['status']}")
            job = await client.request("GET", f"requests/orders/{job['id']}/")
            say(f"   polled: status {job['status']}")

        async with BessaClient(sandbox.restricted_token, base_url=sandbox.url) as limited:
            say("\n6. a token without rights to receipts")
            try:
                await limited.request("GET", "receipts/")
                problems.append("the restricted token could read receipts")
            except PermissionDeniedError as exc:
                say(f"   PermissionDeniedError: {exc}")

    say()
    if problems:
        for problem in problems:
            say(f"MISMATCH: {problem}")
        return 1
    say("demo finished: every figure matched")
    return 0


def _demo(args: argparse.Namespace) -> int:
    return asyncio.run(_walkthrough(sys.stdout, args.receipts, args.seed))


def _sandbox(args: argparse.Namespace) -> int:
    from .testing.__main__ import main as sandbox_main

    return sandbox_main(args.rest)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bessa", description="bessa Public API client: a demo and a local sandbox."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="walk through the client against the bundled sandbox (no token needed)",
        epilog="example: bessa demo --receipts 2000",
    )
    demo.add_argument("--receipts", type=int, default=2000, help="receipts the sandbox holds")
    demo.add_argument("--seed", type=int, default=0, help="the sandbox's data seed")
    demo.set_defaults(run=_demo)
    sandbox = commands.add_parser(
        "sandbox",
        help="run the sandbox standalone (options as python -m bessa_async.testing)",
        epilog="example: bessa sandbox --port 8080",
        add_help=False,
    )
    sandbox.add_argument("rest", nargs=argparse.REMAINDER)
    sandbox.set_defaults(run=_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bessa`` and ``python -m bessa_async``."""
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except BessaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
