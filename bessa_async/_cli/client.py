"""The client a command runs with: the token and base URL it was given, or an in-process
sandbox with ``--sandbox``; its requests counted, and with ``-v`` shown one line each."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from bessa_async import (
    BessaClient,
)

from ..hooks import RequestTally


def request_line(text: str) -> None:
    print(text, file=sys.stderr)


@contextlib.asynccontextmanager
async def command_client(
    args: argparse.Namespace, tally: RequestTally | None = None
) -> AsyncIterator[BessaClient]:
    """The command's client; its requests counted into ``tally``, and with ``-v`` written one
    line each to stderr."""
    line = request_line if args.verbose else None
    if tally is None and line is not None:
        tally = RequestTally()
    hooks = None if tally is None else tally.hooks(line=line)
    if args.sandbox:
        from bessa_async.testing import Sandbox
        from bessa_async.testing.__main__ import DAYS, first_day

        # The days `bessa sandbox` serves, so --last and "yesterday" find receipts.
        start = first_day(args.sandbox_start, DAYS, datetime.now(UTC))
        async with Sandbox(
            receipts=args.sandbox_receipts, drift=args.sandbox_drift, start=start, days=DAYS
        ) as sandbox:
            print(f"(in-process sandbox at {sandbox.url})", file=sys.stderr)
            token = args.token or sandbox.token
            async with BessaClient(token, base_url=sandbox.url, hooks=hooks) as client:
                yield client
        return
    # The client reads BESSA_BASE_URL itself, in the same order as the library's users get.
    async with BessaClient(args.token, base_url=args.base_url, hooks=hooks) as client:
        yield client


def json_default(value: object) -> object:
    return str(value)
