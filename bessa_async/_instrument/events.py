"""What the client tells its hooks: frozen event values, and the pure rules that keep them safe.

An event never holds the token (it is only ever in a request header, which no event carries),
a path is reduced to its template (ids become ``{id}``), and a query value is kept only for the
keys on :data:`ALLOWED_QUERY_KEYS` (cursors, page sizes, time bounds); any other value is
replaced by ``"REDACTED"``, as azure-core does, since filters can name people or references.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Final, final
from uuid import UUID

import attrs

from .._base.errors import APIError, DecodeError

__all__ = [
    "ALLOWED_QUERY_KEYS",
    "REDACTED",
    "CallEvent",
    "OperationEvent",
    "PageEvent",
    "PollEvent",
    "RateLimitedEvent",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "path_template",
    "redact_query",
    "retry_reason",
]

REDACTED: Final = "REDACTED"

_TIME_FIELDS: Final = ("timestamp", "updated", "created", "date", "day")
_BOUNDS: Final = ("", "__gte", "__gt", "__lt", "__lte")
#: Query keys whose values events show as sent; every other value is :data:`REDACTED`.
#: Query keys whose values events keep (cursors, paging, time bounds); any other value is
#: replaced by ``"REDACTED"``.
ALLOWED_QUERY_KEYS: Final = frozenset(
    {"cursor", "limit", "offset", "ordering", "page", "page_size"}
    | {f"{field}{bound}" for field in _TIME_FIELDS for bound in _BOUNDS}
)

_ID_SEGMENT: Final = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})$"
)

Query = tuple[tuple[str, str], ...]
Attribute = str | int | float | bool


def path_template(path: str) -> str:
    """``path`` with each id segment (a UUID or a number) written ``{id}``, and no query. Pure.

    ``"requests/orders/3f2c.../"`` becomes ``"requests/orders/{id}/"``: one name per endpoint,
    fit for a span name or a metric label (bounded, and free of data).
    """
    path = path.split("?", 1)[0]
    return "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/"))


def redact_query(pairs: Iterable[tuple[str, str]]) -> Query:
    """The query as sent, with the value of every key not on the allow-list redacted. Pure."""
    return tuple((k, v if k in ALLOWED_QUERY_KEYS else REDACTED) for k, v in pairs)


def retry_reason(exc: BaseException) -> str:
    """A short word for why an attempt failed: the status (``"503"``), ``"not JSON"`` for a
    2xx that was not, or the error's class (``"ConnectError"``). Pure."""
    if isinstance(exc, DecodeError):
        return "not JSON"
    if isinstance(exc, APIError):
        return str(exc.status)
    return type(exc).__name__


@final
@attrs.frozen(kw_only=True)
class RequestEvent:
    """An attempt starts (it may still wait for an in-flight slot or a 429's pause).

    ``call`` is the same for every attempt of one logical call, and unique in the process.
    """

    call: int
    method: str
    path: str
    """The path template (``receipts/{id}/``)."""
    query: Query
    """The query pairs, values redacted except for :data:`ALLOWED_QUERY_KEYS`."""
    server: str
    """The API's host."""
    attempt: int


@final
@attrs.frozen(kw_only=True)
class ResponseEvent:
    """An attempt ended: with an answer (``status``) or without one (``error``)."""

    call: int
    method: str
    path: str
    query: Query
    server: str
    attempt: int
    status: int | None
    """The HTTP status, None when no answer came."""
    error: str | None
    """The error's class name when the attempt failed (``"ServerError"``, ``"ConnectError"``),
    None for a 2xx."""
    elapsed: float
    """Seconds the attempt took on the client's clock, waiting to be sent included."""


@final
@attrs.frozen(kw_only=True)
class RetryEvent:
    """Another attempt will follow after ``wait`` seconds."""

    call: int
    method: str
    path: str
    attempt: int
    """The attempt that failed."""
    reason: str
    """``"503"``, ``"429"``, ``"not JSON"``, ``"ConnectError"``, ..."""
    wait: float


@final
@attrs.frozen(kw_only=True)
class RateLimitedEvent:
    """A 429 closed the client-wide gate: no request of the client starts for ``wait`` s."""

    call: int
    method: str
    path: str
    wait: float


@final
@attrs.frozen(kw_only=True)
class CallEvent:
    """A logical call (all its attempts and waits) ended."""

    call: int
    method: str
    path: str
    server: str
    attempts: int
    status: int | None
    """The last answer's status, None when the last attempt got none."""
    error: str | None
    """The class name of the error the call raised, None when it succeeded."""
    elapsed: float
    """Seconds from the call's start to its end, retries and waits included."""

    @property
    def retries(self) -> int:
        """Attempts after the first."""
        return self.attempts - 1


@final
@attrs.frozen(kw_only=True)
class PageEvent:
    """A list page was read."""

    resource: str
    items: int
    has_next: bool


@final
@attrs.frozen(kw_only=True)
class PollEvent:
    """A job's poll was answered."""

    job: UUID
    path: str
    """The job's path template (``requests/orders/{id}/``)."""
    status: str
    next_delay: float | None
    """Seconds until the next poll, None when the job has ended."""
    updated: datetime | None
    """When the job last changed, by the API: for an ended job, when it ended."""
    detection_lag: float | None
    """For an ended job, seconds from ``updated`` to this answer on the local wall clock (so
    clock skew between the API and this machine shows in it); None while it runs."""


@final
@attrs.frozen(kw_only=True)
class OperationEvent:
    """A composite operation ended: a listing (``"list"``: its resource, pages, items and
    shards), a ``"job.wait"`` (the job's kind and status), a sync run."""

    name: str
    attributes: tuple[tuple[str, Attribute], ...]
    """Safe facts about it (counts, a resource name, a status), never filter values."""
    error: str | None
    elapsed: float
