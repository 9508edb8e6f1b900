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
    DEFAULT_POLL,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    PollPolicy,
    RetryPolicy,
    Timeout,
)
from ._convert import from_dict, make_converter, to_dict
from ._days import DEFAULT_TZ, business_day, business_days
from ._doctor import (
    Difference,
    DoctorReport,
    FilterFinding,
    JobsFinding,
    ResourceFinding,
    SchemaFinding,
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
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    PaginationLoopError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeout,
    ResumeTokenError,
    ServerError,
    SubmissionOutcomeUnknownError,
    TransportError,
    ValidationError,
)
from ._jobs.handle import JobHandle
from ._jobs.model import Job, JobFailure, JobResult, JobStatus
from ._jobs.scheduler import PollStats
from ._jobs.submissions import Order, OrderLine, OrderOption, Payment
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
from ._registry import DEFAULT_PATHS
from ._resources import Resource
from ._urls import encode_params
from ._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_PATHS",
    "DEFAULT_POLL",
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
    "Difference",
    "DoctorReport",
    "FilterFinding",
    "ForeignOriginError",
    "Job",
    "JobFailedError",
    "JobFailure",
    "JobHandle",
    "JobResult",
    "JobStatus",
    "JobTimeoutError",
    "JobsFinding",
    "Location",
    "NotFoundError",
    "OptionChoice",
    "Order",
    "OrderLine",
    "OrderOption",
    "Page",
    "PaginationLoopError",
    "Paginator",
    "Payment",
    "PaymentMethod",
    "PaymentMethodTotal",
    "PaymentMethodType",
    "PermissionDeniedError",
    "PollPolicy",
    "PollStats",
    "RateLimitError",
    "Receipt",
    "ReceiptLine",
    "ReceiptPayment",
    "ReceiptType",
    "Recipient",
    "RequestTimeout",
    "Resource",
    "ResourceFinding",
    "ResumeTokenError",
    "RetryPolicy",
    "SalesPoint",
    "SalesPointStatus",
    "SalesReport",
    "SchemaFinding",
    "ServerError",
    "Signature",
    "StockLevel",
    "SubmissionOutcomeUnknownError",
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
