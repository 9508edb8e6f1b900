"""``bessa export``: receipts or closings of a range of business days to CSV or JSON lines,
written whole or not at all, resumable after a stop."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import IO, Final

from bessa_async import (
    BessaError,
    business_days,
)

from ..export import (
    CLOSING_COLUMNS,
    EXCEL_DELIMITER,
    business_day_of,
    columns_text,
    header_text,
    page_text,
)
from ..hooks import RequestTally
from . import arguments as accepts
from .client import command_client
from .files import PART_SUFFIX, AtomicFile
from .progress import Progress
from .signals import run_until_signal


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


def export_command(args: argparse.Namespace) -> int:
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
    async with command_client(args, requests) as client:
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


def excel_problem(args: argparse.Namespace) -> str | None:
    """Why ``--excel`` cannot go with the other options given, or None."""
    if not args.excel:
        return None
    if args.format != "csv":
        return f"argument --excel: only for --format csv, not {args.format}"
    if getattr(args, "delimiter", None) is not None:
        return f"argument --excel: not allowed with --delimiter (it uses {EXCEL_DELIMITER!r})"
    return None


def output_problem(output: str | None) -> str | None:
    """Why ``--output`` cannot be written, or None (stdout, or a file in a directory)."""
    return None if output in (None, "-") else accepts.file_problem("--output", output)


def check_export(args: argparse.Namespace) -> str | None:
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
    if problem := excel_problem(args):
        return problem
    if args.output in (None, "-") or (problem := output_problem(args.output)):
        return problem
    part = args.output + PART_SUFFIX
    special = os.path.exists(args.output) and not os.path.isfile(args.output)
    if args.resume is not None and not special and not os.path.exists(part):
        return f"argument --resume: no {part!r} to go on with (the stopped export's partial file)"
    return None


class ColumnsAction(argparse.Action):
    """``--columns``: print the column list and exit, as ``--help`` does."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(COLUMNS_HELP)
        parser.exit()


COLUMNS_HELP: Final = (
    f"CSV columns (one row per receipt, the default):\n{columns_text('receipts')}\n\n"
    f"CSV columns with --layout lines (one row per receipt line):\n{columns_text('lines')}\n\n"
    f"CSV columns of closings (one row per closing):\n{columns_text(CLOSING_COLUMNS)}"
)
