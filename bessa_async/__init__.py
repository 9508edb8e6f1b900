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
from ._convert import from_dict, make_converter, to_dict
from ._days import DEFAULT_TZ, business_day, business_days
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
    PaginationLoopError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeout,
    ServerError,
    TransportError,
    ValidationError,
)
from ._models import (
    Article,
    ArticleGroup,
    ArticleGroupTotal,
    ArticleOption,
    Closing,
    ClosingType,
    Company,
    Location,
    OptionChoice,
    PaymentMethod,
    PaymentMethodTotal,
    PaymentMethodType,
    Receipt,
    ReceiptLine,
    ReceiptPayment,
    ReceiptType,
    Recipient,
    SalesPoint,
    SalesPointStatus,
    SalesReport,
    Signature,
    StockLevel,
    Table,
    TaxLine,
    TaxRate,
    User,
)
from ._pagination import Page, Paginator
from ._resources import DEFAULT_PATHS, Resource
from ._urls import encode_params
from ._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_PATHS",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TZ",
    "APIError",
    "Article",
    "ArticleGroup",
    "ArticleGroupTotal",
    "ArticleOption",
    "AuthenticationError",
    "BadRequestError",
    "BessaClient",
    "BessaError",
    "Closing",
    "ClosingType",
    "Company",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "DecodeError",
    "ForeignOriginError",
    "Location",
    "NotFoundError",
    "OptionChoice",
    "Page",
    "PaginationLoopError",
    "Paginator",
    "PaymentMethod",
    "PaymentMethodTotal",
    "PaymentMethodType",
    "PermissionDeniedError",
    "RateLimitError",
    "Receipt",
    "ReceiptLine",
    "ReceiptPayment",
    "ReceiptType",
    "Recipient",
    "RequestTimeout",
    "Resource",
    "RetryPolicy",
    "SalesPoint",
    "SalesPointStatus",
    "SalesReport",
    "ServerError",
    "Signature",
    "StockLevel",
    "Table",
    "TaxLine",
    "TaxRate",
    "Timeout",
    "TransportError",
    "User",
    "ValidationError",
    "__version__",
    "business_day",
    "business_days",
    "encode_params",
    "from_dict",
    "make_converter",
    "to_dict",
]
