"""``bessa mirror``: the tenant's resources copied into a database by dlt (the ``dlt`` extra).

Each run loads what changed since the last one; the checkpoints are kept in the destination
with the rows (see :mod:`bessa_async.dlt`). The default destination is a DuckDB file in the
current directory, named after the pipeline: nothing to install or start.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
import textwrap
from typing import TYPE_CHECKING, Final

from .._base.errors import BessaError
from .._registry import SYNCABLE
from . import arguments as _arguments
from .exits import EXIT_CODES

if TYPE_CHECKING:
    from ..dlt import MirrorWatch, Watched

__all__ = ["DESCRIPTION", "EXAMPLE", "HELP", "add_options", "check", "mirror"]

HELP: Final = "copy the tenant into a database (DuckDB by default) with dlt, changes only"
DESCRIPTION: Final = textwrap.fill(
    "Copy RESOURCE (default: every resource with a changes feed) into a database with dlt: "
    "tables made for you, receipt lines in a table of their own, each run merged on the "
    "items' keys, the checkpoints kept in the database with the rows. Run it again and it "
    "loads only what changed. Needs the dlt extra: pip install 'bessa-async[dlt]'.",
    width=79,
)
EXAMPLE: Final = (
    "bessa --sandbox mirror receipts articles   # then: duckdb bessa_mirror.duckdb\n"
    "         (or --destination postgres, with dlt's credentials in the environment)"
)
DEFAULT_PIPELINE: Final = "bessa_mirror"
DEFAULT_DATASET: Final = "bessa"


def add_options(parser: argparse.ArgumentParser) -> None:
    """Declare ``bessa mirror``'s arguments on its subparser."""
    parser.add_argument(
        "resources",
        nargs="*",
        type=_arguments.resource_name,
        choices=sorted(SYNCABLE),
        metavar="RESOURCE",
        help=f"what to copy (default: all): {', '.join(SYNCABLE)}",
    )
    parser.add_argument(
        "--destination",
        default="duckdb",
        type=_arguments.destination,
        help="a dlt destination: duckdb (default, a file here), postgres, bigquery, ... "
        "(credentials as dlt reads them, e.g. DESTINATION__POSTGRES__CREDENTIALS)",
    )
    parser.add_argument(
        "--pipeline",
        default=DEFAULT_PIPELINE,
        type=_arguments.name_in_database,
        help=f"the dlt pipeline's name, one per tenant (default {DEFAULT_PIPELINE}; the DuckDB "
        "file is named after it)",
    )
    parser.add_argument(
        "--dataset",
        default=DEFAULT_DATASET,
        type=_arguments.name_in_database,
        help=f"the dataset (a schema in PostgreSQL) of the copy (default {DEFAULT_DATASET})",
    )
    parser.add_argument(
        "--reconcile",
        action="store_true",
        help="also list each resource whole and remove the rows the API removed outright",
    )
    parser.add_argument(
        "--hard-delete",
        action="store_true",
        help="remove rows the API flags deleted instead of keeping them with 'deleted' set",
    )


def check(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments (a usage error before anything runs), or None."""
    if importlib.util.find_spec("dlt") is None:
        return "bessa mirror needs dlt: pip install 'bessa-async[dlt]'"
    if args.pipeline == args.dataset and args.destination == "duckdb":
        return (
            "argument --dataset: DuckDB names its file after the pipeline, so the dataset "
            f"needs another name than {args.pipeline!r}"
        )
    return None


def _load(
    args: argparse.Namespace, token: str | None, base_url: str | None, watch: MirrorWatch
) -> None:
    """One dlt run (blocking: dlt runs its own loop); ``watch`` fills as it goes."""
    import dlt

    from ..dlt import bessa_source

    pipeline = dlt.pipeline(args.pipeline, destination=args.destination, dataset_name=args.dataset)
    source = bessa_source(
        token,
        base_url,
        resources=args.resources or None,
        reconcile=args.reconcile,
        hard_delete=args.hard_delete,
        watch=watch,
    )
    pipeline.run(source)


def summary_line(name: str, watched: Watched) -> str:
    """``receipts: 40 new, 0 changed, 0 deleted; 3 requests, 0 retries, ...``. Pure."""
    stats = watched.stats
    deleted = stats.deleted + watched.removed
    return (
        f"{name}: {stats.new} new, {stats.changed} changed, {deleted} deleted; "
        f"{watched.tally.summary(watched.seconds)}"
    )


def _cause(exc: BaseException) -> BessaError | None:
    """The library's error behind a dlt step's failure, if one is."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, BessaError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


async def mirror(args: argparse.Namespace) -> int:
    """Run ``bessa mirror``; a summary line per resource on stdout."""
    token, base_url = args.token, args.base_url
    if args.sandbox:
        from bessa_async.testing import Sandbox

        async with Sandbox(receipts=args.sandbox_receipts) as sandbox:
            print(f"(in-process sandbox at {sandbox.url})", file=sys.stderr)
            return await _run(args, token or sandbox.token, sandbox.url)
    return await _run(args, token, base_url)


async def _run(args: argparse.Namespace, token: str | None, base_url: str | None) -> int:
    from ..dlt import MirrorWatch

    watch = MirrorWatch()
    load = asyncio.ensure_future(asyncio.to_thread(_load, args, token, base_url, watch))
    try:
        try:
            await asyncio.shield(load)
        except asyncio.CancelledError:
            # Ctrl-C or SIGTERM: dlt's thread cannot be cancelled; it ends the resources after
            # the batch in flight and loads what it extracted, checkpoints with the rows.
            watch.stop.set()
            await asyncio.wait([load])
            if (failed := load.exception()) is not None:
                print(f"error: {type(failed).__name__}: {failed}", file=sys.stderr)
            else:
                _summarize(args, watch)
            print(
                "the copy holds every batch loaded; run the same command to go on",
                file=sys.stderr,
            )
            raise
    except Exception as exc:
        cause = _cause(exc)
        if cause is not None:
            raise cause from None  # the command's own message and exit code
        print(f"error: the load failed ({type(exc).__name__}): {exc}", file=sys.stderr)
        return EXIT_CODES["error"]
    _summarize(args, watch)
    return 0


def _summarize(args: argparse.Namespace, watch: MirrorWatch) -> None:
    for name in args.resources or SYNCABLE:
        if name in watch.resources:
            print(summary_line(name, watch.of(name)))
