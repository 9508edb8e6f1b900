"""The ``bessa`` command (also ``python -m bessa_async``): the library's first user.

It uses only the public API. Errors print one line saying what went wrong and what to do (after
a traceback with ``-v``), and the exit code says what kind of failure it was (see ``--help``),
with or without ``-v``.
Progress bars appear only on a terminal; elsewhere (CI logs, pipes) plain lines are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import io
import json
import logging
import os
import shlex
import sys
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any, Final

from bessa_async import (
    DEFAULT_BASE_URL,
    DEFAULT_TZ,
    AuthenticationError,
    BessaClient,
    BessaError,
    ConflictError,
    InputError,
    InvalidTypeError,
    InvalidValueError,
    JobFailedError,
    JobHandle,
    JobTimeoutError,
    Order,
    OrderLine,
    OrderOption,
    PermissionDeniedError,
    SalesReport,
    SubmissionOutcomeUnknownError,
    ValidationError,
    business_days,
    to_dict,
)

from .._base.config import BASE_URL_ENV
from .._base.jsontext import parse_json
from .._base.validate import json_number, parse_uuid
from ..doctor import doctor_table
from ..export import (
    CLOSING_COLUMNS,
    EXCEL_DELIMITER,
    LAYOUTS,
    SALES_COLUMNS,
    business_day_of,
    columns_text,
    header_text,
    page_text,
    sales_rows,
    write_csv,
)
from ..hooks import RequestTally
from . import arguments as accepts
from . import mirror as mirror_cli
from . import sync as sync_cli
from .exits import DOCTOR_EXIT_CODES, EXIT_CODES
from .files import PART_SUFFIX, AtomicFile
from .progress import Progress
from .signals import Terminated, run_until_signal
from .status import watch_status

__all__ = ["DOCTOR_EXIT_CODES", "EXIT_CODES", "main"]


_EPILOG: Final = """exit codes: 0 ok, 1 a figure did not match, 2 usage, 3 token refused (401/403),
4 validation error (400; an order reference reused with another body: 409), 5 job failed,
6 timed out, 7 submission outcome unknown, 8 other error,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

Global options go before the command: bessa --sandbox get companies/"""


# --- the client a command runs with ------------------------------------------------------------


def _request_line(text: str) -> None:
    print(text, file=sys.stderr)


@contextlib.asynccontextmanager
async def _client(
    args: argparse.Namespace, tally: RequestTally | None = None
) -> AsyncIterator[BessaClient]:
    """The command's client; its requests counted into ``tally``, and with ``-v`` written one
    line each to stderr."""
    line = _request_line if args.verbose else None
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


def _json_default(value: object) -> object:
    return str(value)


# --- commands ----------------------------------------------------------------------------------


async def _get(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {}
    for name, value in args.param:
        params.setdefault(name, []).append(value)
    flat: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in params.items()}
    if isinstance(flat.get("limit"), str) and flat["limit"].isdigit():
        flat["limit"] = int(flat["limit"])  # the listing checks it is a positive integer
    async with _client(args) as client:
        if not args.all:
            body = await client.request("GET", args.path, params=flat)
            json.dump(body, sys.stdout, indent=2, ensure_ascii=False)
            print()
            return 0
        async for row in client.resource(args.path).list(**flat):
            print(json.dumps(row, ensure_ascii=False))
    return 0


async def _write(output: IO[str], text: str) -> None:
    """Write a page's text in a worker thread: a file write must not stall the loop."""
    await asyncio.to_thread(output.write, text)


class _Tally:
    """How far an export got (what was written, for the note if it stops)."""

    def __init__(self, resume: str | None, what: str = "receipts") -> None:
        self.what: Final = what
        self.receipts = 0
        """Items (receipts or closings) this run wrote (a resumed export's ``.part`` holds
        more)."""
        self.resumed: Final = resume is not None
        self.dropped = False
        """The ``.part`` held nothing of this export and was removed."""
        self.resume = resume
        """The listing's resume token after the last page written in full: until this run
        writes a page, the one it started from."""


async def _write_whole(output: IO[str], text: str) -> None:
    """:func:`_write`, to the end even when cancelled (Ctrl-C): the thread cannot be stopped
    part-way, and the resume token must say whether the page is in the file."""
    write = asyncio.ensure_future(_write(output, text))
    try:
        await asyncio.shield(write)
    except asyncio.CancelledError:
        await asyncio.wait([write])
        raise


def _export(args: argparse.Namespace) -> int:
    if args.last is not None:
        # Fixed here, so the resume command names the same days tomorrow.
        today = business_day_of(args.now(), args.tz, args.day_start)
        args.day, args.to = today - timedelta(days=args.last), today - timedelta(days=1)
    tally = _Tally(args.resume, args.what)
    if args.output in (None, "-"):
        return run_until_signal(_export_to(args, sys.stdout, tally))
    # Written beside the target and renamed over it at the end, so that a failed, interrupted
    # or killed export never replaces a complete file with a partial one.
    # --resume goes on with the .part the stopped export left.
    target = AtomicFile(args.output, append=args.resume is not None)
    try:
        with target as output:
            return run_until_signal(_export_to(args, output, tally))
    except BaseException as exc:
        _drop_empty_part(target, tally)
        exc.add_note(_export_stopped(args, target, tally))
        raise


def _drop_empty_part(target: AtomicFile, tally: _Tally) -> None:
    """Remove the ``.part`` of a new export that stopped before its first item (a refused token,
    an unreachable API): it holds nothing to keep or resume."""
    if target.part is None or not target.opened or tally.resumed or tally.resume is not None:
        return  # resumable: pages were written (perhaps empty ones), or it goes on from one
    with contextlib.suppress(FileNotFoundError):
        os.unlink(target.part)
    tally.dropped = True


def _export_stopped(args: argparse.Namespace, target: AtomicFile, tally: _Tally) -> str:
    """What became of the files when an export stopped, and how to go on: the one place that
    says it."""
    resume = "" if tally.resume is None else f"; resume with: {_resume_command(args, tally.resume)}"
    return _files_after_stop(target, tally) + resume


def _files_after_stop(target: AtomicFile, tally: _Tally) -> str:
    if target.committed:
        return f"{target.path} is complete"
    if target.part is None:
        return f"{target.path} is not a regular file and was written to directly"
    kept = f"{target.path} is unchanged"
    if tally.resumed:
        return (
            f"{kept}; {target.part} holds the {tally.what} exported before the resume and "
            f"{tally.receipts} more from this run"
        )
    if not target.opened or tally.dropped:
        return kept
    return f"{kept}; the {tally.receipts} {tally.what} exported so far are in {target.part}"


def _resume_command(args: argparse.Namespace, token: str) -> str:
    """The command that resumes this export from ``token`` (never with the API token)."""
    words = ["bessa"]
    if args.base_url:
        words += ["--base-url", args.base_url]
    if args.sandbox:
        words += ["--sandbox", "--sandbox-receipts", str(args.sandbox_receipts)]
        if args.sandbox_start:
            words += ["--sandbox-start", str(args.sandbox_start)]
    words += ["export", args.what, "--day", str(args.day)]
    if args.to:
        words += ["--to", str(args.to)]
    words += ["--tz", str(args.tz), "--day-start", args.day_start.strftime("%H:%M")]
    words += ["--format", args.format, "--concurrency", str(args.concurrency)]
    if args.delimiter is not None:
        words += ["--delimiter", args.delimiter]
    if args.excel:
        words += ["--excel"]
    if args.format == "csv" and args.what == "receipts":
        words += ["--layout", args.layout]
    words += ["--limit", str(args.limit)]
    if args.output not in (None, "-"):
        words += ["--output", args.output]
    return shlex.join([*words, "--resume", token])


async def _export_to(args: argparse.Namespace, output: IO[str], tally: _Tally) -> int:
    last = args.to or args.day
    windows = business_days(args.day, last, args.tz, day_start=args.day_start)
    start, end = windows[args.day][0], windows[last][1]
    began = time.perf_counter()
    delimiter = args.delimiter or (EXCEL_DELIMITER if args.excel else ",")
    if not args.resume:
        header = header_text(args.format, delimiter, args.layout, what=args.what, excel=args.excel)
        await _write(output, header)
    requests = RequestTally()
    async with _client(args, requests) as client:
        resource = client.closings if args.what == "closings" else client.receipts
        try:  # first, so a --resume token that is not this export's is refused before sending
            listing = resource.list(
                timestamp__gte=start,
                timestamp__lt=end,
                limit=args.limit,
                concurrency=args.concurrency,
                cursor=args.resume,
            )
        except BessaError:
            tally.resume = None  # the same command would be refused alike: none to print
            raise
        # One small request for the count sizes the progress bar.
        total = await resource.list(timestamp__gte=start, timestamp__lt=end).count()
        # Where to resume: after the last page written to the end.
        written: str | None = args.resume
        try:
            with Progress(args.what, total, sys.stderr) as progress:
                async for page in listing.pages():
                    after = listing.resume_cursor
                    try:
                        text = page_text(
                            page.results,
                            args.format,
                            what=args.what,
                            tz=args.tz,
                            day_start=args.day_start,
                            delimiter=delimiter,
                            layout=args.layout,
                            excel=args.excel,
                        )
                        await _write_whole(output, text)
                    except asyncio.CancelledError:
                        written = after
                        raise
                    written = after
                    tally.receipts += len(page.results)
                    progress.advance(len(page.results))
        except BaseException:
            tally.resume = written
            raise
    elapsed = time.perf_counter() - began
    where = "" if args.output in (None, "-") else f" to {args.output}"
    print(
        f"exported {tally.receipts} {args.what} of {args.day}..{last} ({args.tz}){where} "
        f"in {elapsed:.2f} s ({listing.stats.pages} pages, {listing.stats.shards} shards)",
        file=sys.stderr,
    )
    print(requests.summary(elapsed), file=sys.stderr)
    return 0


async def _report(args: argparse.Namespace) -> int:
    last = args.to or args.day
    windows = business_days(args.day, last, args.tz, day_start=args.day_start)
    reports: list[tuple[date, SalesReport]] = []
    async with _client(args) as client:
        for day, (start, end) in windows.items():  # one at a time: gentle on the API
            reports.append((day, await client.reports.sales(start=start, end=end)))
    text = _report_text(args, reports)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        await asyncio.to_thread(_save, args.output, text)
    return 0


def _save(path: str, text: str) -> None:
    """Write a whole file, replacing the old one only once it is complete."""
    with AtomicFile(path) as output:
        output.write(text)


def _report_text(args: argparse.Namespace, reports: list[tuple[date, SalesReport]]) -> str:
    if args.format == "json":
        days = [{"business_day": day.isoformat(), **to_dict(report)} for day, report in reports]
        return json.dumps(days, indent=2, ensure_ascii=False, default=_json_default) + "\n"
    if args.format == "csv":
        delimiter = EXCEL_DELIMITER if args.excel else ","
        text = io.StringIO()
        text.write(header_text("csv", delimiter, columns=SALES_COLUMNS, excel=args.excel))
        rows = sales_rows(reports, excel=args.excel)
        write_csv(rows, text, delimiter=delimiter, header=False, columns=SALES_COLUMNS)
        return text.getvalue()
    return "\n".join(_report_table(day, report, args.tz) for day, report in reports)


def _report_table(day: date, report: SalesReport, tz: str) -> str:
    rows: list[tuple[str, str]] = [
        ("window", f"{report.start.isoformat()} .. {report.end.isoformat()}"),
        ("receipts", str(report.receipts)),
        ("gross", str(report.gross)),
        ("net", str(report.net)),
        ("tip (not revenue)", str(report.tip)),
    ]
    rows += [
        (f"  rate {row.rate} %", f"{row.gross} (net {row.net}, tax {row.tax})")
        for row in report.by_tax_rate
    ]
    rows += [
        (f"  {row.name or row.payment_method}", f"{row.amount} ({row.count}x)")
        for row in report.by_payment_method
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"sales report {day} ({tz})", *(f"{name:<{width}}  {value}" for name, value in rows)]
    return "\n".join(lines) + "\n"


async def _demo(args: argparse.Namespace) -> int:
    from .demo import walkthrough

    return await walkthrough(sys.stdout, args.receipts, args.seed)


async def _doctor(args: argparse.Namespace) -> int:
    try:
        async with _client(args) as client:
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


def _read_order(path: str) -> Order:
    """An Order from a JSON file; numbers are read as Decimal, never float. A file that is not
    an order is an input error naming what is wrong, before anything is sent."""
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        data = parse_json(raw, decimals=True)
    except ValueError as exc:  # not JSON, not UTF-8, nested too deeply, an endless int
        raise InvalidValueError(f"{path} is not a JSON order: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidTypeError(f"{path}: expected a JSON object with sales_point and lines")
    unknown = set(data) - {"sales_point", "lines", "reference", "table", "note"}
    if unknown:
        raise InvalidValueError(f"{path}: unknown order fields {sorted(unknown)}")
    given_lines = data.get("lines") or []
    if not isinstance(given_lines, list):
        raise InvalidTypeError(f'{path}: "lines" must be a list of lines')
    lines = []
    for n, line in enumerate(given_lines, start=1):
        if not isinstance(line, dict) or "article" not in line or "quantity" not in line:
            raise InvalidValueError(f"{path}: line {n} needs an article and a quantity")
        given_options = line.get("options") or []
        if not isinstance(given_options, list) or not all(
            isinstance(o, dict) and "option" in o for o in given_options
        ):
            raise InvalidValueError(
                f'{path}: line {n}: "options" must be a list of {{"option": ...}}'
            )
        options = [
            OrderOption(option=o["option"], quantity=json_number(o.get("quantity", 1)))
            for o in given_options
        ]
        price = line.get("unit_price")
        lines.append(
            OrderLine(
                article=line["article"],
                quantity=json_number(line["quantity"]),
                unit_price=json_number(price),
                note=line.get("note"),
                options=options,
            )
        )
    if not isinstance(data.get("reference"), str) or not data["reference"]:
        raise InvalidValueError(
            f'{path}: no "reference": give the order one of your own (e.g. "webshop-10045"); '
            "running the command again with it finds this order instead of placing another"
        )
    return Order(
        sales_point=data.get("sales_point", ""),
        lines=lines,
        reference=data["reference"],
        table=data.get("table"),
        note=data.get("note"),
    )


async def _follow(handle: JobHandle, timeout: float | None) -> int:
    """Wait with a live status line; print the outcome; the exit code says how it ended."""
    stream = sys.stderr
    live = stream.isatty()

    def show(status: object) -> None:
        line = f"{handle.kind} job {handle.id}: {status}"
        print(f"\r{line:<70}" if live else line, end="" if live else "\n", file=stream)
        stream.flush()

    watcher = asyncio.create_task(watch_status(handle, show, asyncio.sleep, interval=0.1))
    try:
        job = await handle.wait(timeout=timeout)
    except JobFailedError as exc:
        failed = exc.job
        code = failed.error.code if failed.error else None
        detail = failed.error.detail if failed.error else None
        print(
            f"{'' if not live else chr(10)}job {failed.id} {failed.status}: {code}: {detail}",
            file=stream,
        )
        return EXIT_CODES["job_failed"]
    except JobTimeoutError:
        print(
            f"{chr(10) if live else ''}still {handle.status} after {timeout} s; resume with: "
            f"bessa job wait {shlex.quote(handle.to_token())}",
            file=stream,
        )
        return EXIT_CODES["timeout"]
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    if live:
        print(file=stream)
    print(json.dumps(to_dict(job), ensure_ascii=False, indent=2))
    return EXIT_CODES["ok"]


def _order_key(reference: str) -> str:
    """The ``Idempotency-Key`` an order's reference stands for (as the FastAPI example makes it):
    the same reference, the same key, so submitting the same file again answers the first job."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, reference))


async def _order_submit(args: argparse.Namespace) -> int:
    order = await asyncio.to_thread(_read_order, args.file)
    assert order.reference is not None  # _read_order requires one
    key = args.idempotency_key or _order_key(order.reference)
    async with _client(args) as client:
        try:
            handle = await client.orders.submit(order, idempotency_key=key)
        except ConflictError:
            ref = order.reference
            what = "--idempotency-key" if args.idempotency_key else f"reference {ref!r}"
            print(
                f"error: an order with this {what} was submitted before with a different "
                "body; the API refused this one, so no second order was placed. To place it "
                "as a new order, give it a new reference; to see the first: "
                f"bessa get requests/orders/ --param {shlex.quote(f'reference={ref}')}",
                file=sys.stderr,
            )
            return EXIT_CODES["validation"]
        print(f"submitted order job {handle.id} ({handle.status})", file=sys.stderr)
        print(f"resume with: bessa job wait {shlex.quote(handle.to_token())}", file=sys.stderr)
        if not args.wait:
            print(json.dumps({"id": str(handle.id), "token": handle.to_token()}))
            return EXIT_CODES["ok"]
        return await _follow(handle, args.timeout)


async def _job_wait(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        if parse_uuid(args.job) is None:
            handle = client.jobs.resume(args.job)
        else:
            handle = (client.payments if args.kind == "payment" else client.orders).job(args.job)
        return await _follow(handle, args.timeout)


def _excel_problem(args: argparse.Namespace) -> str | None:
    """Why ``--excel`` cannot go with the other options given, or None."""
    if not args.excel:
        return None
    if args.format != "csv":
        return f"argument --excel: only for --format csv, not {args.format}"
    if getattr(args, "delimiter", None) is not None:
        return f"argument --excel: not allowed with --delimiter (it uses {EXCEL_DELIMITER!r})"
    return None


def _output_problem(output: str | None) -> str | None:
    """Why ``--output`` cannot be written, or None (stdout, or a file in a directory)."""
    return None if output in (None, "-") else accepts.file_problem("--output", output)


def _check_report(args: argparse.Namespace) -> str | None:
    if args.format is None:
        args.format = "csv" if args.excel else "table"
    return (
        accepts.day_range(args.day, args.to) or _excel_problem(args) or _output_problem(args.output)
    )


def _check_export(args: argparse.Namespace) -> str | None:
    if args.last is not None and args.to is not None:
        return "argument --to: not allowed with --last (--last N ends with yesterday)"
    if args.day is not None and (problem := accepts.day_range(args.day, args.to)):
        return problem
    if args.delimiter is not None and args.format != "csv":
        return f"argument --delimiter: only for --format csv, not {args.format}"
    if args.layout != "receipts" and args.format != "csv":
        return f"argument --layout: only for --format csv, not {args.format}"
    if args.layout != "receipts" and args.what != "receipts":
        return f"argument --layout: only for receipts, not {args.what}"
    if problem := _excel_problem(args):
        return problem
    if args.output in (None, "-") or (problem := _output_problem(args.output)):
        return problem
    part = args.output + PART_SUFFIX
    special = os.path.exists(args.output) and not os.path.isfile(args.output)
    if args.resume is not None and not special and not os.path.exists(part):
        return f"argument --resume: no {part!r} to go on with (the stopped export's partial file)"
    return None


# --- the parser --------------------------------------------------------------------------------


class _ColumnsAction(argparse.Action):
    """``--columns``: print the column list and exit, as ``--help`` does."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(_COLUMNS_HELP)
        parser.exit()


_COLUMNS_HELP: Final = (
    f"CSV columns (one row per receipt, the default):\n{columns_text('receipts')}\n\n"
    f"CSV columns with --layout lines (one row per receipt line):\n{columns_text('lines')}\n\n"
    f"CSV columns of closings (one row per closing):\n{columns_text(CLOSING_COLUMNS)}"
)


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
        f"\n\n{_COLUMNS_HELP}",
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
        action=_ColumnsAction,
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
    export.set_defaults(run=_export, sync=True, check=_check_export)

    sync = command("sync", sync_cli.HELP, sync_cli.EXAMPLE)
    sync.description = sync_cli.DESCRIPTION
    sync_cli.add_options(sync)
    sync.set_defaults(
        run=functools.partial(sync_cli.sync, client=_client), sync=True, check=sync_cli.check
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
    report.set_defaults(run=_report, check=_check_report)

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
    order.set_defaults(run=_order_submit)

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
    job.set_defaults(run=_job_wait)
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
