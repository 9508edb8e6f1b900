"""``bessa sync``: append what changed since the last run to a JSON-lines file, resumably.

Each batch of the resource's changes feed is appended to ``--output`` (one API item per line,
unknown fields kept; a soft-deleted item carries its ``deleted`` timestamp), flushed and
fsynced; only then is ``--state`` replaced by the batch's checkpoint, with the output's path and
size at that moment (a temporary file, fsynced, renamed). A run stopped at any point (an error,
Ctrl-C, SIGTERM, SIGKILL, a power cut) and started again therefore loses nothing and repeats at
most the lines of the one batch whose state it had not saved. Ctrl-C and SIGTERM let the batch
being saved finish first, so they repeat nothing. A line torn by a kill is cut off the output
before the next run appends, and only that: bytes after the size the state recorded for this
output, so a file the command did not write keeps every line. A run holds locks on the output
and on the state (``STATE.lock``, kept beside it) while it lasts.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import stat
import sys
import textwrap
import time
import typing
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import IO, Any, Final, TypeVar

from bessa_async import BessaClient, Resource, ResumeTokenError, to_dict
from bessa_async.hooks import RequestTally

from .._base.jsontext import parse_json, version_of
from .._registry import SYNCABLE, change_filters
from . import arguments as accepts
from .files import AtomicFile
from .progress import Progress
from .signals import run_until_signal

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DESCRIPTION",
    "EXAMPLE",
    "HELP",
    "add_options",
    "check",
    "sync",
]

T = TypeVar("T")
ClientFactory = Callable[
    [argparse.Namespace, RequestTally | None], AbstractAsyncContextManager[BessaClient]
]

HELP: Final = "append what changed since the last run to a JSON-lines file (resumable)"
DESCRIPTION: Final = textwrap.fill(
    "Append the items of RESOURCE that are new or changed since the last run to --output, one "
    "API item per JSON line (a soft-deleted item keeps its 'deleted' timestamp). After each "
    "batch the lines are fsynced, then --state is replaced atomically: a run stopped at any "
    "point, even killed, and run again loses nothing and writes at most the lines of one batch "
    "twice (none after Ctrl-C or SIGTERM, which let the batch being saved finish). A tenant "
    "that did not change costs one request.",
    width=79,
)
DEFAULT_CONCURRENCY: Final = 1
"""One chain: a probe and a part-filled page per extra chain cost requests, and a run after a
day's changes is a few pages; raise it for a large first load over a slow link."""
EXAMPLE: Final = (
    "bessa sync receipts --state receipts.state.json --output receipts.jsonl\n"
    "         (run it again, e.g. from cron: it appends only what is new or changed)"
)
_BOOLEANS: Final = {"true": True, "false": False}
STATE_KIND: Final = "bessa.sync"
STATE_VERSION: Final = 1
LOCK_SUFFIX: Final = ".lock"
"""The state's lock file: the state itself is replaced by a rename, so a lock on it would not
hold across a save."""


def _is_boolean(cls: type[Resource[Any]], name: str) -> bool:
    listing: Callable[..., object] = getattr(cls, "list")  # noqa: B009 - not on the base class
    annotation = inspect.signature(listing).parameters[name].annotation
    return bool in typing.get_args(annotation)


def add_options(parser: argparse.ArgumentParser) -> None:
    """Declare ``bessa sync``'s arguments on its subparser."""
    parser.add_argument(
        "resource",
        type=lambda text: text.replace("-", "_"),
        choices=sorted(SYNCABLE),
        metavar="RESOURCE",
        help=f"what to follow: {', '.join(SYNCABLE)}",
    )
    parser.add_argument(
        "--state",
        required=True,
        help="where the run keeps its place (a checkpoint, replaced atomically after each "
        "batch); absent: a full first load. One state file per resource and filter set",
    )
    parser.add_argument(
        "--output",
        required=True,
        help="JSON-lines file the new and changed items are appended to, one API item a line",
    )
    parser.add_argument(
        "--since",
        type=accepts.aware_moment,
        help="with no state file yet: start from items updated at or after this moment "
        "(ISO 8601 with offset) instead of a full load",
    )
    parser.add_argument(
        "--filter",
        type=accepts.param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one of the resource's own filters, e.g. sales_point=<uuid> (repeatable)",
    )
    parser.add_argument(
        "--concurrency",
        type=accepts.positive_int,
        default=DEFAULT_CONCURRENCY,
        help=f"concurrent cursor chains (default {DEFAULT_CONCURRENCY}; more for a large first "
        "load of receipts or closings over a slow link)",
    )
    parser.add_argument("--limit", type=accepts.positive_int, default=100, help="page size")


def check(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments (a usage error before anything runs), or None; sets
    ``args.filters``, the ``--filter`` pairs as ``changes()`` takes them."""
    cls = SYNCABLE[args.resource]
    allowed = change_filters(cls.name)
    filters: dict[str, object] = {}
    for name, value in args.filter:
        if name not in allowed:
            takes = ", ".join(sorted(allowed)) or "none"
            return f"argument --filter: {args.resource} has no filter {name!r} (it takes: {takes})"
        if name in filters:
            return f"argument --filter: {name} is given twice"
        if _is_boolean(cls, name):
            if value.lower() not in _BOOLEANS:
                return f"argument --filter: {name} takes true or false, got {value!r}"
            filters[name] = _BOOLEANS[value.lower()]
        else:
            filters[name] = value
    args.filters = filters
    for option, path in (("--output", args.output), ("--state", args.state)):
        if problem := accepts.file_problem(option, path):
            return problem
    if os.path.abspath(args.state) == os.path.abspath(args.output):
        return "argument --state: it must not be the --output file"
    if args.since is not None and os.path.exists(args.state):
        return (
            f"argument --since: {args.state!r} already says where to go on; --since is for a "
            "first run only (remove the state file to start again from --since)"
        )
    return None


# --- the files (blocking: called in a worker thread) -------------------------------------------


@typing.final
class _Written:
    """What a state proves this command wrote: ``output`` (an absolute path) was ``size``
    bytes long, every line whole, when the state was saved."""

    __slots__ = ("output", "size")

    def __init__(self, output: str, size: int) -> None:
        self.output = output
        self.size = size


def _state_text(checkpoint: str, written: _Written) -> str:
    body = {
        "v": STATE_VERSION,
        "kind": STATE_KIND,
        "output": written.output,
        "size": written.size,
        "checkpoint": json.loads(checkpoint),
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _read_state(path: str) -> tuple[str, _Written | None] | None:
    """The saved checkpoint and what the state proves was written, or None when there is no
    state file yet. A bare checkpoint (what earlier versions saved) proves nothing written.

    Raises:
        ResumeTokenError: a state file of this command that is not whole.
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None
    try:
        text = raw.decode("utf-8").strip()
        body = parse_json(text)
    except ValueError:  # not text, not JSON: the checkpoint reader says so, in one place
        return raw.decode("utf-8", "replace").strip(), None
    if not isinstance(body, dict) or body.get("kind") != STATE_KIND:
        return text, None
    output, size = body.get("output"), body.get("size")
    if (
        version_of(body) != STATE_VERSION
        or set(body) != {"v", "kind", "output", "size", "checkpoint"}
        or not isinstance(output, str)
        or type(size) is not int
        or size < 0
        or not isinstance(body["checkpoint"], dict)
    ):
        raise ResumeTokenError(
            f"--state {path}: not a whole bessa sync state (version {body.get('v')!r} of "
            f"{STATE_VERSION}, with output, size and checkpoint); remove it only to load "
            "everything again (nothing was sent)"
        )
    return json.dumps(body["checkpoint"], separators=(",", ":")), _Written(output, size)


def _write_state(path: str, checkpoint: str, written: _Written) -> None:
    state = AtomicFile(path)
    with state as handle:
        handle.write(_state_text(checkpoint, written) + "\n")


def _check_state_writable(path: str) -> None:
    """Create and remove the file a save writes first: a state that cannot be saved stops the
    run before anything is sent or appended, instead of after a batch that the next run would
    append again.

    Raises:
        OSError: saying which state cannot be written, and why.
    """
    trial = AtomicFile(path)
    if trial.part is None:  # not a regular file: each save writes it directly, as it is
        return
    try:
        trial.open()
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"--state {path} cannot be saved ({exc.strerror or exc}); nothing was sent or "
            "written: give a state file where this user can create files",
        ) from None
    trial.close()
    os.unlink(trial.part)


def _lock(handle: IO[str], path: str) -> None:
    """Hold an exclusive lock on ``handle`` while the run lasts (released when it closes, or
    when the process dies): two runs on one output would repeat each other's batches, two on
    one state would each take over what the other half saved.

    Raises:
        BlockingIOError: another process holds it.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; one run at a time is up to the user
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise BlockingIOError(
            f"{path} is in use by another bessa sync; let it finish (or stop it) before "
            "starting this one"
        ) from None


def _cut_torn_tail(path: str, written: int) -> int:
    """Cut an incomplete last line off ``path`` (what a kill mid-write leaves), never before
    byte ``written`` (what the state proves whole); the bytes cut.

    Its batch's state was never saved (that comes after the fsync), so the run writes it again.
    """
    try:
        handle = open(path, "rb+")  # noqa: SIM115
    except FileNotFoundError:
        return 0
    with handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return 0
        size = handle.seek(0, os.SEEK_END)
        end = size
        while end > written:
            start = max(written, end - 65536)
            handle.seek(start)
            newline = handle.read(end - start).rfind(b"\n")
            if newline != -1:
                end = start + newline + 1
                break
            end = start
        if end >= size:
            return 0
        handle.truncate(end)
        handle.flush()
        os.fsync(handle.fileno())
        return size - end


def _ends_mid_line(path: str) -> bool:
    """Whether the regular file ``path`` ends without a newline."""
    try:
        handle = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return False
    with handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return False
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return False
        handle.seek(size - 1)
        return handle.read(1) != b"\n"


class _Run:
    """One ``bessa sync`` run: what it has saved so far, for the summary and the note if it
    stops."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.output = os.path.abspath(args.output)
        self.batches = 0
        self.items = 0
        self.unsaved = False
        """Lines of a batch are being written and its state is not saved yet."""
        self.saved: str | None = None
        """The checkpoint in the state file (as this run last wrote or read it)."""
        self.written: _Written | None = None
        """What the state file proves this command wrote to the output."""
        self.opened = False
        self._durable = False
        self._separate = False
        """The output ends mid-line (a file this command did not write that far): the first
        line appended starts on a new line."""
        self._lock: IO[str] | None = None

    def lock_state(self) -> None:
        """Lock the state (its lock file) and read it: one run at a time goes on from it."""
        path = self.args.state + LOCK_SUFFIX
        lock = open(path, "a", encoding="utf-8")  # noqa: SIM115
        try:
            _lock(lock, self.args.state)
            read = _read_state(self.args.state)
            _check_state_writable(self.args.state)
        except BaseException:
            lock.close()
            raise
        self._lock = lock
        if read is not None:
            self.saved, self.written = read

    def unlock_state(self) -> None:
        if self._lock is not None:
            self._lock.close()

    def open_output(self) -> IO[str]:
        """The output, locked against a second ``bessa sync`` writing it; a torn tail cut only
        where the state proves what came before it whole."""
        path = self.args.output
        if self.saved is not None and not os.path.exists(path):
            print(
                f"note: {path} does not exist but {self.args.state} does: only what changed "
                "after that state is written; remove the state file for a full load",
                file=sys.stderr,
            )
        output = open(path, "a", encoding="utf-8", newline="")  # noqa: SIM115
        try:
            _lock(output, path)
            # Only now: a run that holds the lock may be mid-line.
            written = self.written
            proven = written is not None and written.output == self.output
            if proven and written is not None and (cut := _cut_torn_tail(path, written.size)):
                print(
                    f"cut an incomplete last line ({cut} bytes) off {path}: the run that wrote "
                    "it stopped before saving its state; this run writes it again",
                    file=sys.stderr,
                )
            if _ends_mid_line(path):
                self._separate = True
                print(
                    f"note: {path} ends without a newline, and {self.args.state} does not show "
                    "this command wrote that line: it is kept, and this run starts on a new line",
                    file=sys.stderr,
                )
            self._durable = stat.S_ISREG(os.fstat(output.fileno()).st_mode)
        except BaseException:
            output.close()
            raise
        self.opened = True
        return output

    def save(self, output: IO[str], text: str, checkpoint: str, items: int) -> None:
        """Append a batch's lines durably, then replace the state with its checkpoint."""
        self.unsaved = True
        if self._separate and text:
            text = "\n" + text
            self._separate = False
        output.write(text)
        output.flush()
        if self._durable:
            os.fsync(output.fileno())
        self.save_state(output, checkpoint)
        self.unsaved = False
        self.batches += 1
        self.items += items

    def save_state(self, output: IO[str], checkpoint: str) -> None:
        """Replace the state: the checkpoint, and the output's size now (all of it whole)."""
        written = _Written(self.output, os.fstat(output.fileno()).st_size)
        _write_state(self.args.state, checkpoint, written)
        self.saved, self.written = checkpoint, written

    def where(self) -> str:
        """Where the files stand after a stop, and how to go on: the one place that says it."""
        args = self.args
        if self.batches:
            batches = "1 batch" if self.batches == 1 else f"{self.batches} batches"
            place = (
                f"{args.state} stands after the {self.items} items of the {batches} "
                f"this run appended to {args.output}"
            )
        else:
            place = f"{args.state} and {args.output} are as the last run left them"
        if self.unsaved:
            place += "; the lines of the batch being saved may appear twice after the next run"
        return f"{place}; run the same command to go on"


async def _whole(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even when cancelled (Ctrl-C): a batch is saved whole, its
    state included, and only then does the run stop."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


async def _close(iterator: object) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


async def _run(run: _Run, client_factory: ClientFactory) -> int:
    began = time.perf_counter()
    await asyncio.to_thread(run.lock_state)
    try:
        return await _locked(run, client_factory, began)
    finally:
        await asyncio.to_thread(run.unlock_state)


async def _locked(run: _Run, client_factory: ClientFactory, began: float) -> int:
    args = run.args
    since: str | datetime | None = run.saved if run.saved is not None else args.since
    requests = RequestTally()
    async with client_factory(args, requests) as client:
        resource: Resource[Any] = getattr(client, args.resource)
        try:
            feed = resource.changes(
                since, limit=args.limit, concurrency=args.concurrency, **args.filters
            )
        except ResumeTokenError as exc:
            raise ResumeTokenError(
                f"--state {args.state}: {exc}. Give each resource and filter set a state file "
                "of its own; remove this one only to load everything again"
            ) from None
        output = await asyncio.to_thread(run.open_output)
        batches = feed.__aiter__()
        try:
            with Progress(args.resource, None, sys.stderr) as progress:
                async for batch in batches:
                    text = "".join(_json_line(to_dict(item)) for item in batch.items)
                    save = asyncio.to_thread(
                        run.save, output, text, batch.checkpoint, len(batch.items)
                    )
                    await _whole(save)
                    progress.advance(len(batch.items))
            if feed.checkpoint != run.saved:  # the pass ended: its start is the next watermark
                await _whole(asyncio.to_thread(run.save_state, output, feed.checkpoint))
        finally:
            await _close(batches)
            await asyncio.to_thread(output.close)
    stats = feed.stats
    print(
        f"synced {args.resource} to {args.output}: {stats.new} new, {stats.changed} changed, "
        f"{stats.deleted} deleted; {requests.summary(time.perf_counter() - began)}",
        file=sys.stderr,
    )
    return 0


def _json_line(item: Mapping[str, Any]) -> str:
    """One output line: the item as the API shaped it (``deleted`` set on a soft delete)."""
    return json.dumps(item, ensure_ascii=False) + "\n"


def sync(args: argparse.Namespace, *, client: ClientFactory) -> int:
    """Run ``bessa sync`` to its end or to a signal; a stop after the output was opened gets a
    note saying where it left the files."""
    run = _Run(args)
    try:
        return run_until_signal(_run(run, client))
    except BaseException as exc:
        if run.opened:
            exc.add_note(run.where())
        raise
