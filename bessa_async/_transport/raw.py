"""Answers with their status and headers: :class:`RawResponse`, ``with_raw_response``.

Most callers want the decoded body only; a backend that logs the request id, reads the server's
``Date`` or passes rate-limit headers on gets the answer's metadata next to the body, without a
second code path: ``await client.receipts.with_raw_response.get(id)``,
``await client.request(..., raw=True)``, and a listing's :attr:`Paginator.last_response`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final

import attrs

from .._base.errors import REQUEST_ID_HEADERS
from .._base.wire_time import http_date

if TYPE_CHECKING:
    from .session import Response

__all__ = ["LastResponse", "RawResponse", "raw_response"]

T = TypeVar("T")
U = TypeVar("U")


@final
@attrs.frozen(kw_only=True)
class RawResponse(Generic[T]):
    """One answer of the API: its status and headers next to its decoded body.

    Attributes:
        status: the HTTP status (2xx: an error status raises as usual).
        headers: the answer's headers; names are looked up without case.
        data: the decoded body: the model of a typed call, JSON for ``request()``, a page's
            JSON for :attr:`Paginator.last_response`.
        request_id: the server's request id (``X-Request-ID`` or a proxy's), to quote to
            support; None when the answer has none.
        method: the request's method.
        path: the request's path relative to the base URL (redirects followed).
    """

    status: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    data: T = attrs.field(repr=False)
    request_id: str | None
    method: str
    path: str

    @property
    def date(self) -> datetime | None:
        """The server's clock from the ``Date`` header, aware UTC (None if absent or unreadable)."""
        return http_date(self.headers.get("Date"))

    def with_data(self, data: U) -> RawResponse[U]:
        """The same answer with ``data`` as its body (e.g. the JSON decoded into a model)."""
        return RawResponse(
            status=self.status,
            headers=self.headers,
            data=data,
            request_id=self.request_id,
            method=self.method,
            path=self.path,
        )


def raw_response(response: Response) -> RawResponse[Any]:
    """The public view of a read answer (its JSON decoded)."""
    request_id = next(
        (value for name in REQUEST_ID_HEADERS if (value := response.headers.get(name))), None
    )
    return RawResponse(
        status=response.status,
        headers=response.headers,
        data=response.json(),
        request_id=request_id,
        method=response.method,
        path=response.path,
    )


@attrs.define
class LastResponse:
    """Where a listing keeps the answer of its most recent page request."""

    value: RawResponse[Any] | None = None
