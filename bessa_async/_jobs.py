"""Orders and payments: submitting them as jobs, and waiting for the Sales Point's result.

A submission is a job the till (the Sales Point) processes later (``jobs.md``). This module holds:

- the submission values :class:`Order`, :class:`OrderLine`, :class:`OrderOption` and
  :class:`Payment`, checked locally before anything is sent (UUIDs, ``Decimal`` money with at
  most two decimals, positive quantities, at least one line);
- the :class:`Job` model and the pure :func:`job_state` (only ``completed`` is success; a status
  word the library does not know means "not finished");
- :class:`PollPolicy`, and :func:`next_poll_delay`, the pure backoff step;
- :class:`JobHandle`, what a submission returns: ``await handle.wait(timeout=...)``;
- :class:`PollScheduler`: one per client, it polls every job someone waits for, each on its own
  backoff schedule, never more requests at once than the client's in-flight limit;
- the resources ``client.orders``, ``client.payments`` and ``client.jobs``.

Never a duplicate write: every logical submission carries one ``Idempotency-Key`` (kept across
attempts) and a ``reference``. The POST is retried by the session layer only when it provably did
not arrive (connection refused, 429). After an ambiguous failure (timeout, connection dropped
after sending, 5xx) the job is looked up by its reference: found, it is returned; proven absent,
the POST is sent once more with the same key; otherwise
:class:`~bessa_async.SubmissionOutcomeUnknownError` says so. A failed poll never resubmits.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import json
import logging
import math
import random
import re
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, final

import attrs
from yarl import URL

from ._config import RetryPolicy, Timeout, as_timeout
from ._convert import decode, decode_many
from ._errors import (
    APIError,
    BessaError,
    JobFailedError,
    JobTimeoutError,
    RateLimitError,
    ServerError,
    SubmissionOutcomeUnknownError,
    TransportError,
    parse_retry_after,
)
from ._models import NO_EXTRA
from ._pagination import Paginator

if TYPE_CHECKING:
    from ._session import Response, Sender

__all__ = [
    "DEFAULT_POLL",
    "Job",
    "JobFailure",
    "JobHandle",
    "JobKind",
    "JobManager",
    "JobResult",
    "JobStatus",
    "Jobs",
    "Order",
    "OrderJobs",
    "OrderLine",
    "OrderOption",
    "Payment",
    "PaymentJobs",
    "PollPolicy",
    "PollScheduler",
    "PollStats",
    "decode_token",
    "encode_token",
    "is_ambiguous",
    "job_state",
    "next_poll_delay",
    "order_body",
    "payment_body",
]

logger: Final = logging.getLogger("bessa_async.jobs")

T = TypeVar("T")
JobKind = Literal["order", "payment"]
JobState = Literal["running", "succeeded", "failed"]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

TOKEN_VERSION: Final = 1
_CENT: Final = Decimal("0.01")
_REFERENCE_MAX: Final = 100
_NOTE_MAX: Final = 500
_KEY_OK: Final = re.compile(r"[\x21-\x7e]{1,255}")
_ONE_ATTEMPT: Final = RetryPolicy(attempts=1)
_RECONCILE_LIMIT: Final = 50


# --- statuses and the Job model --------------------------------------------------------------


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


# --- submission values ---------------------------------------------------------------------


def check_uuid(name: str, value: object) -> uuid.UUID:
    """``value`` as a UUID (a ``UUID`` or its text), else ``ValueError`` naming ``name``."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise ValueError(f"{name} must be a UUID, got {value!r}")


def check_decimal(
    name: str, value: object, *, places: int, minimum: Decimal, inclusive: bool
) -> Decimal:
    """``value`` as an exact ``Decimal`` with at most ``places`` decimals, at or above (or, not
    ``inclusive``, above) ``minimum``. A ``float`` is refused: it cannot hold cents exactly."""
    if isinstance(value, float):
        raise TypeError(
            f"{name} is a float ({value!r}); floats cannot hold cents exactly: "
            f"pass decimal.Decimal({str(value)!r})"
        )
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a decimal.Decimal, got {value!r}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{name} must be finite, got {value}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValueError(f"{name}={value} has more than {places} decimals; round it first")
    if number < minimum or (number == minimum and not inclusive):
        relation = ">=" if inclusive else ">"
        raise ValueError(f"{name} must be {relation} {minimum}, got {value}")
    return number


def check_text(name: str, value: object, limit: int) -> str | None:
    """``None``, or a non-blank ``str`` of at most ``limit`` characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {value!r}")
    if not value.strip():
        raise ValueError(f"{name} must not be blank")
    if len(value) > limit:
        raise ValueError(f"{name} has {len(value)} characters; at most {limit} are allowed")
    return value


def check_items(name: str, value: object, kind: type[T], *, min_items: int = 0) -> tuple[T, ...]:
    """An iterable of ``kind`` as a tuple (a str or a mapping is refused)."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list of {kind.__name__}, got {value!r}")
    items = tuple(value)
    for index, item in enumerate(items):
        if not isinstance(item, kind):
            raise TypeError(f"{name}[{index}] must be a {kind.__name__}, got {item!r}")
    if len(items) < min_items:
        raise ValueError(f"{name} needs at least {min_items} item(s), got none")
    return items


_ZERO: Final = Decimal(0)

# One named converter per field: the attrs mypy plugin types __init__ from these.


def _option_id(value: uuid.UUID | str) -> uuid.UUID:
    return check_uuid("option", value)


def _article(value: uuid.UUID | str) -> uuid.UUID:
    return check_uuid("article", value)


def _sales_point(value: uuid.UUID | str) -> uuid.UUID:
    return check_uuid("sales_point", value)


def _table(value: uuid.UUID | str | None) -> uuid.UUID | None:
    return None if value is None else check_uuid("table", value)


def _order_id(value: uuid.UUID | str) -> uuid.UUID:
    return check_uuid("order", value)


def _payment_method(value: uuid.UUID | str) -> uuid.UUID:
    return check_uuid("payment_method", value)


def _quantity(value: Decimal | int) -> Decimal:
    return check_decimal("quantity", value, places=3, minimum=_ZERO, inclusive=False)


def _unit_price(value: Decimal | int | None) -> Decimal | None:
    if value is None:
        return None
    return check_decimal("unit_price", value, places=2, minimum=_ZERO, inclusive=True)


def _amount(value: Decimal | int) -> Decimal:
    return check_decimal("amount", value, places=2, minimum=_ZERO, inclusive=False)


def _tip(value: Decimal | int | None) -> Decimal | None:
    return (
        None
        if value is None
        else check_decimal("tip", value, places=2, minimum=_ZERO, inclusive=True)
    )


def _note(value: str | None) -> str | None:
    return check_text("note", value, _NOTE_MAX)


def _reference(value: str | None) -> str | None:
    return check_text("reference", value, _REFERENCE_MAX)


def _options(value: Iterable[OrderOption]) -> tuple[OrderOption, ...]:
    return check_items("options", value, OrderOption)


def _lines(value: Iterable[OrderLine]) -> tuple[OrderLine, ...]:
    return check_items("lines", value, OrderLine, min_items=1)


@final
@attrs.frozen(kw_only=True)
class OrderOption:
    """An option choice on an order line (e.g. oat milk), by the choice's id."""

    option: uuid.UUID = attrs.field(converter=_option_id)
    quantity: Decimal = attrs.field(default=Decimal(1), converter=_quantity)


@final
@attrs.frozen(kw_only=True)
class OrderLine:
    """One line of an order: an article and a positive quantity (up to three decimals).

    ``unit_price`` overrides the article's price (two decimals); ``None`` lets the till price it.
    """

    article: uuid.UUID = attrs.field(converter=_article)
    quantity: Decimal = attrs.field(converter=_quantity)
    unit_price: Decimal | None = attrs.field(default=None, converter=_unit_price)
    note: str | None = attrs.field(default=None, converter=_note)
    options: tuple[OrderOption, ...] = attrs.field(default=(), converter=_options)


@final
@attrs.frozen(kw_only=True)
class Order:
    """An order for a Sales Point: the value :meth:`OrderJobs.submit` sends.

    ``reference`` identifies the logical submission (your shop's order number, say); it is how a
    submission with an unknown outcome is found again, so it must be unique per order. Leave it
    ``None`` and one is generated.

    Raises:
        ValueError, TypeError: a malformed id, a float or inexact amount, no lines.
    """

    sales_point: uuid.UUID = attrs.field(converter=_sales_point)
    lines: tuple[OrderLine, ...] = attrs.field(converter=_lines)
    reference: str | None = attrs.field(default=None, converter=_reference)
    table: uuid.UUID | None = attrs.field(default=None, converter=_table)
    note: str | None = attrs.field(default=None, converter=_note)


@final
@attrs.frozen(kw_only=True)
class Payment:
    """A payment settling an order: the value :meth:`PaymentJobs.submit` sends.

    ``order`` is the order's id (``job.result.order``) or its order job's id; ``amount`` the
    amount due (more than zero, two decimals); ``tip`` extra, not revenue. ``reference`` as for
    :class:`Order` (your payment provider's id, say).

    Raises:
        ValueError, TypeError: a malformed id, a float or inexact amount.
    """

    sales_point: uuid.UUID = attrs.field(converter=_sales_point)
    order: uuid.UUID = attrs.field(converter=_order_id)
    payment_method: uuid.UUID = attrs.field(converter=_payment_method)
    amount: Decimal = attrs.field(converter=_amount)
    tip: Decimal | None = attrs.field(default=None, converter=_tip)
    reference: str | None = attrs.field(default=None, converter=_reference)


def _money_text(value: Decimal) -> str:
    return f"{value.quantize(_CENT):f}"


def _quantity_text(value: Decimal) -> str:
    return f"{value:f}"


def order_body(order: Order, reference: str) -> dict[str, Any]:
    """The JSON body of an order (``jobs.md``); optional fields left out when unset. Pure."""
    lines: list[dict[str, Any]] = []
    for line in order.lines:
        item: dict[str, Any] = {
            "article": str(line.article),
            "quantity": _quantity_text(line.quantity),
        }
        if line.unit_price is not None:
            item["unit_price"] = _money_text(line.unit_price)
        if line.note is not None:
            item["note"] = line.note
        if line.options:
            item["options"] = [
                {"option": str(o.option), "quantity": _quantity_text(o.quantity)}
                for o in line.options
            ]
        lines.append(item)
    body: dict[str, Any] = {"sales_point": str(order.sales_point), "reference": reference}
    if order.table is not None:
        body["table"] = str(order.table)
    if order.note is not None:
        body["note"] = order.note
    body["lines"] = lines
    return body


def payment_body(payment: Payment, reference: str) -> dict[str, Any]:
    """The JSON body of a payment (``jobs.md``). Pure."""
    body: dict[str, Any] = {
        "sales_point": str(payment.sales_point),
        "order": str(payment.order),
        "payment_method": str(payment.payment_method),
        "amount": _money_text(payment.amount),
        "reference": reference,
    }
    if payment.tip is not None:
        body["tip"] = _money_text(payment.tip)
    return body


def new_reference(kind: JobKind) -> str:
    """A reference for a submission the caller gave none: unique, and says who made it."""
    return f"bessa-async-{kind}-{uuid.uuid4().hex}"


def is_ambiguous(exc: BaseException) -> bool:
    """Whether a failed POST may nevertheless have been processed: no answer after the request
    left (timeout, dropped connection) or a 5xx (a proxy may have lost the answer). Pure."""
    if isinstance(exc, TransportError):
        return exc.request_sent
    return isinstance(exc, ServerError)


# --- polling policy ------------------------------------------------------------------------


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{attribute.name} must be a number >= 0, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{attribute.name} must be finite, got {value!r}")


@final
@attrs.frozen(kw_only=True)
class PollPolicy:
    """How often a waiting job is asked for: exponential backoff with jitter, per job.

    The first poll comes ``initial`` seconds after the submission; each further delay is the
    previous one times ``multiplier``, each kept within ``[floor, ceiling]`` and spread by
    ``jitter`` (± that fraction, so jobs submitted together do not poll together). A
    ``Retry-After`` on a job answer sets the next delay instead (within the same bounds). The
    defaults find a job of a few seconds about 0.3 s after it finished with 3-4 requests, and
    cost an offline till about two requests a minute per job once the ceiling is reached.

    Change it per client (``BessaClient(poll=...)``) or per call
    (``handle.wait(poll=attrs.evolve(client.poll, ceiling=10))``).

    Attributes:
        initial: seconds from the submission to the first poll.
        floor: the shortest delay between two polls of one job.
        ceiling: the longest delay between two polls of one job.
        multiplier: growth of the delay per poll (>= 1).
        jitter: relative spread of each delay, in ``[0, 1)``.
    """

    initial: float = attrs.field(default=0.5, validator=_non_negative)
    floor: float = attrs.field(default=0.25, validator=_non_negative)
    ceiling: float = attrs.field(default=30.0, validator=_non_negative)
    multiplier: float = attrs.field(default=1.08, validator=_non_negative)
    jitter: float = attrs.field(default=0.1, validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.floor <= 0:
            raise ValueError(f"floor must be > 0, got {self.floor!r}")
        if self.ceiling < self.floor:
            raise ValueError(f"ceiling ({self.ceiling}) must be >= floor ({self.floor})")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier!r}")
        if self.jitter >= 1:
            raise ValueError(f"jitter must be < 1, got {self.jitter!r}")

    def clamp(self, seconds: float) -> float:
        """``seconds`` within ``[floor, ceiling]``."""
        return min(self.ceiling, max(self.floor, seconds))


#: The poll policy a client uses unless told otherwise.
DEFAULT_POLL: Final = PollPolicy()


def next_poll_delay(
    policy: PollPolicy,
    previous: float | None,
    rng: random.Random,
    retry_after: float | None = None,
) -> tuple[float, float]:
    """The backoff step. Pure (given ``rng``).

    Args:
        policy: the bounds and growth.
        previous: the previous un-jittered delay, ``None`` before the first poll.
        rng: draws the jitter.
        retry_after: the server's ``Retry-After`` on the last answer, if any.

    Returns:
        ``(base, delay)``: the un-jittered delay to pass as ``previous`` next time, and the delay
        to wait now (the server's ``Retry-After`` if it gave one), both within the bounds.
    """
    base = policy.clamp(policy.initial if previous is None else previous * policy.multiplier)
    if retry_after is not None:
        return base, policy.clamp(retry_after)
    spread = rng.uniform(1 - policy.jitter, 1 + policy.jitter) if policy.jitter else 1.0
    return base, policy.clamp(base * spread)


# --- tokens ----------------------------------------------------------------------------------


def _relative_path(path: object) -> str:
    if (
        not isinstance(path, str)
        or not path.endswith("/")
        or "://" in path
        or path.startswith("/")
        or ".." in path.split("/")
        or "?" in path
    ):
        raise ValueError(f"not a job token: bad path {path!r}")
    return path


def encode_token(
    *,
    kind: JobKind,
    id: uuid.UUID,
    path: str,
    reference: str | None,
    idempotency_key: str | None,
    status: JobStatus | str | None,
) -> str:
    """A handle as versioned JSON: what is needed to wait for the job again, no secrets. Pure."""
    return json.dumps(
        {
            "v": TOKEN_VERSION,
            "kind": kind,
            "id": str(id),
            "path": path,
            "reference": reference,
            "idempotency_key": idempotency_key,
            "status": None if status is None else str(status),
        },
        separators=(",", ":"),
    )


def decode_token(token: str) -> dict[str, Any]:
    """Read and check a token made by :func:`encode_token`. Pure.

    Raises:
        ValueError: not a token, or one from a newer version of the library.
    """
    if not isinstance(token, str | bytes):
        raise TypeError(f"a job token is a str, got {type(token).__name__}")
    try:
        data = json.loads(token)
    except ValueError:
        raise ValueError(
            "not a job token: not JSON (pass what JobHandle.to_token() gave)"
        ) from None
    if not isinstance(data, dict) or "v" not in data:
        raise ValueError("not a job token: expected a JSON object with a version 'v'")
    if data["v"] != TOKEN_VERSION:
        raise ValueError(
            f"job token version {data['v']!r} is not readable by this version of bessa_async "
            f"(it reads version {TOKEN_VERSION}); upgrade the library"
        )
    if data.get("kind") not in ("order", "payment"):
        raise ValueError(f"not a job token: unknown kind {data.get('kind')!r}")
    try:
        job_id = uuid.UUID(str(data.get("id")))
    except ValueError:
        raise ValueError(f"not a job token: bad id {data.get('id')!r}") from None
    for name in ("reference", "idempotency_key", "status"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise ValueError(f"not a job token: {name} must be a string")
    status = data.get("status")
    known = status if status is None or status not in set(JobStatus) else JobStatus(status)
    return {
        "kind": data["kind"],
        "id": job_id,
        "path": _relative_path(data.get("path")),
        "reference": data.get("reference"),
        "idempotency_key": data.get("idempotency_key"),
        "status": known,
    }


# --- the handle ------------------------------------------------------------------------------


@final
class JobHandle:
    """A submitted job: its id, what is known of it, and ways to wait for its result.

    Returned by ``client.orders.submit(...)`` (and ``client.payments``), by
    ``client.orders.job(id)`` for a job submitted elsewhere, and by ``client.jobs.resume(token)``.
    Waiting never changes the job on the server; a wait that times out or is cancelled can be
    started again, in this process or, via :meth:`to_token`, in another.
    """

    def __init__(
        self,
        manager: JobManager,
        *,
        kind: JobKind,
        id: uuid.UUID,
        path: str,
        job: Job | None = None,
        reference: str | None = None,
        idempotency_key: str | None = None,
        status: JobStatus | str | None = None,
    ) -> None:
        self._manager = manager
        self._kind: JobKind = kind
        self._id = id
        self._path = path
        self._job = job
        if reference is None and job is not None:
            reference = job.reference
        self._reference = reference
        self._key = idempotency_key
        self._status = job.status if job is not None else status
        self._delay: float | None = None
        self._poll_after: float | None = None

    @property
    def id(self) -> uuid.UUID:
        """The job's id."""
        return self._id

    @property
    def kind(self) -> JobKind:
        """``"order"`` or ``"payment"``."""
        return self._kind

    @property
    def path(self) -> str:
        """Where the job is polled, relative to the base URL."""
        return self._path

    @property
    def status(self) -> JobStatus | str | None:
        """The last status seen (``None`` if the job was never read by this handle)."""
        return self._status

    @property
    def job(self) -> Job | None:
        """The job as last seen, or ``None``."""
        return self._job

    @property
    def reference(self) -> str | None:
        """The submission's reference (what reconciliation looks it up by)."""
        return self._reference

    @property
    def idempotency_key(self) -> str | None:
        """The ``Idempotency-Key`` the submission was sent with (None if not submitted here)."""
        return self._key

    @property
    def done(self) -> bool:
        """Whether the job is known to have ended (completed, failed, expired, cancelled)."""
        return job_state(self._status) != "running"

    def __repr__(self) -> str:
        status = "unknown" if self._status is None else str(self._status)
        return f"<JobHandle {self._kind} {self._id} {status}>"

    def to_token(self) -> str:
        """This handle as versioned JSON, to store and :meth:`Jobs.resume` later (no secrets)."""
        return encode_token(
            kind=self._kind,
            id=self._id,
            path=self._path,
            reference=self._reference,
            idempotency_key=self._key,
            status=self._status,
        )

    def observe(self, job: Job, *, at: float, delay: float | None, base: float | None) -> None:
        """Record a fresh answer (used by the scheduler and the resources)."""
        self._job = job
        self._status = job.status
        if job.reference is not None:
            self._reference = job.reference
        if base is not None:
            self._delay = base
        self._poll_after = None if delay is None else at + delay

    def outcome(self) -> Job:
        """The finished job, or the error it ended with.

        Raises:
            JobFailedError: the job failed, expired or was cancelled.
        """
        job = self._job
        assert job is not None
        assert job.finished
        if job.succeeded:
            return job
        raise JobFailedError(job)

    async def refresh(self) -> Job:
        """Read the job now (one request; retried like any read) and remember it."""
        job = await self._manager.read(self._path)
        self.observe(job, at=self._manager.clock(), delay=None, base=None)
        return job

    async def wait(self, timeout: float | None = None, *, poll: PollPolicy | None = None) -> Job:
        """Wait until the job has ended; return it if it completed.

        Polls on the client's one scheduler (backoff per ``poll``, default the client's). A job
        already known to have ended answers at once, without a request.

        Args:
            timeout: the overall deadline in seconds (``None``: wait as long as it takes). It is
                not a request timeout: polls keep the client's own.
            poll: this wait's poll policy.

        Raises:
            JobFailedError: the job ended failed, expired or cancelled (``.job`` has the error).
            JobTimeoutError: the deadline passed; the job goes on and the handle stays usable.
            APIError: the job cannot be read (e.g. ``NotFoundError``, ``AuthenticationError``).
        """
        if self.done:
            return self.outcome()
        future = self._manager.scheduler.watch(
            self, policy=poll or self._manager.poll, timeout=timeout
        )
        await future  # cancelling the waiting task cancels the future: the scheduler lets go
        return self.outcome()


# --- the scheduler ---------------------------------------------------------------------------


@attrs.define(eq=False)
class _Waiter:
    future: asyncio.Future[None]
    handle: JobHandle
    deadline: float | None
    timeout: float | None
    watch: _Watch


@attrs.define(eq=False)
class _Watch:
    """One job being polled for one or more waiters."""

    path: str
    policy: PollPolicy
    delay: float | None
    waiters: list[_Waiter] = attrs.field(factory=list)
    version: int = 0
    task: asyncio.Task[None] | None = None
    last_error: BaseException | None = None
    dropped: bool = False


@final
@attrs.define
class PollStats:
    """What one client's scheduler has done so far."""

    polls: int = 0
    """Job answers asked for."""
    errors: int = 0
    """Polls that failed (and were tried again later)."""
    peak_in_flight: int = 0
    """The most polls in flight at once."""


Fetch = Callable[[str], Awaitable[tuple[Job, float | None]]]


@final
class PollScheduler:
    """Polls every job someone waits for, each on its own backoff schedule, from one task.

    The task exists only while there is something to wait for, so a client with no waiting
    handles runs nothing in the background. At most ``limit`` polls are in flight at once.
    Waits use the injected ``sleep``/``clock`` while nothing is in flight, and the event loop's
    own timer while polls are (so a virtual clock moves only when nothing is on the wire).
    """

    def __init__(
        self, fetch: Fetch, *, clock: Clock, sleep: Sleep, limit: int, rng: random.Random
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._sleep = sleep
        self._limit = limit
        self._rng = rng
        self._watches: dict[str, _Watch] = {}
        self._due: list[tuple[float, int, int, _Watch]] = []
        self._deadlines: list[tuple[float, int, _Waiter]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._seq = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Future[None] | None = None
        self._closed = False
        self.stats = PollStats()

    @property
    def active(self) -> bool:
        """Whether the scheduler's task is running."""
        return self._task is not None

    @property
    def waiting(self) -> int:
        """Jobs currently being polled for someone."""
        return len(self._watches)

    def watch(
        self, handle: JobHandle, *, policy: PollPolicy, timeout: float | None
    ) -> asyncio.Future[None]:
        """Register a waiter; the future ends when the job ended, failed to be read, the
        deadline passed (``JobTimeoutError``), or it is cancelled."""
        if self._closed:
            raise RuntimeError("this BessaClient is closed; create a new one")
        if timeout is not None and (isinstance(timeout, bool) or not timeout >= 0):
            raise ValueError(f"timeout must be seconds >= 0 or None, got {timeout!r}")
        loop = asyncio.get_running_loop()
        now = self._clock()
        watch = self._watches.get(handle.path)
        if watch is None:
            watch = _Watch(path=handle.path, policy=policy, delay=handle._delay)
            self._watches[handle.path] = watch
            first = now if handle._poll_after is None else max(now, handle._poll_after)
            self._schedule(watch, first)
        future: asyncio.Future[None] = loop.create_future()
        deadline = None if timeout is None else now + timeout
        waiter = _Waiter(future, handle, deadline, timeout, watch)
        watch.waiters.append(waiter)
        if deadline is not None:
            heapq.heappush(self._deadlines, (deadline, next(self._seq), waiter))
        future.add_done_callback(lambda _: self._forget(waiter))
        self._ensure_running()
        self._poke()
        return future

    def _schedule(self, watch: _Watch, at: float) -> None:
        watch.version += 1
        heapq.heappush(self._due, (at, next(self._seq), watch.version, watch))

    def _ensure_running(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="bessa_async job poller"
            )

    def _poke(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _forget(self, waiter: _Waiter) -> None:
        """A waiter is done (resolved or cancelled): stop polling a job nobody waits for."""
        watch = waiter.watch
        if waiter in watch.waiters:
            watch.waiters.remove(waiter)
        if not watch.waiters and not watch.dropped:
            self._drop(watch)
            self._poke()

    def _drop(self, watch: _Watch) -> None:
        watch.dropped = True
        if self._watches.get(watch.path) is watch:
            del self._watches[watch.path]
        if watch.task is not None and not watch.task.done():
            watch.task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                now = self._clock()
                self._expire(now)
                self._launch(now)
                if not self._watches and not self._running:
                    return
                wake_at = self._next_wake()
                wake = self._wake = loop.create_future()
                delay = None if wake_at is None else max(0.0, wake_at - now)
                if self._running or delay is None:
                    # Something is on the wire: its end wakes us; the loop's timer bounds it.
                    await asyncio.wait([wake], timeout=delay)
                else:
                    nap = asyncio.ensure_future(self._sleep(delay))
                    try:
                        await asyncio.wait([nap, wake], return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        if not nap.done():
                            nap.cancel()
                            await asyncio.gather(nap, return_exceptions=True)
        finally:
            self._task = None
            self._wake = None

    def _next_wake(self) -> float | None:
        times: list[float] = []
        while self._deadlines and self._deadlines[0][2].future.done():
            heapq.heappop(self._deadlines)
        if self._deadlines:
            times.append(self._deadlines[0][0])
        if len(self._running) < self._limit:
            self._skip_stale()
            if self._due:
                times.append(self._due[0][0])
        return min(times) if times else None

    def _skip_stale(self) -> None:
        while self._due:
            _, _, version, watch = self._due[0]
            if not watch.dropped and version == watch.version:
                return
            heapq.heappop(self._due)

    def _expire(self, now: float) -> None:
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, waiter = heapq.heappop(self._deadlines)
            if not waiter.future.done():
                error = JobTimeoutError(
                    (waiter.handle,), timeout=waiter.timeout, last_error=waiter.watch.last_error
                )
                waiter.future.set_exception(error)
                self._forget(waiter)

    def _launch(self, now: float) -> None:
        loop = asyncio.get_running_loop()
        while len(self._running) < self._limit:
            self._skip_stale()
            if not self._due or self._due[0][0] > now:
                return
            _, _, _, watch = heapq.heappop(self._due)
            watch.version += 1
            task = loop.create_task(self._poll(watch), name=f"bessa_async poll {watch.path}")
            watch.task = task
            self._running.add(task)
            self.stats.peak_in_flight = max(self.stats.peak_in_flight, len(self._running))

    async def _poll(self, watch: _Watch) -> None:
        task = asyncio.current_task()
        try:
            self.stats.polls += 1
            try:
                job, retry_after = await self._fetch(watch.path)
            except (TransportError, ServerError, RateLimitError) as exc:
                self.stats.errors += 1
                watch.last_error = exc
                retry = exc.retry_after if isinstance(exc, APIError) else None
                self._again(watch, None, retry)
            except Exception as exc:  # anything else ends the waits: it will not go away
                self._settle(watch, exc)
            else:
                watch.last_error = None
                if job.finished:
                    for waiter in watch.waiters:
                        waiter.handle.observe(job, at=self._clock(), delay=None, base=None)
                    self._settle(watch, None)
                    logger.debug("job %s: %s", watch.path, job.status)
                else:
                    self._again(watch, job, retry_after)
        finally:
            watch.task = None
            if task is not None:
                self._running.discard(task)
            self._poke()

    def _again(self, watch: _Watch, job: Job | None, retry_after: float | None) -> None:
        if watch.dropped:
            return
        base, delay = next_poll_delay(watch.policy, watch.delay, self._rng, retry_after)
        watch.delay = base
        now = self._clock()
        for waiter in watch.waiters:
            if job is not None:
                waiter.handle.observe(job, at=now, delay=delay, base=base)
            else:
                waiter.handle._delay = base
        status = "error" if job is None else job.status
        logger.debug("job %s: %s, next poll in %.2f s", watch.path, status, delay)
        self._schedule(watch, now + delay)

    def _settle(self, watch: _Watch, error: BaseException | None) -> None:
        """End every wait on ``watch``: with the job's outcome, or ``error``."""
        waiters, watch.waiters = watch.waiters, []
        self._drop(watch)
        for waiter in waiters:
            if not waiter.future.done():
                if error is None:
                    waiter.future.set_result(None)
                else:
                    waiter.future.set_exception(error)

    async def aclose(self) -> None:
        """Stop polling; waits still running fail with ``RuntimeError``. Idempotent."""
        self._closed = True
        for watch in list(self._watches.values()):
            waiters, watch.waiters = watch.waiters, []
            self._drop(watch)
            for waiter in waiters:
                if not waiter.future.done():
                    waiter.future.set_exception(
                        RuntimeError(
                            f"the BessaClient was closed while waiting for job {waiter.handle.id}; "
                            "the job goes on: resume it with a new client"
                        )
                    )
        tasks = [*self._running, *([self._task] if self._task is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._running.clear()
        self._due.clear()
        self._deadlines.clear()


# --- the manager: submitting, reading, reconciling ---------------------------------------------


def _poll_path(response: Response, base: URL, default: str) -> str:
    """The job's URL from a ``Location`` header, relative to ``base``; ``default`` if there is
    none or it points elsewhere (it is never followed off the API)."""
    location = response.headers.get("Location")
    if not location:
        return default
    try:
        target = response.url.join(URL(location))
    except ValueError:
        return default
    same_origin = (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port)
    if not same_origin or not target.path.startswith(base.path) or target.query_string:
        return default
    relative = target.path[len(base.path) :]
    try:
        return _relative_path(relative if relative.endswith("/") else relative + "/")
    except ValueError:
        return default


@final
class JobManager:
    """The client's job machinery: one sender, one scheduler, the paths of both kinds."""

    def __init__(
        self,
        sender: Sender,
        *,
        paths: Mapping[JobKind, str],
        poll: PollPolicy,
        max_in_flight: int,
    ) -> None:
        if not isinstance(poll, PollPolicy):
            raise TypeError(f"poll must be a PollPolicy, got {type(poll).__name__}")
        self._sender = sender
        self.paths = dict(paths)
        self.poll = poll
        self.clock = sender.clock
        self._rng = random.Random()
        self.scheduler = PollScheduler(
            self._fetch,
            clock=sender.clock,
            sleep=sender.sleep,
            limit=max_in_flight,
            rng=self._rng,
        )

    async def aclose(self) -> None:
        await self.scheduler.aclose()

    def handle(self, kind: JobKind, job_id: object) -> JobHandle:
        checked = check_uuid("job id", job_id)
        return JobHandle(self, kind=kind, id=checked, path=f"{self.paths[kind]}{checked}/")

    def resume(self, token: str) -> JobHandle:
        data = decode_token(token)
        return JobHandle(
            self,
            kind=data["kind"],
            id=data["id"],
            path=data["path"],
            reference=data["reference"],
            idempotency_key=data["idempotency_key"],
            status=data["status"],
        )

    async def _fetch(self, path: str) -> tuple[Job, float | None]:
        response = await self._sender.send("GET", path, retry=_ONE_ATTEMPT)
        job = decode(Job, response.json(), resource=path)
        return job, parse_retry_after(response.headers.get("Retry-After"))

    async def read(self, path: str) -> Job:
        response = await self._sender.send("GET", path)
        return decode(Job, response.json(), resource=path)

    async def _get_json(self, target: str, params: Mapping[str, Any] | None) -> Any:
        return (await self._sender.send("GET", target, params=params)).json()

    def listing(self, kind: JobKind, params: Mapping[str, Any]) -> Paginator[Job]:
        path = self.paths[kind]

        def decode_page(items: list[Any]) -> list[Job]:
            return decode_many(Job, items, resource=path)

        return Paginator(self._get_json, path, params, decode_page, resource=path)

    async def submit(
        self,
        kind: JobKind,
        body: dict[str, Any],
        *,
        key: str,
        sales_point: uuid.UUID,
        timeout: Timeout | None,
    ) -> JobHandle:
        """POST a job; reconcile after an ambiguous failure; never send it twice blindly."""
        reference: str = body["reference"]
        path = self.paths[kind]
        headers = {"Idempotency-Key": key}
        for attempt in (1, 2):
            try:
                response = await self._sender.send(
                    "POST", path, json_body=body, headers=headers, timeout=timeout
                )
            except Exception as exc:
                if not is_ambiguous(exc):
                    raise
                logger.info(
                    "%s %s: outcome unknown (%s); looking it up by reference",
                    kind,
                    reference,
                    type(exc).__name__,
                )
                found = await self._reconcile(kind, reference, sales_point, key, cause=exc)
                if found is not None:
                    return self._new_handle(kind, found, None, reference, key)
                if attempt == 2:
                    raise SubmissionOutcomeUnknownError(
                        kind=kind,
                        reference=reference,
                        idempotency_key=key,
                        reason="the submission was sent twice with the same key, both without "
                        "an answer, and the job is not listed yet",
                    ) from exc
                logger.info("%s %s: not found; sending it again, same key", kind, reference)
                continue
            try:
                job = decode(Job, response.json(), resource=path)
            except BessaError as exc:
                # Accepted (2xx) but unreadable: it landed; find it rather than send it again.
                found = await self._reconcile(kind, reference, sales_point, key, cause=exc)
                if found is None:
                    raise SubmissionOutcomeUnknownError(
                        kind=kind,
                        reference=reference,
                        idempotency_key=key,
                        reason="the API accepted the submission with an unreadable answer and "
                        "does not list it",
                    ) from exc
                return self._new_handle(kind, found, None, reference, key)
            return self._new_handle(kind, job, response, reference, key)
        raise AssertionError("unreachable")

    def _new_handle(
        self,
        kind: JobKind,
        job: Job,
        response: Response | None,
        reference: str,
        key: str,
    ) -> JobHandle:
        default = f"{self.paths[kind]}{job.id}/"
        path = default if response is None else _poll_path(response, self._sender.base_url, default)
        handle = JobHandle(
            self, kind=kind, id=job.id, path=path, job=job, reference=reference, idempotency_key=key
        )
        hint = None if response is None else parse_retry_after(response.headers.get("Retry-After"))
        base, delay = next_poll_delay(self.poll, None, self._rng, hint)
        handle.observe(job, at=self.clock(), delay=delay, base=base)
        return handle

    async def _reconcile(
        self,
        kind: JobKind,
        reference: str,
        sales_point: uuid.UUID,
        key: str,
        *,
        cause: BaseException,
    ) -> Job | None:
        """The job with ``reference``, or None when the list proves there is none.

        Raises:
            SubmissionOutcomeUnknownError: the lookup failed, the API ignored the filter, or
                several jobs carry the reference.
        """

        def unknown(reason: str) -> SubmissionOutcomeUnknownError:
            return SubmissionOutcomeUnknownError(
                kind=kind, reference=reference, idempotency_key=key, reason=reason
            )

        listing: Paginator[Any] = Paginator(
            self._get_json,
            self.paths[kind],
            {"reference": reference, "limit": _RECONCILE_LIMIT},
            lambda items: items,
            resource=self.paths[kind],
        )
        try:
            items = await listing.collect(max_items=_RECONCILE_LIMIT)
        except BessaError as exc:
            raise unknown(f"looking it up by reference failed ({exc})") from cause
        matches: list[Job] = []
        for item in items:
            if not isinstance(item, Mapping) or item.get("reference") != reference:
                # DRF ignores filters it does not know: this list proves nothing.
                raise unknown("the API does not filter jobs by reference") from cause
            try:
                job = decode(Job, item, resource=self.paths[kind])
            except BessaError as exc:
                raise unknown(f"a listed job is unreadable ({exc})") from cause
            if job.sales_point in (None, sales_point) and job.type in (None, kind):
                matches.append(job)
        if len(matches) > 1:
            raise unknown(f"{len(matches)} jobs carry this reference") from cause
        return matches[0] if matches else None


# --- the resources -------------------------------------------------------------------------


def _check_key(value: object) -> str:
    text = str(value) if isinstance(value, uuid.UUID) else value
    if not isinstance(text, str) or not _KEY_OK.fullmatch(text):
        raise ValueError(
            f"idempotency_key must be 1-255 visible ASCII characters (a UUID, say), got {value!r}"
        )
    return text


def _job_query(filters: Mapping[str, Any]) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for name, value in filters.items():
        if value is None:
            continue
        if name == "sales_point":
            value = str(check_uuid("sales_point", value))
        elif name == "limit" and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ValueError(f"limit must be a positive integer, got {value!r}")
        elif name in ("cursor", "reference", "status") and (
            not isinstance(value, str) or not value
        ):
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        query[name] = value
    return query


class _JobResource:
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
            ValueError: ``id`` is not a UUID.
        """
        return self._manager.handle(self._kind, id)

    def list(
        self,
        *,
        status: JobStatus | str | None = None,
        reference: str | None = None,
        sales_point: uuid.UUID | str | None = None,
        created__gte: datetime | None = None,
        created__lt: datetime | None = None,
        updated__gte: datetime | None = None,
        updated__lt: datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Paginator[Job]:
        """The jobs of this kind, oldest first, as :class:`Job` (an async iterable
        :class:`~bessa_async.Paginator`); e.g. ``list(status="pending")`` or, to find a
        submission again, ``list(reference="webshop-10045")``."""
        return self._manager.listing(
            self._kind,
            _job_query(
                {"status": status, "reference": reference, "sales_point": sales_point}
                | {"created__gte": created__gte, "created__lt": created__lt}
                | {"updated__gte": updated__gte, "updated__lt": updated__lt}
                | {"limit": limit, "cursor": cursor}
            ),
        )

    async def _submit(
        self,
        body_of: Callable[[str], dict[str, Any]],
        reference: str | None,
        sales_point: uuid.UUID,
        idempotency_key: str | uuid.UUID | None,
        timeout: float | Timeout | None,
    ) -> JobHandle:
        key = str(uuid.uuid4()) if idempotency_key is None else _check_key(idempotency_key)
        body = body_of(reference or new_reference(self._kind))
        return await self._manager.submit(
            self._kind,
            body,
            key=key,
            sales_point=sales_point,
            timeout=None if timeout is None else as_timeout(timeout),
        )


@final
class OrderJobs(_JobResource):
    """``requests/orders/``: submit orders, wait for them, list them."""

    _kind: JobKind = "order"

    async def submit(
        self,
        order: Order,
        *,
        idempotency_key: str | uuid.UUID | None = None,
        timeout: float | Timeout | None = None,
    ) -> JobHandle:
        """Send an order to its Sales Point as a job; return its handle at once.

        The order goes out exactly once as far as the API can tell: one ``Idempotency-Key`` for
        every attempt, retried only when it provably did not arrive, looked up by ``reference``
        after an ambiguous failure (and sent once more, same key, only if proven absent).

        Args:
            order: what to order.
            idempotency_key: your own key (store it with your order before calling, and a
                retry after a crash cannot duplicate it); a UUID is minted if not given.
            timeout: the POST's deadline, overriding the client's.

        Raises:
            ValidationError: the API refused the body (``errors`` keeps DRF's nested map).
            ConflictError: the key was used before with another body.
            SubmissionOutcomeUnknownError: it may or may not have landed; carries the key and
                reference to look it up later.
            TransportError, APIError: it provably did not land (connection refused, 4xx ...).
        """
        if not isinstance(order, Order):
            raise TypeError(f"submit() takes an Order, got {type(order).__name__}")
        return await self._submit(
            lambda ref: order_body(order, ref),
            order.reference,
            order.sales_point,
            idempotency_key,
            timeout,
        )


@final
class PaymentJobs(_JobResource):
    """``requests/payments/``: submit payments, wait for them, list them."""

    _kind: JobKind = "payment"

    async def submit(
        self,
        payment: Payment,
        *,
        idempotency_key: str | uuid.UUID | None = None,
        timeout: float | Timeout | None = None,
    ) -> JobHandle:
        """Send a payment to its Sales Point as a job; return its handle at once.

        Same guarantees and errors as :meth:`OrderJobs.submit`. On completion the job's
        ``result.receipt`` and ``result.number`` name the invoice.
        """
        if not isinstance(payment, Payment):
            raise TypeError(f"submit() takes a Payment, got {type(payment).__name__}")
        return await self._submit(
            lambda ref: payment_body(payment, ref),
            payment.reference,
            payment.sales_point,
            idempotency_key,
            timeout,
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
            ValueError: not a token, or one from a newer version of the library.
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
            timeout: the overall deadline in seconds for all of them.
            poll: the poll policy for these waits.

        Raises:
            JobTimeoutError: the deadline passed; ``.handles`` are the unfinished ones.
            APIError: a job cannot be read (e.g. ``NotFoundError``).
        """
        unique = list(dict.fromkeys(handles))
        position = {handle: index for index, handle in enumerate(unique)}
        for handle in unique:
            if not isinstance(handle, JobHandle):
                raise TypeError(f"as_completed() takes JobHandles, got {type(handle).__name__}")
        for handle in unique:
            if handle.done:
                yield handle
        futures: dict[asyncio.Future[None], JobHandle] = {}
        try:
            for handle in unique:
                if not handle.done:
                    future = self._manager.scheduler.watch(
                        handle, policy=poll or self._manager.poll, timeout=timeout
                    )
                    futures[future] = handle
            pending = set(futures)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: position[futures[f]]):
                    error = future.exception()
                    if isinstance(error, JobTimeoutError):
                        late = tuple(h for h in futures.values() if not h.done)
                        raise JobTimeoutError(
                            late, timeout=timeout, last_error=error.last_error
                        ) from None
                    if error is not None:
                        raise error
                    yield futures[future]
        finally:
            for future in futures:
                future.cancel()
