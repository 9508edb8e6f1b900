"""How waiting for a job ends badly: the job failed, or the caller's deadline passed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._base.errors import BessaError

if TYPE_CHECKING:
    from .handle import JobHandle
    from .model import Job

__all__ = ["JobFailedError", "JobTimeoutError"]


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
