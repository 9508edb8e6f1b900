"""What a submission returns: a handle to wait for the job with, and its token.

A handle keeps what is known of one job (id, path, last status) and waits for it on the
client's scheduler. :meth:`JobHandle.to_token` writes it as versioned JSON (no secrets) that
``client.jobs.resume`` reads back, in this process or another.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Final, Protocol, final

from .._base.config import USE_CLIENT_DEFAULT, PollPolicy, Timeout, TimeoutArg, call_timeout
from .._base.errors import BessaError, InvalidValueError
from .._base.tokens import TokenFormat, shown
from .._base.validate import parse_uuid
from .._instrument.hooks import Hooks, operation
from .model import Job, JobFailedError, JobKind, JobStatus, job_state
from .pacing import check_wait_timeout

__all__ = [
    "TOKEN_VERSION",
    "JobHandle",
    "JobSource",
    "check_job_path",
    "decode_token",
    "encode_token",
]

_FORMAT: Final = TokenFormat(
    name="job token", version=1, error=InvalidValueError, template="not a job token: {why}"
)
TOKEN_VERSION: Final = _FORMAT.version


def check_job_path(path: object) -> str:
    """``path`` if it is a job path relative to the base URL (ends in ``/``, no scheme, no
    query, no ``..``), else ``InvalidValueError``."""
    if (
        not isinstance(path, str)
        or not path.endswith("/")
        or "://" in path
        or path.startswith("/")
        or ".." in path.split("/")
        or "?" in path
    ):
        raise InvalidValueError(f"not a job token: bad path {path!r}")
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
    return _FORMAT.write(
        {
            "kind": kind,
            "id": str(id),
            "path": path,
            "reference": reference,
            "idempotency_key": idempotency_key,
            "status": None if status is None else str(status),
        }
    )


def decode_token(token: str) -> dict[str, Any]:
    """Read and check a token made by :func:`encode_token`. Pure.

    Raises:
        InvalidTypeError: not a str.
        InvalidValueError: not a token, or one from a newer version of the library.
    """
    data = _FORMAT.read(token)
    if data.get("kind") not in ("order", "payment"):
        raise InvalidValueError(f"not a job token: unknown kind {shown(data.get('kind'))}")
    raw_id = data.get("id")
    job_id = parse_uuid(raw_id) if isinstance(raw_id, str) else None
    if job_id is None:
        raise InvalidValueError(f"not a job token: bad id {shown(raw_id)}")
    for name in ("reference", "idempotency_key", "status"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise InvalidValueError(f"not a job token: {name} must be a string")
    status = data.get("status")
    known = status if status is None or status not in set(JobStatus) else JobStatus(status)
    return {
        "kind": data["kind"],
        "id": job_id,
        "path": check_job_path(data.get("path")),
        "reference": data.get("reference"),
        "idempotency_key": data.get("idempotency_key"),
        "status": known,
    }


class JobSource(Protocol):
    """What a handle needs of the client's job machinery (the ``JobManager``)."""

    def clock(self) -> float:
        """Monotonic seconds, the clock poll times are kept in."""
        ...

    @property
    def hooks(self) -> Hooks | None:
        """The client's hooks, told when a wait ends (``on_operation``)."""
        ...

    async def read(self, path: str, *, timeout: Timeout | None = None) -> Job:
        """Read the job at ``path`` once (retried like any read; ``timeout`` None: the
        client's)."""
        ...

    def watch(
        self, handle: JobHandle, *, timeout: float | None, poll: PollPolicy | None
    ) -> asyncio.Future[None]:
        """Wait for ``handle``'s job on the scheduler (``poll`` None: the client's policy)."""
        ...


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
        manager: JobSource,
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

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (inside a JobTimeoutError a task queue stores, say) without its client,
        # which holds a session and the token; what comes back can be read, not polled.
        return (
            _unpickled,
            (self._kind, self._id, self._path, self._job, self._reference, self._key, self._status),
        )

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

    @property
    def backoff(self) -> float | None:
        """The un-jittered delay of this job's last poll step (``None`` before the first):
        where the scheduler's backoff goes on from."""
        return self._delay

    @property
    def poll_after(self) -> float | None:
        """The clock time before which the job need not be polled again (``None``: now)."""
        return self._poll_after

    def note_backoff(self, base: float) -> None:
        """Record the backoff after a poll that brought no answer (used by the scheduler)."""
        self._delay = base

    def note_poll_after(self, at: float) -> None:
        """Record when the job is next read (used by the scheduler's rounds)."""
        self._poll_after = at

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
            asyncio.InvalidStateError: this handle has not read the finished job yet (a handle
                resumed from a token knows the last status only): ``await wait()`` reads it.
        """
        job = self._job
        if job is None or not job.finished:
            seen = "not read yet" if job is None else f"last read {job.status}"
            raise asyncio.InvalidStateError(
                f"job {self._id}: its outcome is not known to this handle ({seen}); "
                "await handle.wait() for it"
            )
        if job.succeeded:
            return job
        raise JobFailedError(job)

    async def refresh(self, *, timeout: TimeoutArg = USE_CLIENT_DEFAULT) -> Job:
        """Read the job now (one request; retried like any read) and remember it.

        ``timeout`` is the request's deadline, its retries included (seconds or a
        :class:`Timeout`); None for none; left out, the client's.
        """
        job = await self._manager.read(self._path, timeout=call_timeout(timeout))
        self.observe(job, at=self._manager.clock(), delay=None, base=None)
        return job

    async def wait(self, timeout: float | None = None, *, poll: PollPolicy | None = None) -> Job:
        """Wait until the job has ended; return it if it completed.

        Polls on the client's one scheduler (backoff per ``poll``, default the client's). A job
        this handle has read finished answers at once, without a request; a handle resumed
        from the token of an ended job reads it once.

        Args:
            timeout: the overall deadline in seconds (``None``: wait as long as it takes). It is
                not a request timeout: polls keep the client's own.
            poll: this wait's poll policy.

        Raises:
            JobFailedError: the job ended failed, expired or cancelled (``.job`` has the error).
            JobTimeoutError: the deadline passed; the job goes on and the handle stays usable.
            APIError: the job cannot be read (e.g. ``NotFoundError``, ``AuthenticationError``).
        """
        if self._job is not None and self._job.finished:
            return self.outcome()
        hooks = self._manager.hooks
        if hooks is None:
            return await self._wait(timeout, poll)
        facts = {"bessa.job.kind": self._kind}
        clock = self._manager.clock
        seconds = check_wait_timeout(timeout)
        deadline = None if seconds is None else clock() + seconds
        async with operation(hooks, "job.wait", deadline, clock=clock, **facts) as seen:
            job = await self._wait(timeout, poll)
            seen["bessa.job.status"] = str(job.status)
            return job

    async def _wait(self, timeout: float | None, poll: PollPolicy | None) -> Job:
        future = self._manager.watch(self, timeout=timeout, poll=poll)
        await future  # cancelling the waiting task cancels the future: the scheduler lets go
        return self.outcome()


class _NoClient:
    """The job source of an unpickled handle: it knows the job, but no client to poll with."""

    hooks: Hooks | None = None

    def clock(self) -> float:
        raise self._refused()

    async def read(self, path: str, *, timeout: Timeout | None = None) -> Job:
        raise self._refused()

    def watch(
        self, handle: JobHandle, *, timeout: float | None, poll: PollPolicy | None
    ) -> asyncio.Future[None]:
        raise self._refused()

    @staticmethod
    def _refused() -> InvalidValueError:
        return InvalidValueError(
            "this JobHandle was unpickled and belongs to no client: pass its to_token() to "
            "client.jobs.resume() for one that can poll"
        )


def _unpickled(
    kind: JobKind,
    id: uuid.UUID,
    path: str,
    job: Job | None,
    reference: str | None,
    idempotency_key: str | None,
    status: JobStatus | str | None,
) -> JobHandle:
    """A handle out of pickle: what it knew of its job, apart from any client."""
    return JobHandle(
        _NoClient(),
        kind=kind,
        id=id,
        path=path,
        job=job,
        reference=reference,
        idempotency_key=idempotency_key,
        status=status,
    )


class JobTimeoutError(BessaError, TimeoutError):
    """The caller's deadline passed before the job(s) ended.

    Nothing happened to the job on the server: wait again, or keep ``handle.to_token()`` and
    resume later.

    Attributes:
        handles: the handles still unfinished (one for ``wait()``).
        timeout: the deadline that passed, in seconds.
        last_error: the error of the latest poll, if it failed (the API may be unreachable).
    """

    def __init__(
        self,
        handles: tuple[JobHandle, ...],
        *,
        timeout: float | None,
        last_error: BaseException | None = None,
    ) -> None:
        self.handles = handles
        self.timeout = timeout
        self.last_error = last_error
        which = (
            f"job {handles[0].id} (last status {handles[0].status})"
            if len(handles) == 1
            else f"{len(handles)} jobs"
        )
        limit = "the deadline" if timeout is None else f"{timeout:g} s"
        note = f"; the last poll failed: {last_error}" if last_error is not None else ""
        super().__init__(
            f"{which} not finished within {limit}; the job goes on and its handle stays usable"
            f"{note}"
        )

    @property
    def handle(self) -> JobHandle:
        """The (first) unfinished handle."""
        return self.handles[0]

    def __str__(self) -> str:  # OSError's __str__ would show its errno tuple instead
        return str(self.args[0])
