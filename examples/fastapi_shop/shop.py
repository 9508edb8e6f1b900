"""A web shop's backend that sends each order to the restaurant's till through bessa_async.

Run it against the bundled sandbox (``bessa sandbox`` prints a URL and a token)::

    BESSA_TOKEN=... BESSA_BASE_URL=http://127.0.0.1:8765/v1/public/ \\
        uvicorn examples.fastapi_shop.shop:app

``POST /orders`` submits an order and waits briefly for the till: ``201`` with the open order
once it completed, ``202`` with a token while the till has not answered (an offline food truck),
``409`` with the till's failure code, ``502`` when the API could not be reached.
``GET /orders/pending?token=...`` asks again for such an order.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bessa_async import (
    APIError,
    BessaClient,
    InputError,
    JobFailedError,
    JobHandle,
    JobTimeoutError,
    Order,
    OrderLine,
    OrderOutcome,
    SubmissionOutcomeUnknownError,
    TransportError,
)

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
        submission = Order(
            sales_point=order.sales_point,
            lines=[OrderLine(article=line.article, quantity=line.quantity) for line in order.lines],
            reference=order.reference,
        )
        try:
            # The reference doubles as the idempotency key: a client retrying this request
            # reaches the same job, never a second order on the till.
            handle = await bessa(request).orders.submit(
                submission, idempotency_key=uuid.uuid5(uuid.NAMESPACE_URL, order.reference)
            )
        except SubmissionOutcomeUnknownError as exc:
            raise HTTPException(502, f"unknown outcome, retry later ({exc.reference})") from exc
        except (TransportError, APIError) as exc:
            raise HTTPException(502, f"the till's API is unavailable: {exc}") from exc
        return await _answer(handle)

    @app.get("/orders/pending")
    async def pending_order(token: str, request: Request) -> JSONResponse:
        try:
            handle = bessa(request).jobs.resume(token)
        except InputError as exc:
            raise HTTPException(400, str(exc)) from exc
        return await _answer(handle)

    return app


async def _answer(handle: JobHandle) -> JSONResponse:
    try:
        job = await handle.wait(timeout=WAIT_SECONDS)
    except JobTimeoutError:
        return JSONResponse({"status": "waiting", "token": handle.to_token()}, status_code=202)
    except JobFailedError as exc:
        return JSONResponse({"status": "failed", "code": exc.code, "detail": exc.detail}, 409)
    except (TransportError, APIError) as exc:
        raise HTTPException(502, f"the till's API is unavailable: {exc}") from exc
    outcome = job.outcome
    assert isinstance(outcome, OrderOutcome)  # an order job completes with an open order
    return JSONResponse({"status": "completed", "order": str(outcome.order)}, status_code=201)


app = create_app()
