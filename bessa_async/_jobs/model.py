"""The job as the API shows it, and what its status words mean.

Only ``completed`` is success; ``failed``, ``expired`` and ``cancelled`` are failures; any other
word, one the library does not know included, means "not finished yet".
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal, final

import attrs

from .._base.errors import BessaError, DecodeError
from .._models.records import NO_EXTRA

__all__ = [
    "Job",
    "JobFailure",
    "JobKind",
    "JobResult",
    "JobState",
    "JobStatus",
    "OrderOutcome",
    "PaymentOutcome",
    "job_state",
]

JobKind = Literal["order", "payment"]
JobState = Literal["running", "succeeded", "failed"]


class JobStatus(enum.StrEnum):
    """Known job statuses; an unknown word is kept as ``str`` and means "not finished"."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


_FAILED: Final = frozenset({JobStatus.FAILED, JobStatus.EXPIRED, JobStatus.CANCELLED})


def job_state(status: JobStatus | str | None) -> JobState:
    """Classify a status word: ``"succeeded"`` for ``completed`` only; ``"failed"`` for failed,
    expired and cancelled; ``"running"`` for everything else, words the library does not know
    (and a missing status) included. Pure."""
    if status == JobStatus.COMPLETED:
        return "succeeded"
    if status in _FAILED:
        return "failed"
    return "running"


def _extra() -> Any:
    return attrs.field(default=NO_EXTRA, hash=False, repr=False)


@final
@attrs.frozen(kw_only=True)
class JobResult:
    """What the Sales Point produced: for an order the open ``order``; for a payment the
    ``receipt`` and its ``number``. Fields the API adds are kept in ``extra``."""

    order: uuid.UUID | None = None
    receipt: uuid.UUID | None = None
    number: str | None = None
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class JobFailure:
    """Why a job failed: a ``code`` such as ``"article_inactive"`` (an unknown code is still a
    failure) and a human ``detail``."""

    code: str | None = None
    detail: str | None = None
    extra: Mapping[str, Any] = _extra()


@final
@attrs.frozen(kw_only=True)
class Job:
    """A submitted order or payment as the API shows it (``requests/orders/{id}/``)."""

    id: uuid.UUID
    type: str | None = None
    """``"order"`` or ``"payment"``."""
    status: JobStatus | str
    reference: str | None = None
    sales_point: uuid.UUID | None = None
    created: datetime | None = None
    updated: datetime | None = None
    result: JobResult | None = None
    error: JobFailure | None = None
    extra: Mapping[str, Any] = _extra()

    @property
    def finished(self) -> bool:
        """Whether the job reached an end (completed, failed, expired or cancelled)."""
        return job_state(self.status) != "running"

    @property
    def succeeded(self) -> bool:
        """Whether the job completed: the only success."""
        return job_state(self.status) == "succeeded"

    @property
    def outcome(self) -> OrderOutcome | PaymentOutcome:
        """The completed job's result, its fields narrowed to what a success always has.

        Narrow it with ``isinstance`` or ``match``: an order's is an :class:`OrderOutcome`, a
        payment's a :class:`PaymentOutcome`.

        Raises:
            JobFailedError: the job failed, expired or was cancelled.
            asyncio.InvalidStateError: the job has not finished yet.
            DecodeError: it completed, but its ``result`` lacks the open order or the receipt.
        """
        if self.succeeded:
            return _outcome(self)
        if self.finished:
            raise JobFailedError(self)
        raise asyncio.InvalidStateError(
            f"job {self.id} is {self.status}, not finished: await its handle's wait() first"
        )


@final
@attrs.frozen(kw_only=True)
class OrderOutcome:
    """A completed order: the open order it created on the Sales Point."""

    job: Job
    order: uuid.UUID


@final
@attrs.frozen(kw_only=True)
class PaymentOutcome:
    """A completed payment: the receipt it produced and the receipt's number."""

    job: Job
    receipt: uuid.UUID
    number: str | None


def _outcome(job: Job) -> OrderOutcome | PaymentOutcome:
    result = job.result or JobResult()
    if job.type != "payment" and result.order is not None:
        return OrderOutcome(job=job, order=result.order)
    if job.type != "order" and result.receipt is not None:
        return PaymentOutcome(job=job, receipt=result.receipt, number=result.number)
    wanted = {"order": "open order", "payment": "receipt"}.get(job.type or "", "order or receipt")
    raise DecodeError(f"job {job.id} completed, but its result names no {wanted}: {result!r}")


class JobFailedError(BessaError):
    """A job ended without success: ``failed``, ``expired`` or ``cancelled``.

    Attributes:
        job: the job as last read (its ``error`` holds the till's code and detail).
        status: the job's status word.
        code: the failure code (e.g. ``"article_inactive"``; an unknown code is still a
            failure), or None if the API gave none.
        detail: the API's human description, or None.
    """

    def __init__(self, job: Job) -> None:
        self.job = job
        self.status = str(job.status)
        self.code = job.error.code if job.error is not None else None
        self.detail = job.error.detail if job.error is not None else None
        reason = ": ".join(part for part in (self.code, self.detail) if part)
        super().__init__(
            f"{job.type or 'job'} {job.id} {self.status}" + (f" ({reason})" if reason else "")
        )
