"""bessa_async: an asyncio-first client for the bessa Kassa Public API.

The public names live here; everything else is private. Quick start::

    from bessa_async import BessaClient

    async with BessaClient(token="...") as client:
        page = await client.request("GET", "articles/", params={"limit": 10})

``bessa_async.testing`` ships a faithful fake of the API for tests and tries without a token.
Names for narrower audiences live in public modules: ``bessa_async.hooks`` (the events hooks
receive), ``bessa_async.resources`` (the classes behind ``client.<name>`` and their filters),
``bessa_async.doctor`` (the report's findings), ``bessa_async.export`` (spreadsheet rows).
"""

from __future__ import annotations

import importlib as _importlib
import warnings as _warnings
from typing import Final as _Final

from ._base.config import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_POLL,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    USE_CLIENT_DEFAULT,
    PollPolicy,
    RetryPolicy,
    Timeout,
    UseClientDefault,
)
from ._base.days import DEFAULT_TZ, business_day, business_days
from ._base.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BessaError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    DecodeError,
    ForeignOriginError,
    InputError,
    InvalidTypeError,
    InvalidValueError,
    NotFoundError,
    PaginationLoopError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeout,
    ResumeTokenError,
    ServerError,
    SubmissionOutcomeUnknownError,
    TransportError,
    UnknownTimeZoneError,
    ValidationError,
    WrongEventLoopError,
)
from ._base.urls import encode_params
from ._blocking import BlockingClient
from ._client import BessaClient
from ._instrument.hooks import Hooks
from ._instrument.otel import opentelemetry_hooks
from ._jobs.handle import JobHandle, JobTimeoutError
from ._jobs.model import (
    Job,
    JobFailedError,
    JobFailure,
    JobResult,
    JobStatus,
    OrderOutcome,
    PaymentOutcome,
)
from ._jobs.scheduler import PollStats
from ._jobs.submissions import Order, OrderLine, OrderOption, Payment
from ._listing.changes import DEFAULT_OVERLAP, ChangeBatch, ChangeFeed, SyncStats
from ._listing.pagination import ListingStats, Page, Paginator
from ._models.convert import from_dict, make_converter, to_dict
from ._models.records import (
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
from ._registry import DEFAULT_PATHS, natural_key
from ._resources.resource import AnyResource, Resource
from ._transport.gate import RateGateBackend
from ._transport.raw import RawResponse
from ._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_ANSWER_BYTES",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_OVERLAP",
    "DEFAULT_PATHS",
    "DEFAULT_POLL",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TZ",
    "USE_CLIENT_DEFAULT",
    "APIError",
    "AnyResource",
    "Article",
    "ArticleGroup",
    "ArticleGroupTotal",
    "ArticleOption",
    "AuthenticationError",
    "BadRequestError",
    "BessaClient",
    "BessaError",
    "BlockingClient",
    "ChangeBatch",
    "ChangeFeed",
    "ClientClosedError",
    "Closing",
    "ClosingType",
    "Company",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "DecodeError",
    "ForeignOriginError",
    "Hooks",
    "InputError",
    "InvalidTypeError",
    "InvalidValueError",
    "Job",
    "JobFailedError",
    "JobFailure",
    "JobHandle",
    "JobResult",
    "JobStatus",
    "JobTimeoutError",
    "ListingStats",
    "Location",
    "NotFoundError",
    "OptionChoice",
    "Order",
    "OrderLine",
    "OrderOption",
    "OrderOutcome",
    "Page",
    "PaginationLoopError",
    "Paginator",
    "Payment",
    "PaymentMethod",
    "PaymentMethodTotal",
    "PaymentMethodType",
    "PaymentOutcome",
    "PermissionDeniedError",
    "PollPolicy",
    "PollStats",
    "RateGateBackend",
    "RateLimitError",
    "RawResponse",
    "Receipt",
    "ReceiptLine",
    "ReceiptPayment",
    "ReceiptType",
    "Recipient",
    "RequestTimeout",
    "Resource",
    "ResumeTokenError",
    "RetryPolicy",
    "SalesPoint",
    "SalesPointStatus",
    "SalesReport",
    "ServerError",
    "Signature",
    "StockLevel",
    "SubmissionOutcomeUnknownError",
    "SyncStats",
    "Table",
    "TaxLine",
    "TaxRate",
    "Timeout",
    "TransportError",
    "UnknownTimeZoneError",
    "UseClientDefault",
    "User",
    "ValidationError",
    "WrongEventLoopError",
    "__version__",
    "business_day",
    "business_days",
    "encode_params",
    "from_dict",
    "make_converter",
    "natural_key",
    "opentelemetry_hooks",
    "to_dict",
]

_MOVED: _Final = {
    **dict.fromkeys(
        [
            "ALLOWED_QUERY_KEYS",
            "CallEvent",
            "OperationEvent",
            "PageEvent",
            "PollEvent",
            "RateLimitedEvent",
            "RequestEvent",
            "ResponseEvent",
            "RetryEvent",
        ],
        "bessa_async.hooks",
    ),
    **dict.fromkeys(
        [
            "Difference",
            "DoctorReport",
            "FilterFinding",
            "JobsFinding",
            "ResourceFinding",
            "SchemaFinding",
        ],
        "bessa_async.doctor",
    ),
    **dict.fromkeys(["EXPORT_COLUMNS", "receipt_rows", "write_csv"], "bessa_async.export"),
    **dict.fromkeys(
        [
            "ArticleFilters",
            "ArticleGroups",
            "ArticleOptions",
            "Articles",
            "ByLocationFilters",
            "ClosingFilters",
            "Closings",
            "Companies",
            "JobFilters",
            "Jobs",
            "ListFilters",
            "ListOptions",
            "LocationFilters",
            "Locations",
            "OrderJobs",
            "PaymentJobs",
            "PaymentMethods",
            "RawResource",
            "ReceiptFilters",
            "Receipts",
            "Reports",
            "RequestOptions",
            "SalesPoints",
            "StockLevelFilters",
            "StockLevels",
            "Tables",
            "TaxRates",
            "Users",
        ],
        "bessa_async.resources",
    ),
}
"""Names that left the front door for a public module, still found here with a warning until
the next release."""


def __getattr__(name: str) -> object:
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module 'bessa_async' has no attribute {name!r}")
    _warnings.warn(
        f"bessa_async.{name} moved to {home}.{name}: import it from there (the old name goes "
        "in the next release)",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(_importlib.import_module(home), name)
