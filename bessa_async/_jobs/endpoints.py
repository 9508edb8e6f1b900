"""``client.orders``, ``client.payments`` and ``client.jobs``: what callers submit and wait with."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Final, Unpack, final

from .._base.config import USE_CLIENT_DEFAULT, PollPolicy, TimeoutArg, call_timeout
from .._base.errors import InvalidTypeError
from .._base.options import check_headers
from .._base.validate import check_idempotency_key
from .._listing.filters import CallTimeout, RequestOptions, Window, declare_filters
from .._listing.pagination import Paginator
from .handle import JobHandle, JobTimeoutError
from .manager import JobManager
from .model import Job, JobKind, JobStatus
from .pacing import check_wait_timeout
from .scheduler import PollStats
from .submissions import Order, Payment, new_reference, order_body, payment_body

__all__ = ["Jobs", "OrderJobs", "PaymentJobs"]


class JobFilters(Window, CallTimeout, RequestOptions, total=False):
    """What ``client.orders.list`` and ``client.payments.list`` take."""

    status: JobStatus | str | None
    reference: str | None
    sales_point: uuid.UUID | str | None
    created__gte: datetime | None
    created__lt: datetime | None


class _JobResource:
    name: ClassVar[str]
    default_path: ClassVar[str]
    _kind: JobKind

    def __init__(self, manager: JobManager) -> None:
        self._manager = manager

    @property
    def path(self) -> str:
        """The path relative to the base URL."""
        return self._manager.paths[self._kind]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"

    def job(self, id: uuid.UUID | str) -> JobHandle:  # "id": the API's own word
        """A handle for a job submitted elsewhere (nothing is sent until you wait or refresh).

        Raises:
            InvalidValueError: ``id`` is not a UUID.
        """
        return self._manager.handle(self._kind, id)

    def list(self, **filters: Unpack[JobFilters]) -> Paginator[Job]:
        """The jobs of this kind, least recently changed first, as :class:`Job` (an async iterable
        :class:`~bessa_async.Paginator`); e.g. ``list(status="pending")`` or, to find a
        submission again, ``list(reference="webshop-10045")``. ``timeout`` is each page
        request's deadline (None: none; left out, the client's)."""
        query, options = _FILTERS.split(filters, owner=f"{type(self).__name__}.list")
        return self._manager.listing(
            self._kind,
            query,
            options["extra_headers"],
            timeout=call_timeout(options.get("timeout", USE_CLIENT_DEFAULT)),
        )

    async def _submit(
        self,
        body_of: Callable[[str], dict[str, Any]],
        reference: str | None,
        sales_point: uuid.UUID,
        idempotency_key: str | uuid.UUID | None,
        timeout: TimeoutArg,
        extra_headers: Mapping[str, str] | None,
    ) -> JobHandle:
        key = (
            str(uuid.uuid4()) if idempotency_key is None else check_idempotency_key(idempotency_key)
        )
        where = f"{type(self).__name__}.submit(extra_headers=)"
        headers = check_headers(extra_headers, where=where)
        body = body_of(reference or new_reference(self._kind))
        return await self._manager.submit(
            self._kind,
            body,
            key=key,
            sales_point=sales_point,
            timeout=call_timeout(timeout),
            extra_headers=headers,
        )


def _has_outcome(handle: JobHandle) -> bool:
    """Whether ``handle`` holds its finished job, so ``wait()`` answers without a request (a
    handle resumed from the token of an ended job knows its status only)."""
    return handle.job is not None and handle.job.finished


_FILTERS: Final = declare_filters(
    _JobResource.list, strings=frozenset({"cursor", "reference", "status"})
)


@final
class OrderJobs(_JobResource):
    """``requests/orders/``: submit orders, wait for them, list them."""

    _kind: JobKind = "order"
    name: ClassVar[str] = "orders"
    default_path: ClassVar[str] = "requests/orders/"

    async def submit(
        self,
        order: Order,
        *,
        idempotency_key: str | uuid.UUID | None = None,
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
    ) -> JobHandle:
        """Send an order to its Sales Point as a job; return its handle at once.

        The order goes out exactly once as far as the API can tell: one ``Idempotency-Key`` for
        every attempt, retried only when it provably did not arrive, looked up by ``reference``
        after an ambiguous failure (and sent once more, same key, only if proven absent).

        Args:
            order: what to order.
            idempotency_key: your own key (store it with your order before calling, and a
                retry after a crash cannot duplicate it); a UUID is minted if not given.
            timeout: one deadline for the whole submission (the POST, the lookup by
                reference, the one resend), seconds or a :class:`Timeout`; None for none;
                left out, the client's ``timeout``.
            extra_headers: headers sent with each of those requests; not the library's own
                (``Idempotency-Key`` is ``idempotency_key=``).

        Raises:
            ValidationError: the API refused the body (``errors`` keeps DRF's nested map).
            ConflictError: the key was used before with another body.
            SubmissionOutcomeUnknownError: it may or may not have landed; carries the key and
                reference to look it up later.
            TransportError, APIError: it provably did not land (connection refused, 4xx ...).
        """
        if not isinstance(order, Order):
            raise InvalidTypeError(f"submit() takes an Order, got {type(order).__name__}")
        return await self._submit(
            lambda ref: order_body(order, ref),
            order.reference,
            order.sales_point,
            idempotency_key,
            timeout,
            extra_headers,
        )


@final
class PaymentJobs(_JobResource):
    """``requests/payments/``: submit payments, wait for them, list them."""

    _kind: JobKind = "payment"
    name: ClassVar[str] = "payments"
    default_path: ClassVar[str] = "requests/payments/"

    async def submit(
        self,
        payment: Payment,
        *,
        idempotency_key: str | uuid.UUID | None = None,
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
    ) -> JobHandle:
        """Send a payment to its Sales Point as a job; return its handle at once.

        Same guarantees and errors as :meth:`OrderJobs.submit`. On completion the job's
        ``result.receipt`` and ``result.number`` name the invoice.
        """
        if not isinstance(payment, Payment):
            raise InvalidTypeError(f"submit() takes a Payment, got {type(payment).__name__}")
        return await self._submit(
            lambda ref: payment_body(payment, ref),
            payment.reference,
            payment.sales_point,
            idempotency_key,
            timeout,
            extra_headers,
        )


@final
class Jobs:
    """``client.jobs``: what works on jobs of both kinds."""

    def __init__(self, manager: JobManager) -> None:
        self._manager = manager

    def __repr__(self) -> str:
        return f"<Jobs waiting={self._manager.scheduler.waiting}>"

    @property
    def stats(self) -> PollStats:
        """Counters of this client's poll scheduler."""
        return self._manager.scheduler.stats

    def resume(self, token: str) -> JobHandle:
        """A handle from :meth:`JobHandle.to_token` (in this process or another).

        Raises:
            InvalidValueError: not a token, or one from a newer version of the library.
        """
        return self._manager.resume(token)

    async def as_completed(
        self,
        handles: Iterable[JobHandle],
        *,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
    ) -> AsyncGenerator[JobHandle]:
        """Yield each handle as its job ends (completed, failed, expired or cancelled).

        ``await handle.wait()`` on a yielded handle answers at once: the job, or
        ``JobFailedError``. Leaving the loop early stops the polling for the rest (use
        ``contextlib.aclosing`` to do so promptly).

        Args:
            handles: the jobs to wait for (duplicates are waited for once).
            timeout: one deadline in seconds for all of them, counted from the start of the
                iteration (time spent in the loop's body counts too).
            poll: the poll policy for these waits.

        Raises:
            JobTimeoutError: the deadline passed; ``.handles`` are the unfinished ones.
            APIError: a job cannot be read (e.g. ``NotFoundError``).
        """
        check_wait_timeout(timeout)
        deadline = None if timeout is None else self._manager.clock() + timeout
        unique = list(dict.fromkeys(handles))
        position = {handle: index for index, handle in enumerate(unique)}
        for handle in unique:
            if not isinstance(handle, JobHandle):
                raise InvalidTypeError(
                    f"as_completed() takes JobHandles, got {type(handle).__name__}"
                )
        for handle in unique:
            if _has_outcome(handle):
                yield handle
        futures: dict[asyncio.Future[None], JobHandle] = {}
        try:
            for handle in unique:
                if not _has_outcome(handle):
                    left = None if deadline is None else max(0.0, deadline - self._manager.clock())
                    future = self._manager.watch(handle, timeout=left, poll=poll)
                    futures[future] = handle
            pending = set(futures)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: position[futures[f]]):
                    error = future.exception()
                    if isinstance(error, JobTimeoutError):
                        late = tuple(h for h in futures.values() if not _has_outcome(h))
                        raise JobTimeoutError(
                            late, timeout=timeout, last_error=error.last_error
                        ) from None
                    if error is not None:
                        raise error
                    yield futures[future]
        finally:
            for future in futures:
                future.cancel()
