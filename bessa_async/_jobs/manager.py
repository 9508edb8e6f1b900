"""The client's job machinery: submitting a job, reading it, finding it again by reference.

Never a duplicate write: every logical submission carries one ``Idempotency-Key`` (kept across
attempts) and a ``reference``. The POST is retried by the session layer only when it provably did
not arrive (connection refused, 429). After an ambiguous failure (timeout, connection dropped
after sending, 5xx) the job is looked up by its reference: found, it is returned; proven absent,
the POST is sent once more with the same key; otherwise
:class:`~bessa_async.SubmissionOutcomeUnknownError` says so. A failed poll never resubmits.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import random
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, final

from yarl import URL

from .._base.config import PollPolicy, RetryPolicy, Timeout
from .._base.errors import (
    BessaError,
    InvalidTypeError,
    RequestTimeout,
    ServerError,
    SubmissionOutcomeUnknownError,
    TransportError,
    parse_retry_after,
)
from .._base.validate import check_uuid
from .._instrument.hooks import Hooks
from .._listing.pagination import ListingRequest, Paginator, page_request
from .._models.convert import decode, decode_many
from .._transport.raw import LastResponse, RawResponse, raw_response
from .handle import JobHandle, check_job_path, decode_token
from .model import Job, JobKind
from .pacing import next_poll_delay
from .scheduler import PollScheduler

if TYPE_CHECKING:
    from .._transport.session import Response, Sender

__all__ = ["JobManager", "is_ambiguous"]

logger: Final = logging.getLogger("bessa_async.jobs")

_ONE_ATTEMPT: Final = RetryPolicy(attempts=1)
_RECONCILE_LIMIT: Final = 50


def is_ambiguous(exc: BaseException) -> bool:
    """Whether a failed POST may nevertheless have been processed: no answer after the request
    left (timeout, dropped connection) or a 5xx (a proxy may have lost the answer). Pure."""
    if isinstance(exc, TransportError):
        return exc.request_sent
    return isinstance(exc, ServerError)


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
        return check_job_path(relative if relative.endswith("/") else relative + "/")
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
            raise InvalidTypeError(f"poll must be a PollPolicy, got {type(poll).__name__}")
        self.sender = sender
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
            fetch_page=self._fetch_page,
            lists=self.paths,
        )
        self.hooks: Hooks | None = sender.hooks
        if sender.hooks is not None:
            self.scheduler.hooks = sender.hooks

    async def aclose(self) -> None:
        await self.scheduler.aclose()

    def derive(self, sender: Sender, poll: PollPolicy) -> JobManager:
        """This machinery for a client's view: submissions through ``sender``, waits polled per
        ``poll`` by default, on the same scheduler (whose polls keep the client's sender)."""
        view = copy.copy(self)  # shallow: the scheduler and its generator are shared
        view.sender = sender
        view.poll = poll
        return view

    def watch(
        self, handle: JobHandle, *, timeout: float | None, poll: PollPolicy | None
    ) -> asyncio.Future[None]:
        """Wait for ``handle``'s job on the scheduler, polled per ``poll`` (or the client's)."""
        return self.scheduler.watch(handle, policy=poll or self.poll, timeout=timeout)

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
        response = await self.sender.send("GET", path, retry=_ONE_ATTEMPT)
        job = decode(Job, response.json(), resource=path)
        return job, parse_retry_after(response.headers.get("Retry-After"))

    async def _fetch_page(
        self, target: str, params: Mapping[str, Any] | None
    ) -> tuple[Any, float | None]:
        response = await self.sender.send("GET", target, params=params, retry=_ONE_ATTEMPT)
        return response.json(), parse_retry_after(response.headers.get("Retry-After"))

    async def read(self, path: str, *, timeout: Timeout | None = None) -> Job:
        response = await self.sender.send("GET", path, timeout=timeout)
        return decode(Job, response.json(), resource=path)

    async def _get_json(
        self,
        target: str,
        params: Mapping[str, Any] | None,
        *,
        timeout: Timeout | None = None,
        deadline: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        response = await self.sender.send(
            "GET", target, params=params, headers=headers, timeout=timeout, deadline=deadline
        )
        return response.json()

    def listing(
        self,
        kind: JobKind,
        params: Mapping[str, Any],
        headers: Mapping[str, str],
        *,
        timeout: Timeout | None = None,
    ) -> Paginator[Job]:
        path = self.paths[kind]

        def decode_page(items: list[Any]) -> list[Job]:
            return decode_many(Job, items, resource=path)

        async def get(target: str, query: Mapping[str, Any] | None) -> RawResponse[Any]:
            return raw_response(
                await self.sender.send(
                    "GET", target, params=query, headers=headers, timeout=timeout
                )
            )

        last = LastResponse()
        request = page_request(
            get,
            path,
            params,
            decode_page,
            resource=path,
            hooks=self.sender.hooks,
            clock=self.sender.clock,
            last=last,
        )
        return Paginator(request, last=last)

    async def submit(
        self,
        kind: JobKind,
        body: dict[str, Any],
        *,
        key: str,
        sales_point: uuid.UUID,
        timeout: Timeout | None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> JobHandle:
        """POST a job; reconcile after an ambiguous failure; never send it twice blindly.

        One deadline, ``timeout.total`` (else the client's) from now, covers the whole call:
        the POST, the lookup by reference and the one resend. ``extra_headers`` (checked by
        the caller) go with each of them.
        """
        reference: str = body["reference"]
        path = self.paths[kind]
        extra = dict(extra_headers or {})
        headers = {**extra, "Idempotency-Key": key}
        total = (timeout or self.sender.timeout).total
        deadline = None if total is None else self.clock() + total

        def unknown(reason: str) -> SubmissionOutcomeUnknownError:
            return SubmissionOutcomeUnknownError(
                kind=kind, reference=reference, idempotency_key=key, reason=reason
            )

        def late(step: str) -> SubmissionOutcomeUnknownError | None:
            """The error to raise if the deadline has passed before ``step``, else None."""
            if deadline is None or self.clock() < deadline:
                return None
            return unknown(f"the call's deadline of {total:g} s passed before it could be {step}")

        async def reconcile(cause: BaseException) -> Job | None:
            if (error := late("looked up by its reference")) is not None:
                raise error from cause
            return await self._reconcile(
                kind,
                reference,
                sales_point,
                key,
                timeout=timeout,
                deadline=deadline,
                headers=extra,
                cause=cause,
            )

        for attempt in (1, 2):
            try:
                response = await self.sender.send(
                    "POST",
                    path,
                    json_body=body,
                    headers=headers,
                    timeout=timeout,
                    deadline=deadline,
                )
            except Exception as exc:
                if attempt == 2 and isinstance(exc, RequestTimeout) and not exc.request_sent:
                    # Proven absent, then the deadline passed before the resend could leave.
                    raise late("sent again") or unknown(str(exc)) from exc
                if not is_ambiguous(exc):
                    raise
                logger.info(
                    "%s %s: outcome unknown (%s); looking it up by reference",
                    kind,
                    reference,
                    type(exc).__name__,
                )
                found = await reconcile(exc)
                if found is not None:
                    return self._new_handle(kind, found, None, reference, key)
                if attempt == 2:
                    raise unknown(
                        "the submission was sent twice with the same key, both without "
                        "an answer, and the job is not listed yet"
                    ) from exc
                if (error := late("sent again")) is not None:
                    raise error from exc
                logger.info("%s %s: not found; sending it again, same key", kind, reference)
                continue
            try:
                job = decode(Job, response.json(), resource=path)
            except BessaError as exc:
                # Accepted (2xx) but unreadable: it landed; find it rather than send it again.
                found = await reconcile(exc)
                if found is None:
                    raise unknown(
                        "the API accepted the submission with an unreadable answer and "
                        "does not list it"
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
        path = default if response is None else _poll_path(response, self.sender.base_url, default)
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
        timeout: Timeout | None,
        deadline: float | None,
        headers: Mapping[str, str],
        cause: BaseException,
    ) -> Job | None:
        """The job with ``reference``, or None when the list proves there is none (looked up
        within ``deadline``, the submission's).

        Raises:
            SubmissionOutcomeUnknownError: the lookup failed, the API ignored the filter, or
                several jobs carry the reference.
        """

        def unknown(reason: str) -> SubmissionOutcomeUnknownError:
            return SubmissionOutcomeUnknownError(
                kind=kind, reference=reference, idempotency_key=key, reason=reason
            )

        # Not observed: a lookup inside a submission is no listing of the caller's.
        lookup: ListingRequest[Any] = ListingRequest(
            fetch=functools.partial(
                self._get_json, timeout=timeout, deadline=deadline, headers=headers
            ),
            path=self.paths[kind],
            params={"reference": reference, "limit": _RECONCILE_LIMIT},
            decode=lambda items: items,
            resource=self.paths[kind],
            clock=self.sender.clock,
        )
        listing = Paginator(lookup)
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
