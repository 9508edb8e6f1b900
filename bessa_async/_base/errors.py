"""The exception tree, and the pure mapping from an HTTP answer to an exception.

Every exception the library raises on purpose derives from :class:`BessaError`::

    BessaError
    ├── InputError                             caller input refused before any request
    │   ├── InvalidValueError                  also ValueError: a bad id, inexact money, a naive
    │   │   │                                  datetime, a reversed window, no order lines
    │   │   ├── ConfigurationError             a bad token, base URL or option of a client
    │   │   ├── ResumeTokenError               a listing's resume token is bad or another's
    │   │   └── UnknownTimeZoneError           also zoneinfo.ZoneInfoNotFoundError (a KeyError):
    │   │                                      a zone name zoneinfo does not know
    │   └── InvalidTypeError                   also TypeError: a float for money, a str for a
    │                                          timestamp, a keyword the call does not take
    ├── ForeignOriginError (also ValueError)   an absolute URL off the base URL's origin
    ├── TransportError                         no usable HTTP answer arrived
    │   ├── ConnectError (also OSError)        the connection could not be opened: nothing was sent
    │   └── RequestTimeout (also TimeoutError) the call's deadline passed
    ├── APIError                               the server answered with an error status
    │   ├── BadRequestError                    400
    │   │   └── ValidationError                400 whose body maps fields to messages
    │   ├── AuthenticationError                401: token missing or invalid
    │   ├── PermissionDeniedError              403: token valid, resource not allowed
    │   ├── NotFoundError                      404
    │   ├── ConflictError                      409
    │   ├── RateLimitError                     429 (``retry_after`` says how long to wait)
    │   └── ServerError                        5xx, also with an HTML or empty body
    ├── DecodeError                            a 2xx whose body is not the JSON expected
    ├── PaginationLoopError                    a list's ``next`` repeats an earlier page
    ├── WrongEventLoopError (also RuntimeError) a client used from another event loop or process
    ├── ClientClosedError (also RuntimeError)  a client used after it (or its session) was closed
    ├── JobFailedError                         a job ended failed, expired or cancelled
    ├── JobTimeoutError (also TimeoutError)    the caller's deadline for a job passed
    └── SubmissionOutcomeUnknownError          a POST may or may not have landed

Input errors are found before anything is sent, and their message names the argument and what
to pass instead. They are also the built-in :class:`ValueError` or :class:`TypeError` Python code
expects, so ``except ValueError`` keeps working beside ``except BessaError``.

Raw aiohttp or tenacity exceptions never reach callers: they are mapped here and chained
(``raise ... from exc``), except aiohttp's errors that hold the request's headers, which are
neither the cause nor the context of ours. No message, ``repr``, attribute, cause or context
of an error raised here holds the API token. Every error survives ``pickle`` (a task queue
stores a failed task's exception that way) with its attributes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Final
from zoneinfo import ZoneInfoNotFoundError

from .jsontext import nests_deeper_than, parse_json
from .wire_time import http_date

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BessaError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "DecodeError",
    "ForeignOriginError",
    "InputError",
    "InvalidTypeError",
    "InvalidValueError",
    "NotFoundError",
    "PaginationLoopError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeout",
    "ResumeTokenError",
    "ServerError",
    "SubmissionOutcomeUnknownError",
    "TransportError",
    "UnknownTimeZoneError",
    "ValidationError",
    "WrongEventLoopError",
    "error_for_response",
    "parse_retry_after",
]

#: Headers a server or proxy may use to name a request, checked in this order.
REQUEST_ID_HEADERS: Final = ("X-Request-ID", "Request-ID", "X-Correlation-ID", "X-Amzn-Trace-Id")
_SNIPPET_LIMIT: Final = 200
#: How much of an error answer's body is read and kept on :attr:`APIError.body`: 64 KiB.
ERROR_BODY_LIMIT: Final = 64 * 1024


def snippet(body: bytes, limit: int = _SNIPPET_LIMIT) -> str:
    """A short, printable excerpt of a body for error messages."""
    text = body[: limit * 2].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class BessaError(Exception):
    """Root of every exception raised by bessa_async on purpose.

    Attributes:
        resume_cursor: set when a listing failed part-way: pass it as ``list(..., cursor=...)``
            to continue with the page that failed, without loss or repetition. None when the
            listing failed before handing anything over (start again). For a listing sharded
            by time it is a token (JSON) naming the shards still open, resumed by the same call
            with ``cursor=``.
    """

    resume_cursor: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own reduce calls ``cls(*args)``, which keyword-only constructors refuse;
        # this one rebuilds the error from its args and attributes without calling __init__.
        return (_rebuilt, (type(self), self.args, dict(vars(self))))


def _rebuilt(cls: type[BessaError], args: tuple[Any, ...], state: dict[str, Any]) -> BessaError:
    """An unpickled error: ``cls`` with ``args`` and attributes ``state``."""
    error = cls.__new__(cls, *args)
    error.args = args
    vars(error).update(state)
    return error


class InputError(BessaError):
    """Caller input refused before any request: nothing was sent. Catch a subclass or this."""


class InvalidValueError(InputError, ValueError):
    """A value that cannot be right: a bad UUID, cents beyond two decimals, a naive datetime,
    a window that ends before it starts, an order without lines."""


class InvalidTypeError(InputError, TypeError):
    """An argument of the wrong type: a float for money, a string for a timestamp, a keyword
    the call does not take."""


class ConfigurationError(InvalidValueError):
    """The client was configured in a way that cannot work (no token, unsafe base URL, ...)."""


class UnknownTimeZoneError(InvalidValueError, ZoneInfoNotFoundError):
    """A zone name :mod:`zoneinfo` does not know (``Europe/Wien``); still caught by
    ``except zoneinfo.ZoneInfoNotFoundError`` or ``except KeyError``."""

    __str__ = Exception.__str__  # the message as written, not KeyError's quoted repr


class ForeignOriginError(BessaError, ValueError):
    """An absolute URL (given by a caller, in a page's ``next`` or a redirect's ``Location``)
    is not provably on the base URL's origin: another scheme, host or port, credentials
    (``user:password@``), or not a URL at all (a backslash in the host, two ports, a host that
    is not a valid name).

    Following it could send the API token elsewhere, so it is refused before any request.

    Attributes:
        url: the URL as given.
        expected_origin: the base URL's origin.
        reason: why it was refused.
    """

    def __init__(self, url: str, expected_origin: str, reason: str | None = None) -> None:
        self.url = url
        self.expected_origin = expected_origin
        self.reason = reason or f"it is not on the API's origin {expected_origin!r}"
        super().__init__(
            f"refusing to request {url!r}: {self.reason}, and the request would carry the API token"
        )


class ResumeTokenError(InvalidValueError):
    """A sharded listing's resume token that cannot be read, or was made by another listing
    (resource, window, filters or ``ordered`` differ). Raised at the call; nothing is sent."""


class TransportError(BessaError):
    """No usable HTTP answer arrived: connection failed or dropped, body cut short, deadline.

    Attributes:
        method: HTTP method of the request.
        path: path of the request, relative to the base URL where possible.
        request_sent: whether the request may have reached the server. ``False`` proves that a
            write was not processed; ``True`` means its outcome is unknown.
    """

    def __init__(self, message: str, *, method: str, path: str, request_sent: bool) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.request_sent = request_sent


class ConnectError(TransportError, OSError):
    """The connection could not be opened (refused, DNS, TLS): nothing was sent."""

    def __init__(self, message: str, *, method: str, path: str) -> None:
        super().__init__(message, method=method, path=path, request_sent=False)

    def __str__(self) -> str:  # OSError's __str__ would show its errno tuple instead
        return str(self.args[0])


class RequestTimeout(TransportError, TimeoutError):
    """The call's deadline passed before an answer arrived."""

    def __str__(self) -> str:
        return str(self.args[0])


class DecodeError(BessaError):
    """A successful answer whose body is not the JSON expected.

    Attributes:
        status: HTTP status of the answer.
        content_type: its ``Content-Type``.
        snippet: the first characters of the body.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        content_type: str | None = None,
        body: bytes = b"",
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.content_type = content_type
        self.snippet = snippet(body)
        self.method = method
        self.path = path
        where = f" ({method} {path} -> {status})" if method and path else ""
        excerpt = f": {self.snippet!r}" if self.snippet else ""
        super().__init__(f"{message}{where}{excerpt}")


class PaginationLoopError(BessaError):
    """A page's ``next`` names a page already read: following it would never end.

    Attributes:
        path: the list's path.
        cursor: the repeated cursor (or ``next`` URL).
        pages: how many pages had been read.
    """

    def __init__(self, *, path: str, cursor: str, pages: int) -> None:
        self.path = path
        self.cursor = cursor
        self.pages = pages
        super().__init__(
            f"the list {path} repeats a page after {pages} pages (next cursor seen before): "
            "the server's pagination is looping; stopped instead of reading forever"
        )


class WrongEventLoopError(BessaError, RuntimeError):
    """A client was used from an event loop other than the one it belongs to, or in a process
    forked from the one that used it.

    A client belongs to the event loop it first sends in (or is entered in with ``async
    with``): its connections live in that loop, and no other loop (another thread's, a later
    ``asyncio.run()``, a pytest fixture of another scope) can use them. Create one client per
    event loop, and close it in its own loop; after ``os.fork()``, create a new one in the
    child. Nothing was sent.
    """


class ClientClosedError(BessaError, RuntimeError):
    """A client was used after it was closed, or the ``aiohttp.ClientSession`` passed to it was
    closed by its owner; also what a job wait still running when its client closed ends with
    (the job goes on: resume it from its token with a new client). Nothing was sent.
    """


class SubmissionOutcomeUnknownError(BessaError):
    """A submission may or may not have landed, and looking it up could not tell.

    Do not simply submit again: look it up later with ``list(reference=...)``, or submit again
    with the same ``idempotency_key`` (a server that honours keys answers the same job).

    Attributes:
        kind: ``"order"`` or ``"payment"``.
        reference: the submission's reference.
        idempotency_key: the ``Idempotency-Key`` every attempt carried.
        reason: why the outcome could not be established.
    """

    def __init__(self, *, kind: str, reference: str, idempotency_key: str, reason: str) -> None:
        self.kind = kind
        self.reference = reference
        self.idempotency_key = idempotency_key
        self.reason = reason
        super().__init__(
            f"the {kind} with reference {reference!r} (Idempotency-Key {idempotency_key}) may or "
            f"may not have been accepted: {reason}"
        )


class APIError(BessaError):
    """The API answered with an error status.

    Attributes:
        status: HTTP status code.
        detail: DRF's ``detail`` message, or a summary of the body.
        errors: for field errors, DRF's mapping of field to messages, nesting kept as sent
            (lists or mappings); empty otherwise.
        non_field_errors: messages not tied to a field.
        method: HTTP method of the request.
        path: path of the request, relative to the base URL.
        request_id: the server's request id header, if any (quote it to support).
        retry_after: seconds the server asked to wait (``Retry-After``), if any.
        body: the raw body, for anything the fields above do not capture: its first
            :data:`ERROR_BODY_LIMIT` bytes (64 KiB) at most, the rest was never read.
    """

    status_code: ClassVar[int | None] = None

    def __init__(
        self,
        *,
        status: int,
        detail: str,
        method: str,
        path: str,
        errors: Mapping[str, Any] | None = None,
        non_field_errors: Sequence[str] = (),
        request_id: str | None = None,
        retry_after: float | None = None,
        body: bytes = b"",
    ) -> None:
        self.status = status
        self.detail = detail
        self.method = method
        self.path = path
        self.errors: Mapping[str, Any] = dict(errors or {})
        self.non_field_errors = tuple(non_field_errors)
        self.request_id = request_id
        self.retry_after = retry_after
        self.body = body
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"{self.status} on {self.method} {self.path}: {self.detail}"]
        if self.retry_after is not None:
            parts.append(f"(retry after {self.retry_after:g} s)")
        if self.request_id:
            parts.append(f"[request id {self.request_id}]")
        return " ".join(parts)


class BadRequestError(APIError):
    """400: the request's parameters or body were refused."""

    status_code = 400


class ValidationError(BadRequestError):
    """400 whose body maps fields to messages; ``errors`` keeps DRF's nesting."""


class AuthenticationError(APIError):
    """401: the token is missing or invalid. Check the token and the base URL."""

    status_code = 401


class PermissionDeniedError(APIError):
    """403: the token is valid but may not access this resource."""

    status_code = 403


class NotFoundError(APIError):
    """404: no such resource or object (or a path the real API names differently)."""

    status_code = 404


class ConflictError(APIError):
    """409: the request conflicts with the server's state (e.g. an idempotency key reused)."""

    status_code = 409


class RateLimitError(APIError):
    """429: throttled. ``retry_after`` says how many seconds to wait, if the server said."""

    status_code = 429


class ServerError(APIError):
    """5xx: the server or a proxy in front of it failed (the body may be HTML or empty)."""


_BY_STATUS: Final[Mapping[int, type[APIError]]] = {
    cls.status_code: cls
    for cls in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        RateLimitError,
    )
    if cls.status_code is not None
}


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    Returns ``None`` when the header is absent or unreadable; never negative.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    when = http_date(value)
    if when is None:
        return None
    reference = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())


def _request_id(headers: Mapping[str, str]) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in REQUEST_ID_HEADERS:
        if value := lowered.get(name.lower()):
            return value
    return None


def _messages(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [str(v) for v in value]
    return [str(value)]


def _summarise_fields(errors: Mapping[str, Any]) -> str:
    """One line such as ``limit: A valid integer is required.; lines[0].article: ...``."""
    flat: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list) and any(isinstance(v, (Mapping, list)) for v in value):
            for index, sub in enumerate(value):
                if sub:  # DRF leaves {} for list items without errors
                    walk(f"{prefix}[{index}]", sub)
        else:
            flat.append(f"{prefix}: {' '.join(_messages(value))}")

    walk("", errors)
    return "; ".join(flat) if flat else "invalid request"


def error_for_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str,
    path: str,
    now: datetime | None = None,
) -> APIError:
    """Map an error answer to the matching :class:`APIError` subclass. Pure; never raises.

    Only the first :data:`ERROR_BODY_LIMIT` bytes of ``body`` are read and kept.
    """
    body = body[:ERROR_BODY_LIMIT]
    retry_after = parse_retry_after(headers.get("Retry-After"), now=now)
    request_id = _request_id(headers)
    payload: Any = None
    if body.strip():
        try:
            payload = parse_json(body)
        except ValueError:
            payload = None
        if nests_deeper_than(payload):
            payload = None  # kept as its snippet: its field errors would be walked later

    detail: str | None = None
    errors: dict[str, Any] = {}
    non_field: list[str] = []
    if isinstance(payload, Mapping):
        raw_detail = payload.get("detail")
        if isinstance(raw_detail, str) and len(payload) <= 2:
            detail = raw_detail  # DRF's {"detail": ...} (sometimes with a "code")
        else:
            errors = {str(k): v for k, v in payload.items() if k != "non_field_errors"}
            non_field = _messages(payload.get("non_field_errors", []))
    elif isinstance(payload, list):
        non_field = _messages(payload)  # DRF's ValidationError raised with a list

    cls: type[APIError]
    if status >= 500:
        cls = ServerError
    else:
        cls = _BY_STATUS.get(status, APIError)
        if cls is BadRequestError and (errors or non_field) and detail is None:
            cls = ValidationError

    if detail is None:
        if errors or non_field:
            detail = _summarise_fields(
                {**errors, **({"non_field_errors": non_field} if non_field else {})}
            )
        elif body.strip():
            detail = f"unexpected body {snippet(body)!r}"
        else:
            detail = "empty body"

    return cls(
        status=status,
        detail=detail,
        method=method,
        path=path,
        errors=errors,
        non_field_errors=non_field,
        request_id=request_id,
        retry_after=retry_after,
        body=body,
    )
