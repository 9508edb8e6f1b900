"""Run the sandbox standalone: ``python -m bessa_async.testing --port 8080``.

``bessa sandbox`` takes the same options: :func:`add_options` declares them once for both. Its
receipts cover the 30 local days before today (before yesterday until 06:00 in Vienna, so
nothing is stamped after the moment it starts) unless ``--start``/``--days`` say otherwise (the
in-process ``Sandbox()`` keeps its fixed June 2026, so tests stay the same every day), and it
serves the HTTP control endpoint (:mod:`._control`, ``EPILOG``) unless ``--no-control``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Final, TypeVar

from ._calendar import VIENNA, period_end
from ._clock import RunningClock
from ._control import endpoints_text
from ._faults import _SPEC_HELP, Fault, parse_faults
from ._server import Sandbox
from ._throttle import parse_rate

__all__ = ["DAYS", "DESCRIPTION", "EPILOG", "add_options", "check", "first_day", "main", "serve"]

N = TypeVar("N", int, float)

DAYS: Final = 30
"""Trading days a sandbox started from the shell covers (``bessa sandbox``, ``bessa --sandbox``)."""

DESCRIPTION: Final = "Serve the bessa Public API sandbox on loopback until interrupted."
EPILOG: Final = (
    "control endpoint (JSON, no token; loopback clients with a loopback Host, no Origin, every\n"
    "POST as Content-Type: application/json; off with --no-control):\n"
    + endpoints_text()
    + "\n\ne.g. curl -s localhost:8080/_sandbox/sales-points/online --json '{\"online\": false}'"
    + "\n  (curl before 7.82: -H 'Content-Type: application/json' -d '{\"online\": false}')"
)
"""The control endpoint's calls, for both commands' ``--help``."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bessa_async.testing",
        description=DESCRIPTION,
        epilog="example: python -m bessa_async.testing --port 8080 --receipts 5000\n\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(parser)
    return parser


def add_options(parser: argparse.ArgumentParser) -> None:
    """Declare the sandbox's options on ``parser`` (its own, or ``bessa sandbox``'s)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=8080, help="port (0 picks a free one)")
    parser.add_argument("--seed", type=int, default=0, help="data and token seed")
    parser.add_argument(
        "--receipts", type=_non_negative_int, default=2000, help="receipts of tenant A"
    )
    parser.add_argument(
        "--tenants",
        type=_positive_int,
        default=2,
        help="tenants served, one token each, printed at start-up and listed at "
        "/_sandbox/tenants (default 2: tenant A and tenant B)",
    )
    parser.add_argument(
        "--start",
        type=_day,
        metavar="YYYY-MM-DD",
        help="first local trading day of the receipts (default: --days days before today)",
    )
    parser.add_argument(
        "--days",
        type=_positive_int,
        default=DAYS,
        help="trading days the receipts cover (default 30: with no --start, up to yesterday; "
        "before 06:00 in Vienna, up to the day before)",
    )
    parser.add_argument("--latency", type=_milliseconds, default=0.0, help="added latency in ms")
    parser.add_argument(
        "--next-style", choices=("url", "cursor"), default="url", help="form of next/previous"
    )
    parser.add_argument("--max-limit", type=_positive_int, default=500, help="largest page size")
    parser.add_argument(
        "--drift",
        action="store_true",
        help="differ from the library's model the way a real API might (a renamed field, "
        "unknown fields, tables/ moved to table-plans/, bare cursors, a 'queued' job): "
        "try 'bessa doctor' against it",
    )
    parser.add_argument(
        "--no-control",
        dest="control",
        action="store_false",
        help="do not serve the control endpoint under /_sandbox/",
    )
    parser.add_argument("--faults", type=_faults, default=[], metavar="SPEC", help=_SPEC_HELP)
    parser.add_argument(
        "--throttle",
        type=_rate,
        metavar="RATE",
        help="throttle every token as DRF's UserRateThrottle does, e.g. 30/s or 100/minute: "
        "429 with Retry-After beyond that",
    )
    jobs = parser.add_argument_group("jobs (orders and payments)")
    jobs.add_argument(
        "--job-delay",
        type=_seconds,
        default=0.2,
        help="seconds until a Sales Point picks a job up, and again until it finishes",
    )
    jobs.add_argument(
        "--job-duration-min",
        type=_seconds,
        help="with --job-duration-max: each job's processing time is drawn uniformly from "
        "[min, max] seconds (seeded), replacing --job-delay",
    )
    jobs.add_argument("--job-duration-max", type=_seconds, help="see --job-duration-min")
    jobs.add_argument(
        "--job-expiry",
        type=_seconds,
        default=3600.0,
        help="seconds a job waits for an offline till",
    )
    jobs.add_argument(
        "--job-retry-after",
        type=_seconds,
        help="send Retry-After with this many seconds on answers about unfinished jobs",
    )


# Option types: a bad value is a usage error naming what is accepted. They are this package's
# own, like everything in it: the fake server shares no code with the client it tests.


def _number(
    convert: Callable[[str], N], accepted: str, ok: Callable[[N], bool]
) -> Callable[[str], N]:
    def parse(text: str) -> N:
        try:
            value: N | None = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {accepted}, got {text!r}")
        return value

    return parse


_port = _number(int, "a port number 0..65535 (0 picks a free one)", lambda n: 0 <= n <= 65535)
_non_negative_int = _number(int, "a whole number >= 0", lambda n: n >= 0)
_positive_int = _number(int, "a whole number >= 1", lambda n: n >= 1)
_seconds = _number(float, "seconds >= 0", lambda n: 0 <= n < math.inf)
_milliseconds = _number(float, "milliseconds >= 0", lambda n: 0 <= n < math.inf)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-06-01, got {text!r}") from None


def first_day(start: date | None, days: int, now: datetime) -> date:
    """The first trading day: ``start``, or so that ``days`` days end with the last whose data
    is over at ``now`` (yesterday in Vienna, the day before in the small hours): a stamp after
    ``now`` would look like a server clock running ahead."""
    if start is not None:
        return start
    last = now.astimezone(VIENNA).date() - timedelta(days=1)
    while period_end(last - timedelta(days=days - 1), days) > now:
        last -= timedelta(days=1)
    return last - timedelta(days=days - 1)


def _faults(spec: str) -> list[tuple[Fault, str | None, float]]:
    try:
        return parse_faults(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rate(rate: str) -> str:
    try:
        parse_rate(rate)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return rate


def _duration(args: argparse.Namespace) -> tuple[float, float] | None:
    low, high = args.job_duration_min, args.job_duration_max
    return None if low is None or high is None else (low, high)


def check(args: argparse.Namespace) -> str | None:
    """What is wrong with a combination of options (``parser.error`` it), or None."""
    low, high = args.job_duration_min, args.job_duration_max
    if (low is None) != (high is None) or (low is not None and low > high):
        return "--job-duration-min and --job-duration-max go together, with min <= max"
    return None


async def _serve(args: argparse.Namespace, ready: asyncio.Event | None = None) -> None:
    start = first_day(args.start, args.days, datetime.now(UTC))
    async with Sandbox(
        seed=args.seed,
        receipts=args.receipts,
        start=start,
        days=args.days,
        control=args.control,
        clock=RunningClock(),  # real time that the control endpoint can move forward
        latency=args.latency / 1000,
        next_style=args.next_style,
        host=args.host,
        port=args.port,
        max_limit=args.max_limit,
        job_delay=args.job_delay,
        job_duration=_duration(args),
        job_expiry=args.job_expiry,
        job_retry_after=args.job_retry_after,
        drift=args.drift,
        throttle=args.throttle,
        tenants=args.tenants,
    ) as sandbox:
        for fault, path, rate in args.faults:
            sandbox.inject(fault, path=path, rate=rate)
        print(f"bessa sandbox listening on {sandbox.url}", flush=True)
        print(f"  token (tenant A):        {sandbox.token}", flush=True)
        if len(sandbox.tokens) > 1:
            print(f"  token (tenant B):        {sandbox.other_token}", flush=True)
        print(f"  token (no receipts etc): {sandbox.restricted_token}", flush=True)
        for number, token in enumerate(sandbox.tokens[2:], start=3):
            print(f"  {f'token (tenant {number}):':<25}{token}", flush=True)
        last = start + timedelta(days=args.days - 1)
        print(f"  receipts:                {args.receipts} of {start}..{last} (Vienna)", flush=True)
        if sandbox.control_url is not None:
            print(f"  control:                 {sandbox.control_url}", flush=True)
        if args.faults:
            print(f"  faults: {len(args.faults)} rule(s) injected", flush=True)
        if args.throttle:
            print(f"  throttle: {args.throttle} per token", flush=True)
        print("press Ctrl-C to stop", flush=True)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()


def serve(args: argparse.Namespace) -> int:
    """Serve with parsed and checked options until interrupted; returns the exit code."""
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and serve until interrupted; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if problem := check(args):
        parser.error(problem)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
