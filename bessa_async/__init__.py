"""bessa_async: an asyncio-first client for the bessa Kassa Public API.

The public names live here; everything else is private. Quick start::

    from bessa_async import BessaClient

    async with BessaClient(token="...") as client:
        page = await client.request("GET", "articles/", params={"limit": 10})

``bessa_async.testing`` ships a faithful fake of the API for tests and tries without a token.
"""

from __future__ import annotations

from ._client import BessaClient
from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    RetryPolicy,
    Timeout,
)
from ._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BessaError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    DecodeError,
    ForeignOriginError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeout,
    ServerError,
    TransportError,
    ValidationError,
)
from ._urls import encode_params
from ._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BessaClient",
    "BessaError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "DecodeError",
    "ForeignOriginError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeout",
    "RetryPolicy",
    "ServerError",
    "Timeout",
    "TransportError",
    "ValidationError",
    "__version__",
    "encode_params",
]
