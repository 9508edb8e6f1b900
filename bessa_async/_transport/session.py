"""The I/O seam: the only module that awaits aiohttp, and only in :func:`exchange`.

One :class:`Sender` per client holds the aiohttp session (owned or borrowed), the token, the
in-flight limit and the shared rate-limit gate, and turns one logical call into attempts;
each attempt goes through :func:`exchange`, once per redirect hop.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import platform
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final, final
from urllib.parse import urlencode
from uuid import UUID

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .._base.config import DEFAULT_MAX_ANSWER_BYTES, RetryPolicy, Timeout
from .._base.errors import (
    ERROR_BODY_LIMIT,
    ClientClosedError,
    ConfigurationError,
    ConnectError,
    DecodeError,
    InvalidTypeError,
    InvalidValueError,
    RateLimitError,
    RequestTimeout,
    TransportError,
    WrongEventLoopError,
    error_for_response,
)
from .._base.jsontext import parse_json
from .._base.options import library_headers
from .._base.urls import (
    MAX_REDIRECTS,
    encode_params,
    redirect_target,
    relative_path,
    resolve,
    with_query,
)
from .._base.validate import is_int
from .._instrument.events import redact_query
from .._instrument.hooks import Hooks
from .._version import __version__
from ..typing import Clock, Sleep
from .gate import RateGateBackend, SharedGate, token_key
from .observe import CallObserver
from .retry import SAFE_METHODS, current_read, retry_call
from .secret import Secret

__all__ = ["RateGate", "Response", "Sender", "check_trace_configs"]

logger: Final = logging.getLogger("bessa_async")


_UNREAD: Final = object()


@final
@attrs.frozen(kw_only=True)
class Response:
    """One successful HTTP answer, read in full."""

    method: str
    url: URL
    path: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    cut_at: int | None = None
    """The ``max_answer_bytes`` a success's body was cut at (``body`` is that much of it)."""
    shown: bytes | None = attrs.field(default=None, repr=False, eq=False)
    """``body`` as an error may show it (the token masked), when that differs from ``body``."""
    _data: Any = attrs.field(default=_UNREAD, repr=False, eq=False)

    def decoded(self) -> Response:
        """This answer with its JSON decoded once and kept (what :meth:`json` then returns).

        Raises:
            DecodeError: as :meth:`json`.
        """
        return attrs.evolve(self, data=self._decode())

    def json(self) -> Any:
        """The decoded JSON body (``None`` for a 204 or a HEAD).

        Raises:
            DecodeError: the body is empty, not JSON, labelled as something else, or was cut
                at ``max_answer_bytes``.
        """
        return self._decode() if self._data is _UNREAD else self._data

    def _decode(self) -> Any:
        if self.status == 204 or self.method == "HEAD":
            return None
        content_type = self.headers.get("Content-Type", "")
        mime = content_type.split(";", 1)[0].strip().lower()

        def failure(message: str) -> DecodeError:
            return DecodeError(
                message,
                status=self.status,
                content_type=content_type or None,
                body=self.body if self.shown is None else self.shown,
                method=self.method,
                path=self.path,
            )

        if self.cut_at is not None:
            raise failure(
                f"the API's answer is larger than max_answer_bytes={self.cut_at:,} (counted "
                "decompressed); stopped reading it there"
            )
        if not self.body.strip():
            raise failure("the API answered with an empty body where JSON was expected")
        if mime and mime != "application/json" and not mime.endswith("+json"):
            raise failure(f"expected JSON but the API answered {mime!r}")
        try:
            return parse_json(self.body)
        except ValueError as exc:
            problem = str(exc)
        # Raised out here, not chained: json's error keeps the whole document, token and all.
        raise failure(f"the API's answer is not valid JSON ({problem})")


class RateGate:
    """The client-wide pause after a 429: no request of the client starts before ``until``."""

    def __init__(self, clock: Clock, sleep: Sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self.until = 0.0
        self.pause = 0.0
        """The latest pause asked for, in seconds (as capped by the caller)."""

    def block(self, seconds: float) -> None:
        """Hold every request back for ``seconds`` from now (never shortens a longer pause)."""
        self.pause = seconds
        self.until = max(self.until, self._clock() + seconds)

    def remaining(self) -> float:
        """Seconds left until the gate opens."""
        return max(0.0, self.until - self._clock())

    async def wait(self) -> None:
        """Sleep until the gate is open (it may be pushed back while sleeping)."""
        while (left := self.remaining()) > 0:
            await self._sleep(left)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidValueError(f"{value} cannot be sent as an amount")
        return f"{value:f}"
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidValueError(
                f"naive datetime {value.isoformat()} in a request body; make it aware"
            )
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise InvalidTypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_body(body: Any) -> bytes:
    """Serialise a JSON body (``Decimal``, ``UUID`` and aware datetimes as strings).

    Raises:
        InvalidValueError: NaN or infinity, an int over 4,300 digits, a value that contains
            itself, nesting too deep.
        InvalidTypeError: a value or a key JSON cannot hold.
    """
    try:
        text = json.dumps(body, default=_json_default, separators=(",", ":"), allow_nan=False)
    except (InvalidValueError, InvalidTypeError):
        raise
    except RecursionError as exc:
        raise InvalidValueError("the JSON body is nested too deeply to be sent") from exc
    except ValueError as exc:
        why = "an int of more than 4,300 digits" if "digits" in str(exc) else str(exc)
        raise InvalidValueError(f"the JSON body cannot be sent: {why}") from exc
    except TypeError as exc:
        raise InvalidTypeError(f"the JSON body cannot be sent: {exc}") from exc
    return text.encode()


def default_user_agent(extra: str | None = None) -> str:
    base = (
        f"bessa-async/{__version__} aiohttp/{aiohttp.__version__} "
        f"python/{platform.python_version()}"
    )
    return f"{extra} {base}" if extra else base


@final
@attrs.frozen(kw_only=True)
class _Call:
    """One logical request as every attempt of it sends it (built once by :meth:`Sender.send`)."""

    method: str
    url: URL
    path: str
    """``url`` relative to the base URL, for errors and logs."""
    body: bytes | None
    headers: CIMultiDict[str]
    limits: Timeout
    policy: RetryPolicy
    deadline: float | None
    """Absolute, on the sender's clock (None: no deadline)."""


@attrs.frozen(kw_only=True)
class _Hop:
    """The request an aiohttp error happened on, as the mapped error's message needs it."""

    method: str
    url: URL
    path: str
    read_timeout: float | None

    def not_sent(self, why: str) -> TransportError:
        """The connection never opened: nothing reached the server."""
        return ConnectError(f"{self.method} {self.path}: {why}", method=self.method, path=self.path)

    def sent(self, kind: type[TransportError], why: str) -> TransportError:
        """The request may have reached the server: its outcome is unknown."""
        return kind(
            f"{self.method} {self.path}: {why}",
            method=self.method,
            path=self.path,
            request_sent=True,
        )


def _connect_timed_out(exc: aiohttp.ConnectionTimeoutError, hop: _Hop) -> TransportError:
    return hop.not_sent(f"timed out opening a connection to {hop.url.host}")


def _cannot_connect(exc: aiohttp.ClientConnectorError, hop: _Hop) -> TransportError:
    return hop.not_sent(f"cannot connect to {hop.url.host}:{hop.url.port} ({exc.os_error})")


def _read_timed_out(exc: aiohttp.ServerTimeoutError, hop: _Hop) -> TransportError:
    return hop.sent(RequestTimeout, f"no data from the server for {hop.read_timeout:g} s")


def _malformed_answer(exc: aiohttp.ClientResponseError, hop: _Hop) -> TransportError:
    return hop.sent(TransportError, f"malformed answer ({exc.status}, {exc.message})")


def _connection_failed(exc: Exception, hop: _Hop) -> TransportError:
    reason = str(exc) or type(exc).__name__
    return hop.sent(TransportError, f"the connection failed after the request was sent ({reason})")


_WireError = type[Exception] | tuple[type[Exception], ...]
#: Everything the wire can raise; each row below is a narrower kind of it.
_ANY_WIRE_ERROR: Final = (aiohttp.ClientError, OSError)
#: (aiohttp failure, the library error it becomes, keep it as ``__cause__``), most specific
#: first: the first row that matches wins, as in a ladder of ``except`` clauses.
_WIRE_ERRORS: Final[tuple[tuple[_WireError, Callable[[Any, _Hop], TransportError], bool], ...]] = (
    (aiohttp.ConnectionTimeoutError, _connect_timed_out, True),
    (aiohttp.ClientConnectorError, _cannot_connect, True),
    (aiohttp.ServerTimeoutError, _read_timed_out, True),
    # Its repr carries the request headers, token included: it must not be chained.
    (aiohttp.ClientResponseError, _malformed_answer, False),
    (_ANY_WIRE_ERROR, _connection_failed, True),
)


async def exchange(
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    *,
    path: str,
    body: bytes | None,
    headers: CIMultiDict[str],
    timeout: aiohttp.ClientTimeout,
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
) -> Response:
    """Send one request as given and read its answer: the only await on aiohttp.

    Redirects are returned, not followed; ``path`` names the request in errors. The answer is
    read as it is decompressed, and no further than ``max_answer_bytes``: a success cut there
    is returned with :attr:`Response.cut_at` set, and decoding it is a ``DecodeError`` (what a
    write's caller does with an accepted answer it cannot read). Of an answer that is not a
    success, only the first :data:`ERROR_BODY_LIMIT` bytes are read. The rest of a cut answer
    is never decompressed, and its connection is closed instead of reused.

    Raises:
        TransportError: no usable answer (``ConnectError``, ``RequestTimeout``, ...).
    """
    try:
        async with session.request(
            method, url, data=body, headers=headers, allow_redirects=False, timeout=timeout
        ) as resp:
            success = 200 <= resp.status < 300
            limit = max_answer_bytes if success else min(max_answer_bytes, ERROR_BODY_LIMIT)
            payload, whole = await _read_at_most(resp.content, limit)
            if not whole:
                resp.close()  # the rest stays unread: this connection cannot serve another
            # A proxy's debug page or a captive portal may echo the request's headers: an error
            # body is kept masked; a success's data stays as sent, masked where an error shows it.
            masked = _without_token(payload, headers)
            if not success:
                payload = masked
            return Response(
                method=method,
                url=resp.url,
                path=path,
                status=resp.status,
                headers=resp.headers,
                body=payload,
                cut_at=None if whole or not success else limit,
                shown=None if masked is payload else masked,
            )
    except _ANY_WIRE_ERROR as exc:
        hop = _Hop(method=method, url=url, path=path, read_timeout=timeout.sock_read)
        build, keep_cause = next(
            (build, keep) for kind, build, keep in _WIRE_ERRORS if isinstance(exc, kind)
        )
        failure, cause = build(exc, hop), (exc if keep_cause else None)
    # Raised out here, not in the handler: there it would keep the aiohttp error as its
    # __context__ even "from None", and a ClientResponseError's repr shows the request's
    # headers, token included.
    raise failure from cause


def _without_token(body: bytes, headers: Mapping[str, str]) -> bytes:
    """``body`` with the token the request carried masked, wherever the server echoed it."""
    token = headers.get("Authorization", "").partition(" ")[2].encode()
    return body.replace(token, b"********") if token and token in body else body


async def _read_at_most(stream: aiohttp.StreamReader, limit: int) -> tuple[bytes, bool]:
    """The body as aiohttp decompresses it, up to ``limit`` bytes; and whether that is all."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream.iter_any():
        size += len(chunk)
        if size > limit:
            chunks.append(chunk[: len(chunk) - (size - limit)])
            return b"".join(chunks), False
        chunks.append(chunk)
    return b"".join(chunks), True


class _Connection:
    """What a client shares with its views: the aiohttp session (owned or borrowed), whether
    the client was closed, and the event loop (and process) it belongs to: the one it was
    first used in, since a client may be built before any loop runs."""

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        max_in_flight: int,
        trace_configs: Sequence[aiohttp.TraceConfig] | None,
    ) -> None:
        self.session = session
        self.owns_session = session is None
        self.max_in_flight = max_in_flight
        self.trace_configs = list(trace_configs) if trace_configs else None
        self.closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None

    def check_loop(self) -> None:
        """Bind the client to the running loop on its first use; later, refuse any other.

        Raises:
            WrongEventLoopError: another loop, or a process forked after the first use.
        """
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop, self._pid = loop, os.getpid()
        elif self._pid != os.getpid():
            raise WrongEventLoopError(
                "this BessaClient was used in the parent process before os.fork(); its "
                "connections belong to the parent: create a new BessaClient in this process "
                "(nothing was sent)"
            )
        elif loop is not self._loop:
            raise WrongEventLoopError(
                "this BessaClient belongs to another event loop (the one it was first used "
                "in); its connections cannot be used from this one: create one BessaClient per "
                "event loop (per thread, per asyncio.run(), per Celery task or pytest event "
                "loop scope) and close it in its own loop (nothing was sent)"
            )

    @property
    def owns_open_session(self) -> bool:
        return self.owns_session and self.session is not None and not self.session.closed

    def ensure_session(self) -> aiohttp.ClientSession:
        if self.closed:
            raise ClientClosedError("this BessaClient is closed; create a new one")
        self.check_loop()
        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.max_in_flight, limit_per_host=self.max_in_flight
                ),
                cookie_jar=aiohttp.DummyCookieJar(),  # an API client keeps no cookies
                trust_env=False,
                trace_configs=self.trace_configs,
            )
        elif self.session.closed:
            raise ClientClosedError(
                "the aiohttp.ClientSession passed to BessaClient is closed; pass an open one"
            )
        return self.session

    async def close(self) -> None:
        if self.owns_open_session:
            self.check_loop()  # a session is closed in its own loop, or not at all
        self.closed = True
        if self.owns_open_session:
            assert self.session is not None
            await self.session.close()


def check_trace_configs(
    configs: Sequence[aiohttp.TraceConfig] | None, session: aiohttp.ClientSession | None
) -> list[aiohttp.TraceConfig] | None:
    """The checked ``trace_configs=``: only for a session the client creates."""
    if configs is None:
        return None
    if isinstance(configs, aiohttp.TraceConfig | str | bytes) or not all(
        isinstance(config, aiohttp.TraceConfig) for config in configs
    ):
        raise InvalidTypeError("trace_configs must be a list of aiohttp.TraceConfig")
    if session is not None and configs:
        raise ConfigurationError(
            "trace_configs= applies to the session the client creates; with session=, give "
            "the trace configs to that aiohttp.ClientSession instead"
        )
    return list(configs)


class Sender:
    """Sends requests for one client: deadline, retries, rate gate, in-flight limit, logging."""

    def __init__(
        self,
        *,
        token: Secret,
        base_url: URL,
        timeout: Timeout,
        retry: RetryPolicy,
        session: aiohttp.ClientSession | None,
        user_agent: str,
        max_in_flight: int,
        clock: Clock,
        sleep: Sleep,
        hooks: Hooks | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        rate_gate: RateGateBackend | None = None,
    ) -> None:
        self.base_url = base_url
        self.max_answer_bytes = max_answer_bytes
        self.hooks = hooks
        self.timeout = timeout
        self.retry = retry
        self.default_headers: Mapping[str, str] = {}
        """Sent with every request (a view's ``headers=``), checked by whoever set them."""
        self._token = token
        self._connection = _Connection(session, max_in_flight, trace_configs)
        self._user_agent = user_agent
        self._slots = asyncio.Semaphore(max_in_flight)
        self.clock = clock
        self.sleep = sleep
        self.gate = RateGate(clock, sleep)
        self.shared = None if rate_gate is None else SharedGate(rate_gate, token_key(token), clock)
        """The pause (and pace) shared with other processes using the token, if any."""
        self._rng = random.Random()

    def derive(self, *, timeout: Timeout, retry: RetryPolicy, headers: Mapping[str, str]) -> Sender:
        """A sender with other defaults that shares this one's session, in-flight slots, rate
        gate, hooks and token (what a client's view sends through)."""
        view = copy.copy(self)  # shallow: the slots, the gate and the connection are shared
        view.timeout = timeout
        view.retry = retry
        view.default_headers = dict(headers)
        return view

    @property
    def closed(self) -> bool:
        """Whether the client (or the client a view came from) was closed."""
        return self._connection.closed

    @property
    def owns_open_session(self) -> bool:
        """Whether we created an aiohttp session that is still open (ours to close)."""
        return self._connection.owns_open_session

    def _ensure_session(self) -> aiohttp.ClientSession:
        return self._connection.ensure_session()

    async def open(self) -> None:
        self._ensure_session()

    def check_loop(self) -> None:
        """Refuse a loop (or a forked process) the client does not belong to."""
        self._connection.check_loop()

    async def close(self) -> None:
        await self._connection.close()

    def _headers(self, extra: Mapping[str, str] | None, has_body: bool) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict(
            library_headers(self._user_agent, has_body=has_body)
        )
        headers.update(self.default_headers)
        # A caller's headers were checked where they came in (check_headers, against the same
        # table of owned names); the only other source is the job manager's Idempotency-Key.
        headers.update(extra or {})
        return headers

    async def send(
        self,
        method: str,
        target: str | URL,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> Response:
        """Send one logical request; return the 2xx answer or raise a mapped error.

        The answer of a request that may be repeated (GET, HEAD, OPTIONS) is decoded within
        its attempt (:meth:`Response.json` returns it), so a 2xx whose body is not JSON is
        retried like a 503. A write's answer is left to its caller: it is never sent again
        for an unreadable answer, since it was accepted.

        ``deadline`` is an absolute time on :attr:`clock`, for a call made of several requests
        that one deadline covers; the earlier of it and ``timeout.total`` from now applies.
        """
        method = method.upper()
        url = with_query(resolve(self.base_url, target), encode_params(params))
        body = None if json_body is None else encode_body(json_body)
        request_headers = self._headers(headers, body is not None)
        limits = timeout or self.timeout
        policy = retry or self.retry
        own = None if limits.total is None else self.clock() + limits.total
        deadline = own if deadline is None else deadline if own is None else min(own, deadline)
        session = self._ensure_session()
        # A page of a long read: its retries draw on the read's budget, and its on_page hook
        # keeps this request's deadline.
        read = current_read()
        budget = None
        if read is not None:
            read.started(deadline, self.clock)
            budget = read.budget if method in SAFE_METHODS else None

        call = _Call(
            method=method,
            url=url,
            path=relative_path(self.base_url, url),
            body=body,
            headers=request_headers,
            limits=limits,
            policy=policy,
            deadline=deadline,
        )

        async def attempt(number: int) -> Response:
            return await self._attempt(session, call, number)

        hooks = self.hooks
        if hooks is None:  # the only cost of hooks to a client without them
            return await retry_call(
                attempt,
                method=method,
                policy=policy,
                deadline=deadline,
                clock=self.clock,
                sleep=self.sleep,
                rng=self._rng,
                budget=budget,
            )
        observer = CallObserver(
            hooks,
            method=method,
            url=url,
            base_url=self.base_url,
            clock=self.clock,
            gate=self.gate,
            deadline=deadline,
        )
        try:
            response = await retry_call(
                observer.attempts_of(attempt),
                method=method,
                policy=policy,
                deadline=deadline,
                clock=self.clock,
                sleep=self.sleep,
                rng=self._rng,
                on_retry=observer.retried,
                budget=budget,
            )
        except BaseException as exc:
            await observer.ended(None, exc)
            raise
        await observer.ended(response.status, None)
        return response

    def _remaining(self, deadline: float | None) -> float | None:
        return None if deadline is None else deadline - self.clock()

    async def _attempt(self, session: aiohttp.ClientSession, call: _Call, number: int) -> Response:
        """Attempt ``number`` of ``call``: a slot, the exchange, its answer checked."""
        method, url, path, limits = call.method, call.url, call.path, call.limits
        policy, deadline = call.policy, call.deadline
        queued = time.perf_counter()
        sent: float | None = None
        try:
            # One budget for the wait to be sent and the exchange, as the deadline left now.
            async with asyncio.timeout(self._remaining(deadline)):
                await self._take_slot(method, path, limits, policy, deadline)
                sent = time.perf_counter()
                try:
                    response = await self._follow_redirects(
                        session, method, url, call.body, call.headers, limits
                    )
                finally:
                    self._slots.release()
        except TransportError as exc:
            if sent is not None:
                self._log(method, url, type(exc).__name__, number, queued, sent)
            raise
        except TimeoutError as exc:
            if sent is None:  # still waiting for a slot: nothing was sent
                raise _too_late(method, path, limits, request_sent=False) from exc
            self._log(method, url, "deadline", number, queued, sent)
            raise _too_late(method, path, limits, request_sent=True) from exc
        if 200 <= response.status < 300 and method in SAFE_METHODS:
            answered = time.perf_counter()
            try:
                response = response.decoded()
            except DecodeError:
                outcome = f"{response.status} not JSON"
                self._log(method, response.url, outcome, number, queued, sent, answered)
                raise
            self._log(method, response.url, response.status, number, queued, sent, answered)
        else:
            self._log(method, response.url, response.status, number, queued, sent)
        if response.status >= 400:
            error = error_for_response(
                response.status, response.headers, response.body, method=method, path=path
            )
            if response.status == 429 and error.retry_after is not None:
                # Capped: a huge Retry-After must not shut the client for good.
                self.gate.block(policy.capped_wait(error.retry_after))
                if self.shared is not None:
                    await self.shared.block(self.gate.pause)
            raise error
        if response.status >= 300:
            raise error_for_response(
                response.status, response.headers, response.body, method=method, path=path
            )
        return response

    async def _take_slot(
        self, method: str, path: str, limits: Timeout, policy: RetryPolicy, deadline: float | None
    ) -> None:
        """Hold an in-flight slot, with the rate gate open; the caller releases the slot.

        The gate is checked once the slot is taken, right before sending: a call that queued
        for a slot when a 429 closed the gate must not go out during the pause. A call that
        finds the gate closed gives its slot back while it waits: nothing may be sent during
        the pause anyway, and so every queued call gets to see the gate and, when the pause
        outlasts its deadline, fails at once with RateLimitError instead of timing out in the
        queue behind calls that only wait. With a shared gate, an open gate is then followed by
        the request's turn there, waited for with the slot held (the turn is taken).

        Raises:
            RateLimitError: the pause would outlast the call's deadline or
                ``policy.max_retry_after``.
            RequestTimeout: the deadline passed while waiting (nothing was sent).
        """
        while True:
            remaining = self._remaining(deadline)
            if remaining is not None and remaining <= 0:
                raise _too_late(method, path, limits, request_sent=False)
            await self._slots.acquire()
            wait = self.gate.remaining()
            if wait <= 0:
                if self.shared is None or await self._shared_turn(method, path, policy, deadline):
                    return
                continue  # this client's own gate closed meanwhile: the slot was given back
            self._slots.release()
            remaining = self._remaining(deadline)
            if not policy.honours_wait(wait) or (remaining is not None and wait >= remaining):
                raise _throttled(method, path, wait)
            await self.gate.wait()

    async def _shared_turn(
        self, method: str, path: str, policy: RetryPolicy, deadline: float | None
    ) -> bool:
        """Wait for this request's turn at the shared gate, holding its slot (a turn is taken:
        the request goes after it); False, with the slot given back, when this client's own
        gate closed during the wait."""
        assert self.shared is not None
        try:
            wait = await self.shared.turn(policy.max_retry_after)
            if wait > 0:
                remaining = self._remaining(deadline)
                if remaining is not None and wait >= remaining:
                    raise _throttled(method, path, wait)
                await self.sleep(wait)
        except BaseException:
            self._slots.release()
            raise
        if self.gate.remaining() > 0:
            self._slots.release()
            return False
        return True

    async def _follow_redirects(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        body: bytes | None,
        headers: CIMultiDict[str],
        limits: Timeout,
    ) -> Response:
        """One attempt: the request, then the redirects that :func:`redirect_target` allows."""
        client_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=limits.connect, sock_read=limits.read
        )
        for _ in range(MAX_REDIRECTS + 1):
            sent_headers = CIMultiDict(headers)
            # Added per hop: redirect_target() refused any hop off the base origin.
            sent_headers["Authorization"] = f"Token {self._token.reveal()}"
            response = await exchange(
                session,
                method,
                url,
                path=relative_path(self.base_url, url),
                body=body,
                headers=sent_headers,
                timeout=client_timeout,
                max_answer_bytes=self.max_answer_bytes,
            )
            target = redirect_target(
                self.base_url,
                method,
                response.url,
                response.status,
                response.headers.get("Location"),
            )
            if target is None:
                return response
            url = target
        raise TransportError(
            f"{method} {relative_path(self.base_url, url)}: more than {MAX_REDIRECTS} redirects",
            method=method,
            path=relative_path(self.base_url, url),
            request_sent=True,
        )

    def _log(
        self,
        method: str,
        url: URL,
        outcome: object,
        attempt: int,
        queued: float,
        sent: float,
        answered: float | None = None,
    ) -> None:
        """One DEBUG line per attempt: method, path, the query with only the values
        :func:`redact_query` keeps, the outcome, and the time at the server (the exchange,
        redirects included) apart from the time spent waiting to be sent, for an in-flight
        slot or a 429's pause; both also on the record, as ``elapsed`` and ``waited``
        (seconds)."""
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = (time.perf_counter() if answered is None else answered) - sent
            waited = sent - queued
            target = relative_path(self.base_url, url)
            if url.raw_query_string:  # filter values redacted, as in the hooks' events
                target += "?" + urlencode(redact_query(url.query.items()), safe=",:")
            logger.debug(
                "%s %s -> %s (attempt %d, %.3f s, after %.3f s waiting to be sent)",
                method,
                target,
                outcome,
                attempt,
                elapsed,
                waited,
                extra={"elapsed": elapsed, "waited": waited},
            )


def _throttled(method: str, path: str, wait: float) -> RateLimitError:
    return RateLimitError(
        status=429,
        detail="the API throttled this client; waiting would pass this call's "
        "deadline or the longest wait allowed",
        method=method,
        path=path,
        retry_after=wait,
    )


def _too_late(method: str, path: str, limits: Timeout, *, request_sent: bool) -> RequestTimeout:
    # A composite call's deadline may be the only one (``Timeout(total=None)``).
    limit = "" if limits.total is None else f" of {limits.total:g} s"
    return RequestTimeout(
        f"{method} {path}: the call's deadline{limit} passed",
        method=method,
        path=path,
        request_sent=request_sent,
    )


def check_max_in_flight(value: int) -> int:
    if not is_int(value) or value < 1:
        raise ConfigurationError(f"max_in_flight must be a positive int, got {value!r}")
    return value
