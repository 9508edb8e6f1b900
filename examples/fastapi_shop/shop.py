"""A web shop's backend that sends each order to the restaurant's till through bessa_async.

Run it against the bundled sandbox (``bessa sandbox`` prints a URL and a token)::

    BESSA_TOKEN=... BESSA_BASE_URL=http://127.0.0.1:8765/v1/public/ \\
        uvicorn examples.fastapi_shop.shop:app

``POST /orders`` submits an order and waits briefly for the till: ``201`` with the open order
once it completed, ``202`` with a token while the till has not answered (an offline food truck),
``409`` with the till's failure code. ``GET /orders/pending?token=...`` asks again for such an
order. Errors follow :func:`refusal`: ``422`` with field errors for bad input (the library's
checks or the API's 400), ``409`` for a reference already used with another basket, ``502``
only when the API is down and ``503`` (with ``Retry-After``) while it keeps throttling.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bessa_async import (
    BadRequestError,
    BessaClient,
    BessaError,
    ConflictError,
    InputError,
    JobFailedError,
    JobHandle,
    JobTimeoutError,
    Order,
    OrderLine,
    OrderOutcome,
    RateLimitError,
    ServerError,
    SubmissionOutcomeUnknownError,
    TransportError,
    ValidationError,
)

log = logging.getLogger(__name__)

WAIT_SECONDS = 10.0
"""How long a request waits for the till before it answers 202 with a token."""


class LineIn(BaseModel):
    article: uuid.UUID
    quantity: Decimal


class OrderIn(BaseModel):
    reference: str
    """The shop's own order number: unique per order, it makes a retried request safe."""
    sales_point: uuid.UUID
    lines: list[LineIn]


def create_app(client: BessaClient | None = None) -> FastAPI:
    """The shop. Without ``client`` the app opens one per process from ``BESSA_TOKEN``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if client is not None:
            app.state.bessa = client
            yield
            return
        async with BessaClient() as own:  # BESSA_TOKEN and BESSA_BASE_URL from the environment
            app.state.bessa = own
            yield

    app = FastAPI(lifespan=lifespan)

    def bessa(request: Request) -> BessaClient:
        found = request.app.state.bessa
        assert isinstance(found, BessaClient)
        return found

    @app.post("/orders", status_code=201)
    async def place_order(order: OrderIn, request: Request) -> JSONResponse:
        try:
            submission = _submission(order)
            # The reference doubles as the idempotency key: a client retrying this request
            # reaches the same job, never a second order on the till.
            handle = await bessa(request).orders.submit(
                submission, idempotency_key=uuid.uuid5(uuid.NAMESPACE_URL, order.reference)
            )
        except BessaError as exc:
            raise refusal(exc) from exc
        return await _answer(handle)

    @app.get("/orders/pending")
    async def pending_order(token: str, request: Request) -> JSONResponse:
        try:
            handle = bessa(request).jobs.resume(token)
        except BessaError as exc:
            raise refusal(exc, at=("query", "token")) from exc
        return await _answer(handle)

    return app


def _submission(order: OrderIn) -> Order:
    """The order as the library takes it; its checks refuse bad input before anything is sent,
    each line's refusal located at that line."""
    lines, errors = [], []
    for index, line in enumerate(order.lines):
        try:
            lines.append(OrderLine(article=line.article, quantity=line.quantity))
        except InputError as exc:
            errors.append(_field(("body", "lines", index), str(exc)))
    if errors:
        raise RequestValidationError(errors)
    return Order(sales_point=order.sales_point, lines=lines, reference=order.reference)


def refusal(exc: BessaError, *, at: tuple[str | int, ...] = ("body",)) -> Exception:
    """The HTTP answer for an error of bessa_async, raised by the routes: the one place the
    error tree meets HTTP. Input the library or the API refused is the caller's to fix (422,
    FastAPI's own shape, ``at`` locating what the library refused); a reference already used
    for another basket is a conflict (409); only an API that is down (502) or keeps throttling
    (503) is the API's. Anything else (a refused token, an answer the library cannot read) is
    this shop's fault: a 500, logged."""
    if isinstance(exc, InputError):
        return RequestValidationError([_field(at, str(exc))])
    if isinstance(exc, ValidationError):
        errors = [_field(("body", *loc), message) for loc, message in _flat(exc.errors, ())]
        errors += [_field(("body",), message) for message in exc.non_field_errors]
        return RequestValidationError(errors or [_field(("body",), exc.detail)])
    if isinstance(exc, BadRequestError):
        return RequestValidationError([_field(("body",), exc.detail)])
    if isinstance(exc, ConflictError):
        return HTTPException(
            409, "this reference was already used for another basket: send a new reference"
        )
    if isinstance(exc, RateLimitError):
        wait = str(int(exc.retry_after or 1))
        return HTTPException(503, "the till's API is busy, retry later", {"Retry-After": wait})
    if isinstance(exc, SubmissionOutcomeUnknownError):  # the same reference is safe to resend
        return HTTPException(502, f"the till's API is unavailable: send {exc.reference!r} again")
    if isinstance(exc, TransportError | ServerError):
        return HTTPException(502, "the till's API is unavailable, retry later")
    log.error("the till's API refused the shop: %s", exc)
    return HTTPException(500, "the shop cannot reach the till's API; see its log")


def _field(loc: tuple[str | int, ...], message: str) -> dict[str, Any]:
    return {"type": "value_error", "loc": loc, "msg": message}


def _flat(node: object, loc: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """DRF's field errors as (location, message): nested objects, one entry per list item."""
    if isinstance(node, Mapping):
        for name, inner in node.items():
            yield from _flat(inner, (*loc, str(name)))
    elif isinstance(node, Sequence) and not isinstance(node, str):
        if all(isinstance(item, str) for item in node):
            yield from ((loc, item) for item in node)
        else:
            for index, item in enumerate(node):
                yield from _flat(item, (*loc, index))
    else:
        yield loc, str(node)


async def _answer(handle: JobHandle) -> JSONResponse:
    try:
        job = await handle.wait(timeout=WAIT_SECONDS)
    except JobTimeoutError:
        return JSONResponse({"status": "waiting", "token": handle.to_token()}, status_code=202)
    except JobFailedError as exc:
        return JSONResponse({"status": "failed", "code": exc.code, "detail": exc.detail}, 409)
    except BessaError as exc:
        raise refusal(exc) from exc
    outcome = job.outcome
    assert isinstance(outcome, OrderOutcome)  # an order job completes with an open order
    return JSONResponse({"status": "completed", "order": str(outcome.order)}, status_code=201)


app = create_app()
