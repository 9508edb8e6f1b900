"""``resource.with_raw_response``: a resource's reads with the answer's status and headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Generic, TypeVar, final

from .._base.config import USE_CLIENT_DEFAULT, TimeoutArg, call_timeout
from .._transport.raw import RawResponse

if TYPE_CHECKING:
    from .._base.options import ParamValue
    from .._listing.filters import IdLike
    from .resource import Resource

__all__ = ["RawResource"]

T = TypeVar("T")


@final
class RawResource(Generic[T]):
    """``resource.with_raw_response``: the resource's reads, answering :class:`RawResponse`."""

    def __init__(self, resource: Resource[T]) -> None:
        self._resource = resource

    def __repr__(self) -> str:
        return f"<RawResource {self._resource.path!r}>"

    async def get(
        self,
        id: IdLike,  # "id": the API's own word
        *,
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
        extra_params: Mapping[str, ParamValue] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> RawResponse[T]:
        """One item by id, as :meth:`Resource.get` (``timeout=`` too), with the answer's
        status and headers.

        Raises:
            InvalidValueError: ``id`` is not a UUID (nothing is sent).
            NotFoundError: no such item.
        """
        resource = self._resource
        target, params, headers = resource._detail(id, extra_params, extra_headers)
        raw = await resource._client._request_raw(
            "GET", target, params=params, headers=headers, timeout=call_timeout(timeout)
        )
        return raw.with_data(resource._decode_one(raw.data))
