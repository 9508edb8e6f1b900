"""``resource.with_raw_response``: a resource's reads with the answer's status and headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar, final

from .._base.config import USE_CLIENT_DEFAULT, TimeoutArg
from .._transport.raw import RawResponse

if TYPE_CHECKING:
    from .._base.options import ParamValue
    from .._listing.filters import IdLike

__all__ = ["RawResource"]

T = TypeVar("T")
ReadOne = Callable[["IdLike", object, object, TimeoutArg], Awaitable[RawResponse[T]]]
"""A resource's detail read: id, extra parameters, extra headers, timeout; checked, sent,
decoded."""


@final
class RawResource(Generic[T]):
    """``resource.with_raw_response``: the resource's reads, answering :class:`RawResponse`."""

    def __init__(self, path: str, read_one: ReadOne[T]) -> None:
        self._path = path
        self._read_one = read_one  # bound from the resource, as its own get uses it

    def __repr__(self) -> str:
        return f"<RawResource {self._path!r}>"

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
        return await self._read_one(id, extra_params, extra_headers, timeout)
