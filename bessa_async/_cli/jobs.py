"""``bessa order submit`` and ``bessa job wait``: an order file checked and sent once, a job
followed to its end."""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import uuid

from bessa_async import (
    ConflictError,
    InvalidTypeError,
    InvalidValueError,
    JobFailedError,
    JobHandle,
    JobTimeoutError,
    Order,
    OrderLine,
    OrderOption,
    to_dict,
)

from .._base.jsontext import parse_json
from .._base.validate import json_number, parse_uuid
from .client import command_client
from .exits import EXIT_CODES
from .status import watch_status


def read_order(path: str) -> Order:
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


async def follow(handle: JobHandle, timeout: float | None) -> int:
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


async def order_submit(args: argparse.Namespace) -> int:
    order = await asyncio.to_thread(read_order, args.file)
    assert order.reference is not None  # read_order requires one
    key = args.idempotency_key or _order_key(order.reference)
    async with command_client(args) as client:
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
        return await follow(handle, args.timeout)


async def job_wait(args: argparse.Namespace) -> int:
    async with command_client(args) as client:
        if parse_uuid(args.job) is None:
            handle = client.jobs.resume(args.job)
        else:
            handle = (client.payments if args.kind == "payment" else client.orders).job(args.job)
        return await follow(handle, args.timeout)
