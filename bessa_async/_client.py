"""The client: one front object per token and base URL."""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, final, overload

import aiohttp
from yarl import URL

from ._base.config import (
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_POLL,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    TOKEN_ENV,
    USE_CLIENT_DEFAULT,
    PollPolicy,
    RetryPolicy,
    Timeout,
    TimeoutArg,
    UseClientDefault,
    as_timeout,
    call_timeout,
    check_max_answer_bytes,
    configured_base_url,
)
from ._base.errors import ConfigurationError, InvalidTypeError
from ._base.options import check_headers, check_method, merge_headers
from ._base.urls import validate_base_url
from ._doctor import DoctorReport, diagnose
from ._instrument.hooks import Hooks, check_hooks
from ._jobs.endpoints import Jobs, OrderJobs, PaymentJobs
from ._jobs.manager import JobManager
from ._listing.changes import LocalClock
from ._listing.filters import check_windows
from ._registry import TYPED_RESOURCES, client_paths
from ._resources.resource import (
    AnyResource,
    ArticleGroups,
    ArticleOptions,
    Articles,
    Closings,
    Companies,
    Locations,
    PaymentMethods,
    Receipts,
    Reports,
    SalesPoints,
    StockLevels,
    Tables,
    TaxRates,
    Users,
    any_resource,
)
from ._transport.gate import RateGateBackend, check_rate_gate
from ._transport.raw import RawResponse, raw_response
from ._transport.secret import check_token
from ._transport.session import Sender, check_max_in_flight, check_trace_configs, default_user_agent

__all__ = ["BessaClient"]

T = TypeVar("T")


def _base_url(base_url: str | None, *, allow_insecure: bool) -> URL:
    """The checked base URL; a refused one names the variable it came from."""
    url, source = configured_base_url(base_url)
    try:
        return validate_base_url(url, allow_insecure=allow_insecure)
    except ConfigurationError as exc:
        if source == "base_url":
            raise
        raise ConfigurationError(f"{source}: {exc}") from exc


@final
class BessaClient:
    """An asyncio client for the bessa Public API.

    Use it as an async context manager (or call :meth:`aclose`)::

        async with BessaClient(token="...") as client:
            page = await client.request("GET", "articles/", params={"limit": 10})

    :meth:`with_options` gives a view with other defaults (a short deadline for one route)
    that shares this client's session, in-flight limit and pause after a 429.

    Args:
        token: the API token from bessa's Manager; when None, the ``BESSA_TOKEN`` environment
            variable. It selects the tenant and is never logged or shown.
        base_url: the API root; paths are resolved against it. When None, the
            ``BESSA_BASE_URL`` environment variable if set, else the real API
            (:data:`DEFAULT_BASE_URL`). Each argument wins over its variable, so export both
            (a staging token with its staging URL) or pass both. Plain ``http://`` is accepted
            only for loopback hosts (the sandbox) unless ``allow_insecure`` is set.
        timeout: the deadline of each call in seconds (covering retries and their waits), or a
            :class:`Timeout` with connect and read limits as well.
        retry: when and how long to retry; :meth:`RetryPolicy.disabled` turns retries off.
        session: an ``aiohttp.ClientSession`` to borrow (it is never closed by the client).
        user_agent: a product token put before the library's own ``User-Agent``.
        max_in_flight: how many requests of this client may be in flight at once.
        allow_insecure: allow ``http://`` to a non-loopback host (the token travels in clear).
        clock: monotonic seconds; injected by tests together with ``sleep``.
        sleep: the coroutine used for every wait (backoff, ``Retry-After``, job polls).
        poll: how waiting jobs are polled (:class:`PollPolicy`); per call with ``poll=``.
        paths: override a typed resource's path, e.g. ``{"articles": "products/"}`` (the
            paths are inferred; see :data:`bessa_async.DEFAULT_PATHS` for the names). When
            None, the ``BESSA_PATHS`` environment variable is read instead
            (``articles=products/,users=staff/`` or a JSON object).
        hooks: functions called as the client works (:class:`Hooks`): requests, retries,
            pages, polls; ``opentelemetry_hooks()`` gives traces and metrics.
        trace_configs: ``aiohttp.TraceConfig`` objects for the session the client creates
            (aiohttp's own instrumentation); not with ``session=``, which has its own.
        max_answer_bytes: the largest answer read, counted decompressed
            (:data:`DEFAULT_MAX_ANSWER_BYTES`, 32 MiB); a larger one is a :class:`DecodeError`.
        rate_gate: a :class:`RateGateBackend` shared with other processes using the same token
            (:class:`bessa_async.redis.RedisRateGate`): one pause after a 429 for all of them,
            and with a rate, one pace. None (the default): this client's own pause only.

    A client may be created outside any event loop; it belongs to the loop it is first used
    in, and raises :class:`WrongEventLoopError` in any other (or after ``os.fork()``).

    Raises:
        ConfigurationError: no token or one that cannot be a token, an unsafe base URL, a bad
            option (all before anything is sent).
        InvalidTypeError: an option of the wrong type.
    """

    # One line each, for static typing; the list resources are set from the registry, where
    # each name, path and model is the class's own.
    companies: Companies
    """:class:`Companies`."""
    locations: Locations
    """:class:`Locations`."""
    sales_points: SalesPoints
    """:class:`SalesPoints`."""
    tax_rates: TaxRates
    """:class:`TaxRates`."""
    article_groups: ArticleGroups
    """:class:`ArticleGroups`."""
    articles: Articles
    """:class:`Articles`."""
    article_options: ArticleOptions
    """:class:`ArticleOptions`."""
    payment_methods: PaymentMethods
    """:class:`PaymentMethods`."""
    tables: Tables
    """:class:`Tables`."""
    users: Users
    """:class:`Users`."""
    receipts: Receipts
    """:class:`Receipts`."""
    closings: Closings
    """:class:`Closings`."""
    stock_levels: StockLevels
    """:class:`StockLevels`."""
    reports: Reports
    """:class:`Reports`."""
    orders: OrderJobs
    """``requests/orders/``: ``submit(Order(...))`` returns a :class:`JobHandle`."""
    payments: PaymentJobs
    """``requests/payments/``: ``submit(Payment(...))`` returns a :class:`JobHandle`."""
    jobs: Jobs
    """``resume(token)`` and ``as_completed(handles)`` for jobs of both kinds."""

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        session: aiohttp.ClientSession | None = None,
        user_agent: str | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        allow_insecure: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        paths: Mapping[str, str] | None = None,
        poll: PollPolicy = DEFAULT_POLL,
        hooks: Hooks | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        rate_gate: RateGateBackend | None = None,
    ) -> None:
        secret = check_token(token if token is not None else os.environ.get(TOKEN_ENV))
        resolved = client_paths(paths)
        if not isinstance(retry, RetryPolicy):
            raise InvalidTypeError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
        configs = check_trace_configs(trace_configs, session)
        sender = Sender(
            token=secret,
            base_url=_base_url(base_url, allow_insecure=allow_insecure),
            timeout=as_timeout(timeout),
            retry=retry,
            session=session,
            user_agent=default_user_agent(user_agent),
            max_in_flight=check_max_in_flight(max_in_flight),
            clock=clock,
            sleep=sleep,
            hooks=check_hooks(hooks),
            trace_configs=configs,
            max_answer_bytes=check_max_answer_bytes(max_answer_bytes),
            rate_gate=check_rate_gate(rate_gate),
        )
        jobs = JobManager(
            sender,
            paths={"order": resolved[OrderJobs.name], "payment": resolved[PaymentJobs.name]},
            poll=poll,
            max_in_flight=max_in_flight,
        )
        self._bind(sender, resolved, jobs, LocalClock(clock), view_of=None)

    def _bind(
        self,
        sender: Sender,
        paths: dict[str, str],
        jobs: JobManager,
        local_clock: LocalClock,
        *,
        view_of: BessaClient | None,
    ) -> None:
        self._local_clock = local_clock
        """This machine's wall clock as the client's ``clock`` moves it: what a changes feed
        checks the server's ``Date`` against (one per client, shared by its views)."""
        self._sender = sender
        self._paths = paths
        self._jobs = jobs
        self._view_of = view_of
        # Built here, not in __init__, so that a view's resources send through the view.
        for cls in TYPED_RESOURCES:
            setattr(self, cls.name, cls(self, paths[cls.name]))
        self.reports = Reports(self, paths[Reports.name])
        self.orders = OrderJobs(jobs)
        self.payments = PaymentJobs(jobs)
        self.jobs = Jobs(jobs)

    def with_options(
        self,
        *,
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> BessaClient:
        """A view of this client with other defaults: only the options given differ.

        The view shares this client's HTTP session, its ``max_in_flight`` slots, its pause
        after a 429, its hooks and its job poller; it is cheap, so make one per route::

            fast = client.with_options(timeout=2, retry=RetryPolicy.disabled())
            receipt = await fast.receipts.get(receipt_id)

        A view owns nothing: its :meth:`aclose` (and leaving ``async with view``) does
        nothing, and it works as long as this client is open. Views of views add up.

        Args:
            timeout: the view's deadline of each call (seconds or :class:`Timeout`); None for
                no deadline; left out, this client's. Each other option left None keeps
                this client's.
            retry: the view's retry policy.
            poll: the view's poll policy for waiting jobs.
            headers: headers sent with every request of the view, on top of this client's
                view headers; the library's own (``Authorization``, ``Idempotency-Key``,
                ``User-Agent``, ...) are refused.

        Raises:
            InvalidValueError: a header the library owns, or an unsafe header value.
            InvalidTypeError: an option of the wrong type.
        """
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidTypeError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
        if poll is not None and not isinstance(poll, PollPolicy):
            raise InvalidTypeError(f"poll must be a PollPolicy, got {type(poll).__name__}")
        extra = check_headers(headers, where="with_options(headers=)")
        sender = self._sender.derive(
            timeout=call_timeout(timeout) or self.timeout,
            retry=retry or self.retry,
            headers=merge_headers(self._sender.default_headers, extra),
        )
        view = BessaClient.__new__(BessaClient)
        BessaClient._bind(
            view,
            sender,
            self._paths,
            self._jobs.derive(sender, poll or self.poll),
            self._local_clock,
            view_of=self._view_of or self,
        )
        return view

    @overload
    def resource(self, path: str, model: None = None) -> AnyResource[dict[str, Any]]: ...
    @overload
    def resource(self, path: str, model: type[T]) -> AnyResource[T]: ...
    def resource(self, path: str, model: type[Any] | None = None) -> AnyResource[Any]:
        """Any list endpoint by path: items typed as ``model`` if given, else plain dicts.

        For paths the library does not model yet, or to read a typed resource at another path::

            async for row in client.resource("vouchers/").list(limit=100): ...
        """
        return any_resource(self, path, model)

    @property
    def paths(self) -> Mapping[str, str]:
        """Each typed resource's path (the defaults with ``paths=`` applied)."""
        return dict(self._paths)

    @property
    def base_url(self) -> str:
        """The API root every path is resolved against."""
        return str(self._sender.base_url)

    @property
    def hooks(self) -> Hooks | None:
        """The hooks given to the client (None without any hook set: no events are built)."""
        return self._sender.hooks

    @property
    def timeout(self) -> Timeout:
        """The default time limits of a call."""
        return self._sender.timeout

    @property
    def retry(self) -> RetryPolicy:
        """The default retry policy."""
        return self._sender.retry

    @property
    def poll(self) -> PollPolicy:
        """The default poll policy of waiting jobs."""
        return self._jobs.poll

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called (for a view: on the client it came from)."""
        return self._sender.closed

    @property
    def is_view(self) -> bool:
        """Whether this is a view from :meth:`with_options` (which owns nothing)."""
        return self._view_of is not None

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        if self._view_of is None:
            return f"<BessaClient base_url={self.base_url!r}{state}>"
        # Header names only: a value may be a credential.
        names = ",".join(sorted(self._sender.default_headers)) or "-"
        timeout = self.timeout.total
        return (
            f"<BessaClient view base_url={self.base_url!r} timeout={timeout!r} "
            f"attempts={self.retry.attempts} headers={names}{state}>"
        )

    async def __aenter__(self) -> Self:
        await self._sender.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop polling jobs and close the client's own HTTP session (a borrowed session stays
        open). Waits still running fail with ``ClientClosedError``; the jobs go on. Idempotent.

        On a view (:meth:`with_options`) it does nothing: the view shares the session and the
        poller of the client it came from, and closing that client ends both.

        Raises:
            WrongEventLoopError: called from another event loop than the client's.
        """
        if self._view_of is not None:
            return
        if not self.closed:
            self._sender.check_loop()  # its tasks and connections are only its loop's to end
        await self._jobs.aclose()
        await self._sender.close()

    def __del__(self) -> None:
        # Only a warning: a finaliser must not do I/O or touch the event loop. A view owns
        # nothing, so only the client it came from speaks.
        sender = getattr(self, "_sender", None)
        if sender is not None and self._view_of is None and sender.owns_open_session:
            warnings.warn(
                f"unclosed {self!r}: use 'async with BessaClient(...)' or 'await client.aclose()'",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )

    async def doctor(
        self, *, timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT
    ) -> DoctorReport:
        """Check where the API this client reaches differs from the library's model.

        Read-only and gentle: one small page per resource, one request at a time. See
        :class:`~bessa_async.doctor.DoctorReport` (and ``bessa doctor`` for the same from a shell).

        Args:
            timeout: one deadline in seconds for the whole run (left out: the client's
                ``timeout.total``; None: none); checks it leaves no time for are reported as
                not checked. Each read also keeps the client's own limits.
        """
        limits = call_timeout(timeout) or self.timeout
        total = limits.total
        return await diagnose(self, timeout=total, clock=self._sender.clock)

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = ...,
        json: Any = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: TimeoutArg = ...,
        retry: RetryPolicy | None = ...,
        raw: Literal[False] = ...,
    ) -> Any: ...
    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = ...,
        json: Any = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: TimeoutArg = ...,
        retry: RetryPolicy | None = ...,
        raw: Literal[True],
    ) -> RawResponse[Any]: ...
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
        retry: RetryPolicy | None = None,
        raw: bool = False,
    ) -> Any:
        """Send a request and return the decoded JSON answer (``None`` for 204).

        Args:
            method: HTTP method, e.g. ``"GET"``.
            path: a path relative to the base URL (``"articles/"``), or an absolute URL on the
                base URL's origin (a page's ``next``).
            params: query parameters; see :func:`bessa_async.encode_params` for the rules
                (aware datetimes only, ``Decimal`` amounts, lists repeat the name).
            json: a JSON body; ``Decimal``, ``UUID`` and aware datetimes are sent as strings.
            headers: extra headers; the library's own (``Authorization``, ``Idempotency-Key``,
                ``User-Agent``, ``Accept``, ``Content-Type``, ``Host``, and the body's framing
                such as ``Content-Length`` and ``Transfer-Encoding``) are refused.
            timeout: this call's deadline (seconds or :class:`Timeout`), covering its
                retries and their waits; None for no deadline; left out, the client's.
            retry: this call's retry policy, overriding the client's.
            raw: answer a :class:`RawResponse` (status, headers, request id, and the decoded
                JSON as ``data``) instead of the JSON alone.

        Raises:
            APIError: the API answered with an error status (a subclass per status).
            TransportError: no usable answer (``ConnectError``, ``RequestTimeout``, ...).
            DecodeError: a 2xx answer that is not JSON.
            ForeignOriginError: an absolute URL on another origin.
            InvalidValueError, InvalidTypeError: a method, parameter, body or header that
                cannot be sent safely (also ``ValueError`` / ``TypeError``); nothing was sent.
        """
        answer = await self._request_raw(
            check_method(method),
            path,
            params=params,
            json=json,
            headers=check_headers(headers, where="request(headers=)"),
            timeout=call_timeout(timeout),
            retry=retry,
        )
        return answer if raw else answer.data

    async def _request_raw(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
    ) -> RawResponse[Any]:
        """:meth:`request` after its checks; ``timeout`` None is the client's own."""
        if params:
            check_windows(params)  # ISO text without an offset, a window ending before it starts
        response = await self._sender.send(
            method,
            path,
            params=params,
            json_body=json,
            headers=headers,
            timeout=timeout,
            retry=retry,
        )
        return raw_response(response)
