"""The ``bessa`` command (also ``python -m bessa_async``): the library's first user.

It uses only the public API. Errors print one line saying what went wrong and what to do (after
a traceback with ``-v``), and the exit code says what kind of failure it was (see ``--help``),
with or without ``-v``.
Progress bars appear only on a terminal; elsewhere (CI logs, pipes) plain lines are printed.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from bessa_async import (
    DEFAULT_BASE_URL,
    DEFAULT_TZ,
    AuthenticationError,
    BessaError,
    InputError,
    JobFailedError,
    PermissionDeniedError,
    SubmissionOutcomeUnknownError,
    ValidationError,
)

from .._base.config import BASE_URL_ENV
from ..doctor import doctor_table
from ..export import (
    LAYOUTS,
)
from . import arguments as accepts
from . import mirror as mirror_cli
from . import sync as sync_cli
from .client import command_client
from .exits import DOCTOR_EXIT_CODES, EXIT_CODES
from .export import COLUMNS_HELP, ColumnsAction, check_export, export_command
from .jobs import job_wait, order_submit
from .report import check_report, report_command
from .signals import Terminated, run_until_signal

__all__ = ["DOCTOR_EXIT_CODES", "EXIT_CODES", "main"]


_EPILOG: Final = """exit codes: 0 ok, 1 a figure did not match, 2 usage, 3 token refused (401/403),
4 validation error (400; an order reference reused with another body: 409), 5 job failed,
6 timed out, 7 submission outcome unknown, 8 other error,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

Global options go before the command: bessa --sandbox get companies/"""


# --- the client a command runs with ------------------------------------------------------------


# --- commands ----------------------------------------------------------------------------------


async def _get(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {}
    for name, value in args.param:
        params.setdefault(name, []).append(value)
    flat: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in params.items()}
    if isinstance(flat.get("limit"), str) and flat["limit"].isdigit():
        flat["limit"] = int(flat["limit"])  # the listing checks it is a positive integer
    async with command_client(args) as client:
        if not args.all:
            body = await client.request("GET", args.path, params=flat)
            json.dump(body, sys.stdout, indent=2, ensure_ascii=False)
            print()
            return 0
        async for row in client.resource(args.path).list(**flat):
            print(json.dumps(row, ensure_ascii=False))
    return 0


async def _demo(args: argparse.Namespace) -> int:
    from .demo import walkthrough

    return await walkthrough(sys.stdout, args.receipts, args.seed)


async def _doctor(args: argparse.Namespace) -> int:
    try:
        async with command_client(args) as client:
            report = await client.doctor()
    except (BessaError, OSError) as exc:
        # The report itself never raises for what the API answers; this is configuration
        # (no token, a bad BESSA_PATHS) or the sandbox failing to start.
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return DOCTOR_EXIT_CODES["error"]
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print(doctor_table(report))
    if report.errors:
        return DOCTOR_EXIT_CODES["error"]
    return DOCTOR_EXIT_CODES["differences" if report.differences else "ok"]


# --- the parser --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bessa",
        description="The bessa Public API from a shell, a demo, and a local sandbox.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--token", help="API token (default: the BESSA_TOKEN environment variable); never echoed"
    )
    parser.add_argument(
        "--base-url",
        type=accepts.base_url,
        help=f"API root (default: {BASE_URL_ENV} or {DEFAULT_BASE_URL})",
    )
    parser.add_argument(
        "--sandbox", action="store_true", help="run the command against an in-process sandbox"
    )
    parser.add_argument(
        "--sandbox-receipts",
        type=accepts.non_negative_int,
        default=2000,
        help="receipts of the --sandbox tenant",
    )
    parser.add_argument(
        "--sandbox-start",
        type=accepts.day,
        metavar="YYYY-MM-DD",
        help="first day of the --sandbox receipts (default: the 30 days up to yesterday)",
    )
    parser.add_argument(
        "--sandbox-drift",
        action="store_true",
        help="with --sandbox: a sandbox that differs from the library's model (try: doctor)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="one line per request (timing, retries) and tracebacks; -vv adds debug logging",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str, example: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help_,
            description=help_,
            epilog=f"example: {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(usage=sub)
        return sub

    demo = command(
        "demo",
        "walk through the client against the bundled sandbox (no token needed)",
        "bessa demo --receipts 2000",
    )
    demo.add_argument(
        "--receipts", type=accepts.positive_int, default=2000, help="receipts the sandbox holds"
    )
    demo.add_argument("--seed", type=int, default=0, help="the sandbox's data seed")
    demo.set_defaults(run=_demo)

    from bessa_async.testing import __main__ as sandbox_cli

    sandbox = command(
        "sandbox",
        sandbox_cli.DESCRIPTION[0].lower() + sandbox_cli.DESCRIPTION[1:].rstrip("."),
        "bessa sandbox --port 8080 --faults '503:0.1,429:0.03@receipts/'\n\n" + sandbox_cli.EPILOG,
    )
    sandbox_cli.add_options(sandbox)
    sandbox.set_defaults(run=sandbox_cli.serve, sync=True, check=sandbox_cli.check)

    get = command(
        "get", "GET any path; JSON to stdout", "bessa get receipts/ --param limit=5 --all"
    )
    get.add_argument("path", help="a path relative to the API root, e.g. articles/")
    get.add_argument(
        "--param",
        type=accepts.param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a query parameter (repeatable)",
    )
    get.add_argument("--all", action="store_true", help="follow next: one item per line (JSONL)")
    get.set_defaults(run=_get)

    def day_options(
        sub: argparse.ArgumentParser,
        days: argparse._ActionsContainer | None = None,
        names: tuple[str, ...] = ("--day",),
    ) -> None:
        (days or sub).add_argument(
            *names,
            dest="day",
            type=accepts.day,
            required=days is None,
            help="(first) local business day, YYYY-MM-DD",
        )
        sub.add_argument(
            "--tz",
            type=accepts.zone,
            default=DEFAULT_TZ,
            help=f"the venue's IANA time zone (default {DEFAULT_TZ})",
        )
        sub.add_argument(
            "--day-start",
            type=accepts.time_of_day,
            default="00:00",
            help="local time the business day starts, HH:MM (default 00:00)",
        )

    def excel_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--excel",
            action="store_true",
            help="CSV as German-locale Excel opens it: a UTF-8 BOM, ';' between fields, "
            "decimal commas, local times as 2026-06-10 14:03:12; the same columns",
        )

    export = command(
        "export",
        "stream the receipts or closings of local business days to CSV or JSONL",
        "bessa export receipts --day 2026-06-01 --to 2026-06-30 --output june.csv\n"
        "         bessa export receipts --last 30 --excel --output month.csv  # Excel (AT, DE)\n"
        "         bessa export closings --day 2026-06-01 --to 2026-06-30 --output z.csv"
        f"\n\n{COLUMNS_HELP}",
    )
    export.add_argument("what", choices=["receipts", "closings"], help="what to export")
    days = export.add_mutually_exclusive_group(required=True)
    day_options(export, days)
    days.add_argument(
        "--last",
        type=accepts.positive_int,
        metavar="N",
        help="the N local business days before today (in --tz), instead of --day/--to",
    )
    export.add_argument("--to", type=accepts.day, help="last business day (default: --day)")
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    export.add_argument(
        "--delimiter",
        type=accepts.delimiter,
        help="CSV field separator, one character (default ','; ';' for Excel in Austria)",
    )
    excel_option(export)
    export.add_argument(
        "--layout",
        choices=list(LAYOUTS),
        default="receipts",
        help="CSV rows: one per receipt, whose total sums to the sales report (default), or one "
        "per receipt line, without receipt amounts",
    )
    export.add_argument(
        "--columns",
        action=ColumnsAction,
        help="list the CSV columns with what each holds, and exit",
    )
    export.add_argument(
        "--output",
        help="file to write (default: stdout); written to OUTPUT.part and renamed when "
        "complete, so a failed export never replaces a good file",
    )
    export.add_argument(
        "--concurrency", type=accepts.positive_int, default=4, help="concurrent cursor chains"
    )
    export.add_argument("--limit", type=accepts.positive_int, default=100, help="page size")
    export.add_argument(
        "--resume",
        metavar="TOKEN",
        help="go on with a stopped export: the token it printed; appends to OUTPUT.part",
    )
    export.set_defaults(run=export_command, sync=True, check=check_export)

    sync = command("sync", sync_cli.HELP, sync_cli.EXAMPLE)
    sync.description = sync_cli.DESCRIPTION
    sync_cli.add_options(sync)
    sync.set_defaults(
        run=functools.partial(sync_cli.sync, client=command_client), sync=True, check=sync_cli.check
    )

    mirror = command("mirror", mirror_cli.HELP, mirror_cli.EXAMPLE)
    mirror.description = mirror_cli.DESCRIPTION
    mirror_cli.add_options(mirror)
    mirror.set_defaults(run=mirror_cli.mirror, check=mirror_cli.check)

    report = command(
        "report",
        "the sales report of local business days, one per day: a table, CSV or JSON",
        "bessa report sales --day 2026-06-15\n"
        "         bessa report sales --from 2026-06-01 --to 2026-06-30 --excel --output june.csv",
    )
    report.add_argument("what", choices=["sales"], help="which report")
    day_options(report, names=("--day", "--from"))
    report.add_argument("--to", type=accepts.day, help="last business day (default: --day)")
    report.add_argument(
        "--format",
        choices=["table", "csv", "json"],
        default=None,
        help="a table to read (default), CSV (one row per day) or JSON (every figure)",
    )
    excel_option(report)
    report.add_argument(
        "--output",
        help="file to write (default: stdout); replaced only once it is complete",
    )
    report.set_defaults(run=report_command, check=check_report)

    doctor = commands.add_parser(
        "doctor",
        help="check where the API differs from the library's model (read-only)",
        description="Check, read-only and gently (2 items per resource, one request at a "
        "time), where the API your token reaches differs from the library's model: paths, "
        "page shape, fields, type words, time filters with offsets, the OpenAPI schema, the "
        "job list. The token is never shown.",
        epilog="exit codes: 0 everything matches, 1 differences found, 2 could not check "
        "(token refused, unreachable, throttled, server errors)\n\n"
        "example: bessa doctor --json > doctor.json   # attach it to a bug report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    doctor.add_argument("--json", action="store_true", help="the report as JSON")
    doctor.set_defaults(run=_doctor)

    order = command(
        "order",
        "submit an order (a job for the Sales Point) from a JSON file",
        "bessa order submit order.json --wait --timeout 120\n\n"
        'order.json: {"sales_point": "<uuid>", "reference": "webshop-10045",\n'
        '             "lines": [{"article": "<uuid>", "quantity": "2"}]}',
    )
    order.add_argument("what", choices=["submit"], help="what to do")
    order.add_argument(
        "file", help="the order as JSON: sales_point, lines, a reference of your own; table, note"
    )
    order.add_argument(
        "--idempotency-key",
        type=accepts.idempotency_key,
        metavar="KEY",
        help="the submission's Idempotency-Key (default: derived from the order's reference, "
        "so running the command again never places the order twice)",
    )
    order.add_argument("--wait", action="store_true", help="wait for the Sales Point's result")
    order.add_argument(
        "--timeout", type=accepts.positive_seconds, default=120.0, help="seconds to wait (--wait)"
    )
    order.set_defaults(run=order_submit)

    job = command(
        "job",
        "wait for a job submitted earlier, by its token or id",
        "bessa job wait 0f8e2b9c-4d1a-4f6e-9b3c-7a5d2e1f0c48 --kind payment"
        "   # or the quoted token 'order submit' printed",
    )
    job.add_argument("what", choices=["wait"], help="what to do")
    job.add_argument(
        "job", type=accepts.job_reference, help="a job token (from 'order submit') or a job id"
    )
    job.add_argument(
        "--kind", choices=["order", "payment"], default="order", help="with an id: the job's kind"
    )
    job.add_argument(
        "--timeout", type=accepts.positive_seconds, default=120.0, help="seconds to wait"
    )
    job.set_defaults(run=job_wait)
    return parser


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, SubmissionOutcomeUnknownError):
        return EXIT_CODES["outcome_unknown"]
    if isinstance(exc, JobFailedError):
        return EXIT_CODES["job_failed"]
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return EXIT_CODES["auth"]
    if isinstance(exc, InputError):  # ConfigurationError included
        return EXIT_CODES["usage"]
    if isinstance(exc, ValidationError):
        return EXIT_CODES["validation"]
    if isinstance(exc, TimeoutError):
        return EXIT_CODES["timeout"]
    return EXIT_CODES["error"]


_ADVICE: Final[dict[type[BaseException], str]] = {
    SubmissionOutcomeUnknownError: "look the job up later by its reference before resubmitting",
    AuthenticationError: "check --token or BESSA_TOKEN",
    PermissionDeniedError: "the token lacks the right to this resource; ask the tenant's admin",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def main(argv: Sequence[str] | None = None, *, now: Callable[[], datetime] = _utc_now) -> int:
    """Entry point of ``bessa`` and ``python -m bessa_async``; returns the exit code.

    ``now`` (an aware datetime) says when "today" is, for ``export --last``.
    """
    args = _parser().parse_args(argv)
    args.now = now
    check: Callable[[argparse.Namespace], str | None] | None = getattr(args, "check", None)
    if check is not None and (problem := check(args)):
        args.usage.error(problem)  # exits 2, as argparse does for a bad value
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    run: Callable[[argparse.Namespace], Any] = args.run
    try:
        if getattr(args, "sync", False):
            return int(run(args))
        return run_until_signal(run(args))
    except KeyboardInterrupt as exc:
        print(_stopped("interrupted", exc), file=sys.stderr)
        return EXIT_CODES["interrupted"]
    except Terminated as exc:
        print(_stopped("terminated", exc), file=sys.stderr)
        return EXIT_CODES["terminated"]
    except BrokenPipeError:
        # The reader went away (e.g. `bessa get ... | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_CODES["ok"]
    except (BessaError, OSError, ValueError, TypeError) as exc:
        if args.verbose:  # the traceback as well; the exit code stays what the error means
            traceback.print_exception(exc, file=sys.stderr)
        advice = next((a for kind, a in _ADVICE.items() if isinstance(exc, kind)), "")
        hint = f" ({advice})" if advice else ""
        print(f"error: {type(exc).__name__}: {exc}{hint}", file=sys.stderr)
        if getattr(exc, "__notes__", None):
            print(_stopped(f"{args.command} stopped", exc), file=sys.stderr)
        return _exit_code(exc)


def _stopped(headline: str, exc: BaseException) -> str:
    """One line: how the command ended, and the notes it added about where it left things."""
    notes: list[str] = getattr(exc, "__notes__", [])
    return f"{headline}: {'; '.join(notes)}" if notes else headline
