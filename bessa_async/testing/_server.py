"""The sandbox: a stateful fake of the bessa Public API on loopback, built on aiohttp.web.

It answers the way Django REST Framework does (``../spec/public-api.md``): token authentication
with DRF's 401 bodies and ``WWW-Authenticate: Token``; 403 for a token without rights; Django's
301 to the trailing-slash URL; 405 with ``Allow``; field-map 400s for bad filter values and bodies;
cursor pagination (``limit`` default 25, clamped to ``max_limit``; an invalid ``limit`` falls back
to the default, as DRF's ``CursorPagination`` does; an unreadable cursor is a 404 ``Invalid
cursor``); ``next``/``previous`` as absolute URLs, or bare cursors with ``next_style="cursor"``.

Every request is recorded (without its ``Authorization`` header) in :attr:`Sandbox.requests`,
and faults can be injected per route (:mod:`._faults`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, Literal, Self, final

import attrs
from aiohttp import web

from ._cursor import Collection, Cursor, Item, Selection, paginate
from ._data import TenantData, generate_tenant
from ._drift import DEFAULT_DRIFT, Drift
from ._faults import Fault, FaultRule
from ._filters import (
    INVALID_BOOLEAN,
    INVALID_DATETIME,
    FieldErrors,
    invalid_uuid,
    micros,
    parse_bool,
    parse_timestamp,
    parse_uuid,
)
from ._jobs import Duration, IdempotencyConflict, JobBook, JobKind, public
from ._reports import sales_report
from ._schema import DOCS_PATH, docs_page, openapi

__all__ = ["RecordedRequest", "Sandbox"]

PREFIX: Final = "/v1/public/"
DEFAULT_LIMIT: Final = 25
_RECEIPT_TYPES: Final = ("invoice", "cancellation", "start", "null", "closing", "training")
_CLOSING_TYPES: Final = ("daily", "monthly", "yearly")
_JOB_STATUSES: Final = ("pending", "processing", "completed", "failed", "expired", "cancelled")
_RESTRICTED: Final = ("receipts", "reports/", "requests/")
_LIST_METHODS: Final = "GET, HEAD, OPTIONS"
_JOB_METHODS: Final = "GET, POST, HEAD, OPTIONS"


@final
@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One request as the sandbox saw it; the ``Authorization`` header is never kept."""

    method: str
    path: str
    """Relative to the API base, e.g. ``"articles/"``."""
    raw_path: str
    query: tuple[tuple[str, str], ...]
    """Form-decoded pairs, as Django reads them (a raw ``+`` becomes a space)."""
    raw_query: str
    headers: Mapping[str, str]
    authenticated_as: str | None
    """``"tenant-a"``, ``"tenant-b"``, ``"invalid"`` or None when no token was sent."""
    body: bytes
    time: float


@attrs.frozen
class _Spec:
    """The filters of one list endpoint."""

    time: str | None = None
    uuids: tuple[str, ...] = ()
    bools: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    choices: tuple[tuple[str, tuple[str, ...]], ...] = ()


_SPECS: Final[dict[str, _Spec]] = {
    "companies": _Spec(),
    "locations": _Spec(uuids=("company",)),
    "sales-points": _Spec(uuids=("location",)),
    "tax-rates": _Spec(),
    "article-groups": _Spec(),
    "articles": _Spec(uuids=("article_group",), bools=("active",), texts=("product_number",)),
    "article-options": _Spec(),
    "payment-methods": _Spec(),
    "tables": _Spec(uuids=("location",)),
    "users": _Spec(uuids=("location",)),
    "receipts": _Spec(
        time="timestamp", uuids=("sales_point", "location"), choices=(("type", _RECEIPT_TYPES),)
    ),
    "reports/closings": _Spec(
        time="timestamp", uuids=("sales_point",), choices=(("type", _CLOSING_TYPES),)
    ),
    "stock-levels": _Spec(uuids=("article", "location")),
    "requests/orders": _Spec(
        time="created",
        uuids=("sales_point",),
        texts=("reference",),
        choices=(("status", _JOB_STATUSES),),
    ),
}
_SPECS["requests/payments"] = _SPECS["requests/orders"]
_JOB_PATHS: Final[dict[str, JobKind]] = {"requests/orders": "order", "requests/payments": "payment"}
_NAMES: Final = {
    "companies": "Company",
    "locations": "Location",
    "sales-points": "SalesPoint",
    "tax-rates": "TaxRate",
    "article-groups": "ArticleGroup",
    "articles": "Article",
    "article-options": "ArticleOption",
    "payment-methods": "PaymentMethod",
    "tables": "Table",
    "users": "User",
    "receipts": "Receipt",
    "reports/closings": "Closing",
    "requests/orders": "Job",
    "requests/payments": "Job",
}


def _key_for(spec: _Spec) -> Callable[[Item], tuple[int, str]]:
    from datetime import datetime

    if spec.time is not None:
        field = spec.time
        return lambda item: (micros(datetime.fromisoformat(item[field])), item["id"])
    return lambda item: (0, item.get("id") or f"{item.get('article')}/{item.get('location')}")


@final
class _Tenant:
    def __init__(self, data: TenantData, book: Callable[[Collection], JobBook]) -> None:
        self.data = data
        self.collections: dict[str, Collection] = {
            path: Collection(
                items,
                key=_key_for(_SPECS[path]),
                id_field="id" if items and "id" in items[0] else None,
            )
            for path, items in data.resources().items()
        }
        # Payments add invoices: the job book writes into the served receipts.
        self.jobs = jobs = book(self.collections["receipts"])
        self.collections["requests/orders"] = jobs.jobs["order"]
        self.collections["requests/payments"] = jobs.jobs["payment"]
        self.articles = {a["id"]: a for a in data.articles}
        self.groups = {g["id"]: g for g in data.article_groups}
        self.methods = {m["id"]: m for m in data.payment_methods}


def _json(
    payload: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return web.Response(text=body, status=status, content_type="application/json", headers=headers)


def _detail(status: int, detail: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return _json({"detail": detail}, status, headers)


def _not_found(detail: str = "Not found.") -> web.Response:
    return _detail(404, detail)


def _reason(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def _fault_detail(code: int, retry_after: int | str | None) -> str:
    if code == 429:
        wait = retry_after if isinstance(retry_after, int) else 1
        return f"Request was throttled. Expected available in {wait} seconds."
    if code == 503:
        return "Service temporarily unavailable, try again later."
    if code >= 500:
        return "A server error occurred."
    return _reason(code)


def _fault_answer(fault: Fault) -> web.Response:
    code = fault.status_code
    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
    if fault.body == "json":
        return _detail(code, _fault_detail(code, fault.retry_after), headers)
    if fault.body == "html":
        title = f"{code} {_reason(code)}"
        page = (
            f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1>"
            "</center><hr><center>nginx</center></body></html>"
        )
        return web.Response(text=page, status=code, content_type="text/html", headers=headers)
    if 200 <= code < 300:
        # An empty 200 that claims to be JSON: what a misbehaving proxy sends.
        empty = web.Response(body=b"", status=code, headers=headers)
        empty.content_type = "application/json"
        return empty
    return web.Response(body=b"", status=code, headers=headers)


def _strict_constant(name: str) -> object:
    """DRF's JSONParser refuses NaN and the infinities, which Python's json would accept."""
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")


def _tokens(seed: int) -> tuple[str, str, str]:
    def one(label: str) -> str:
        return hashlib.sha1(f"bessa-sandbox:{seed}:{label}".encode()).hexdigest()

    return one("tenant-a"), one("tenant-b"), one("restricted")


@final
class Sandbox:
    """A fake bessa Public API on loopback, with two tenants, fault injection and a request log.

    Example::

        async with Sandbox(receipts=500) as sb:
            async with BessaClient(sb.token, base_url=sb.url) as client:
                ...

    Args:
        seed: seeds the generated data and the tokens (same seed, same data and tokens).
        receipts: receipts of tenant A (tenant B gets a tenth of that, at least one).
        latency: seconds added to every answer.
        next_style: ``"url"`` (DRF's absolute URLs) or ``"cursor"`` (bare cursor strings).
        host, port: where to listen; port 0 picks a free one.
        max_limit: the largest page size; larger ``limit`` values are clamped to it.
        start, days: the local trading days the receipts cover.
        clock: the time source of job processing (pass a FakeClock to control it).
        sleep: how latency is waited out (pass ``FakeClock.sleep`` for latency that takes no
            real time and is recorded in ``FakeClock.sleeps``).
        job_delay: seconds until a Sales Point picks a job up, and again until it finishes.
        job_duration: if given, each job's total processing time instead (picked up halfway):
            seconds, a ``(low, high)`` range drawn uniformly per job from a generator seeded
            with ``seed``, or a function of that ``random.Random``.
        job_expiry: seconds a job may wait for an offline Sales Point before it expires.
        job_retry_after: if given, job answers of unfinished jobs carry ``Retry-After`` with
            this many seconds (a poll hint, jobs.md).
        drift: serve the answers the way a real API might differ from the library's model
            (a renamed field, unknown fields, a moved path, bare cursors, an unknown job status
            word; see :mod:`bessa_async.testing._drift`); ``True`` for the default differences
            or a :class:`~bessa_async.testing.Drift` of your own.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        receipts: int = 2000,
        latency: float = 0.0,
        next_style: Literal["url", "cursor"] = "url",
        host: str = "127.0.0.1",
        port: int = 0,
        max_limit: int = 500,
        start: date = date(2026, 6, 1),
        days: int = 30,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        job_delay: float = 0.2,
        job_duration: Duration | None = None,
        job_expiry: float = 3600.0,
        job_retry_after: float | None = None,
        drift: bool | Drift = False,
    ) -> None:
        if receipts < 0:
            raise ValueError("receipts must not be negative")
        if max_limit < 1:
            raise ValueError("max_limit must be at least 1")
        if next_style not in ("url", "cursor"):
            raise ValueError('next_style must be "url" or "cursor"')
        self.seed = seed
        self.latency = latency
        self.drift: Drift | None = (
            DEFAULT_DRIFT if drift is True else drift if isinstance(drift, Drift) else None
        )
        """The differences served (``drift=``), or None."""
        bare = self.drift is not None and self.drift.bare_cursors
        self.next_style: Literal["url", "cursor"] = "cursor" if bare else next_style
        self.max_limit = max_limit
        self._host = host
        self._port = port
        self._clock = clock
        self._sleep = sleep
        self.token, self.other_token, self.restricted_token = _tokens(seed)
        data_a = generate_tenant(
            name="tenant-a", seed=f"{seed}-a", receipts=receipts, start=start, days=days
        )
        data_b = generate_tenant(
            name="tenant-b",
            seed=f"{seed}-b",
            receipts=max(1, receipts // 10),
            start=start,
            days=days,
            small=True,
        )

        if job_retry_after is not None and not job_retry_after >= 0:
            raise ValueError("job_retry_after must be >= 0 seconds")
        self.job_retry_after = job_retry_after

        def book(data: TenantData) -> Callable[[Collection], JobBook]:
            def make(receipts: Collection) -> JobBook:
                return JobBook(
                    data,
                    clock=clock,
                    delay=job_delay,
                    expiry=job_expiry,
                    duration=job_duration,
                    rng=random.Random(f"bessa-sandbox-jobs:{seed}:{data.name}"),
                    receipts=receipts,
                )

            return make

        tenant_a = _Tenant(data_a, book(data_a))
        tenant_b = _Tenant(data_b, book(data_b))
        if self.drift is not None:
            self.drift.seed(tenant_a.jobs, data_a)
        self._schemas: dict[str, dict[str, Any]] = {}
        self._tenants: dict[str, tuple[_Tenant, bool]] = {
            self.token: (tenant_a, False),
            self.other_token: (tenant_b, False),
            self.restricted_token: (tenant_a, True),
        }
        self.data = data_a
        """Tenant A's generated data (what :attr:`token` reads)."""
        self.other_data = data_b
        """Tenant B's generated data (what :attr:`other_token` reads)."""
        self.requests: list[RecordedRequest] = []
        """Every request received, oldest first."""
        self._arrived = asyncio.Event()
        self.connections_opened = 0
        """TCP connections accepted since start."""
        self._rules: list[FaultRule] = []
        self._rng = random.Random(f"bessa-sandbox-faults:{seed}")
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._url: str | None = None

    @staticmethod
    def tokens_for(seed: int) -> tuple[str, str, str]:
        """The tokens a sandbox with this seed hands out: tenant A, tenant B, restricted."""
        return _tokens(seed)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening (``async with`` does this for you)."""
        if self._server is not None:
            return
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.25
        )
        await runner.setup()
        server_factory = runner.server
        assert server_factory is not None

        def protocol() -> asyncio.Protocol:
            self.connections_opened += 1
            return server_factory()

        loop = asyncio.get_running_loop()
        self._runner = runner
        self._server = await loop.create_server(protocol, self._host, self._port)
        port = self._server.sockets[0].getsockname()[1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._url = f"http://{host}:{port}{PREFIX}"

    async def close(self) -> None:
        """Stop listening and close every connection; idempotent."""
        server, runner = self._server, self._runner
        self._server = self._runner = None
        if server is not None:
            server.close()
        if runner is not None:
            await runner.cleanup()
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321/v1/public/``."""
        if self._url is None:
            raise RuntimeError("the sandbox is not running; use 'async with Sandbox() as sb'")
        return self._url

    def __repr__(self) -> str:
        where = self._url or "not running"
        return f"<Sandbox {where} seed={self.seed}>"

    # -- test controls ----------------------------------------------------------------------

    def inject(
        self,
        fault: Fault,
        *,
        path: str | None = None,
        method: str | None = None,
        times: int | None = None,
        rate: float = 1.0,
    ) -> FaultRule:
        """Make matching requests misbehave; returns the rule (its ``hits`` count the firings).

        Args:
            fault: what happens, e.g. ``Fault.status(503, body="html")``.
            path: relative path (``"articles/"``), shell wildcards allowed; None = every path.
            method: only this method; None = every method.
            times: fire at most this often; None = always.
            rate: probability per matching request, drawn from the seeded generator.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate is a probability between 0 and 1")
        rule = FaultRule(fault=fault, path=path, method=method, times=times, rate=rate)
        self._rules.append(rule)
        return rule

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._rules.clear()

    def clear_requests(self) -> None:
        """Forget the request log."""
        self.requests.clear()

    async def wait_for_requests(self, count: int) -> None:
        """Return once :attr:`requests` holds at least ``count`` requests.

        For tests that wait on background work (a prefetch, a poller) without guessing how long
        it takes; bound the wait with your test's timeout or ``asyncio.timeout``.
        """
        while len(self.requests) < count:
            self._arrived.clear()
            await self._arrived.wait()

    def set_sales_point_online(self, sales_point: str | None = None, online: bool = True) -> None:
        """Switch a Sales Point (or, with None, all of tenant A's) off- or online."""
        self._tenants[self.token][0].jobs.set_online(sales_point, online)

    def set_job_failure(
        self, code: str | None, detail: str | None = None, *, sales_point: str | None = None
    ) -> None:
        """Make tenant A's jobs fail with ``code`` when their Sales Point (None: any) finishes
        them, e.g. ``"no_active_day"`` or ``"not_fiscalised"``; ``code=None`` clears it."""
        self._book.set_failure(code, detail, sales_point=sales_point)

    def set_job_status(self, job_id: str, status: str) -> None:
        """Force the status word of one of tenant A's jobs (e.g. one the client does not know);
        ``"pending"`` or ``"processing"`` hands it back to the normal schedule.

        Raises:
            KeyError: no such job.
        """
        self._book.set_status(self._job(job_id), status)

    def cancel_job(self, job_id: str) -> None:
        """Withdraw one of tenant A's jobs (it ends ``cancelled`` if still pending)."""
        self._book.cancel(self._job(job_id))

    def jobs(self, kind: JobKind = "order") -> list[Item]:
        """Tenant A's jobs of one kind, as the API would show them now."""
        book = self._book
        return [public(book.advance(job)) for job in book.jobs[kind].items]

    @property
    def _book(self) -> JobBook:
        return self._tenants[self.token][0].jobs

    def _job(self, job_id: str) -> Item:
        job = self._book.find(job_id)
        if job is None:
            raise KeyError(f"no job {job_id!r}")
        return job

    # -- the HTTP side ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.raw_path.partition("?")[0]
        raw_query = (
            request.query_string
            if "?" not in request.raw_path
            else request.raw_path.partition("?")[2]
        )
        path = urllib.parse.unquote(raw_path)
        relative = path[len(PREFIX) :] if path.startswith(PREFIX) else path
        body = await request.read() if request.can_read_body else b""
        header = request.headers.get("Authorization")
        tenant = self._tenants.get(self._token_of(header)) if header else None
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=relative,
                raw_path=raw_path,
                query=tuple(urllib.parse.parse_qsl(raw_query, keep_blank_values=True)),
                raw_query=raw_query,
                headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
                authenticated_as=(tenant[0].data.name if tenant else "invalid") if header else None,
                body=body,
                time=self._clock(),
            )
        )
        self._arrived.set()
        delay = self.latency
        decisive: Fault | None = None
        for rule in self._rules:
            if rule.fault.kind == "latency":
                if rule.matches(request.method, relative, self._rng):
                    delay += rule.fault.seconds
            elif decisive is None and rule.matches(request.method, relative, self._rng):
                decisive = rule.fault
        if delay > 0:
            await self._sleep(delay)
        if decisive is not None:
            if decisive.kind == "status":
                return self._stamp(_fault_answer(decisive))
            if decisive.kind == "non_json":
                page = "<html><body><h1>Welcome</h1><p>Please log in.</p></body></html>"
                return self._stamp(web.Response(text=page, content_type=decisive.content_type))
            if decisive.kind == "drop" and not decisive.after_handler:
                return await self._drop(request)
        if not path.startswith(PREFIX):
            answer: web.StreamResponse = _not_found()
        else:
            query = urllib.parse.parse_qsl(raw_query, keep_blank_values=True)
            cycle = decisive is not None and decisive.kind == "cycle_next"
            answer = await self._respond(request, relative, query, body, header, cycle=cycle)
        if decisive is not None:
            if decisive.kind == "drop":
                return await self._drop(request)
            if decisive.kind == "truncate":
                return await self._truncate(request, answer)
            if decisive.kind == "malformed_json":
                broken = web.Response(
                    text='{"count": 3, "next": null, "results": [{"id": ', status=200
                )
                broken.content_type = "application/json"
                answer = broken
        return self._stamp(answer)

    @staticmethod
    def _stamp(answer: web.StreamResponse) -> web.StreamResponse:
        answer.headers["X-Request-ID"] = uuid.uuid4().hex
        return answer

    @staticmethod
    async def _drop(request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.abort()
        # The handler is done; aiohttp cannot write to an aborted transport and lets it go.
        raise asyncio.CancelledError

    @staticmethod
    async def _truncate(request: web.Request, answer: web.StreamResponse) -> web.StreamResponse:
        full = (
            answer.body
            if isinstance(answer, web.Response) and isinstance(answer.body, bytes)
            else b"{}"
        )
        stream = web.StreamResponse(status=answer.status)
        stream.content_type = answer.content_type or "application/json"
        stream.content_length = len(full)
        await stream.prepare(request)
        await stream.write(full[: len(full) // 2])
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError

    @staticmethod
    def _token_of(header: str) -> str:
        parts = header.split()
        return parts[1] if len(parts) == 2 and parts[0].lower() == "token" else ""

    def _authenticate(self, header: str | None) -> tuple[_Tenant, bool] | web.Response:
        challenge = {"WWW-Authenticate": "Token"}
        parts = (header or "").split()
        if not parts or parts[0].lower() != "token":
            return _detail(401, "Authentication credentials were not provided.", challenge)
        if len(parts) == 1:
            return _detail(401, "Invalid token header. No credentials provided.", challenge)
        if len(parts) > 2:
            detail = "Invalid token header. Token string should not contain spaces."
            return _detail(401, detail, challenge)
        found = self._tenants.get(parts[1])
        if found is None:
            return _detail(401, "Invalid token.", challenge)
        return found

    def _route(self, relative: str) -> tuple[str, str | None] | None:
        """(resource, id or None) for a path with its trailing slash, or None."""
        if not relative.endswith("/"):
            return None
        trimmed = relative[:-1]
        if trimmed in _SPECS or trimmed == "reports/sales":
            return trimmed, None
        head, _, tail = trimmed.rpartition("/")
        if head in _SPECS and head != "stock-levels" and tail:
            return head, tail
        return None

    async def _respond(
        self,
        request: web.Request,
        relative: str,
        query: list[tuple[str, str]],
        body: bytes,
        header: str | None,
        *,
        cycle: bool,
    ) -> web.Response:
        """:meth:`_answer` with the API reference beside it and drift (if on) applied."""
        if relative == DOCS_PATH and request.method == "GET":
            return await self._docs(header, query)
        drift = self.drift
        served = relative if drift is None else drift.route(relative)
        if served is None:
            return _not_found()
        answer = self._answer(request, served, query, body, header, cycle=cycle)
        return answer if drift is None else drift.rewrite(served, answer)

    async def _docs(self, header: str | None, query: list[tuple[str, str]]) -> web.Response:
        """``docs/``: for token holders, an HTML page, or the OpenAPI schema as drf-yasg does."""
        auth = self._authenticate(header)
        if isinstance(auth, web.Response):
            return auth
        if dict(query).get("format") != "openapi":
            return web.Response(text=docs_page(), content_type="text/html")
        tenant = auth[0]
        if tenant.data.name not in self._schemas:
            snapshot = {path: list(c.items) for path, c in tenant.collections.items()}
            # Inferring the schema from the data takes a while: off the event loop.
            schema = await asyncio.to_thread(self._schema_of, tenant, snapshot)
            self._schemas.setdefault(tenant.data.name, schema)
        return _json(self._schemas[tenant.data.name])

    def _schema_of(self, tenant: _Tenant, collections: dict[str, list[Item]]) -> dict[str, Any]:
        receipts = collections["receipts"]
        stamps = [receipt["timestamp"] for receipt in receipts] or ["2026-01-01T00:00:00Z"]
        report = sales_report(
            receipts,
            start=datetime.fromisoformat(min(stamps)),
            end=datetime.fromisoformat(max(stamps)),
            articles=tenant.articles,
            groups=tenant.groups,
            methods=tenant.methods,
        )
        return openapi(collections, report, prefix=PREFIX, drift=self.drift)

    def _answer(
        self,
        request: web.Request,
        relative: str,
        query: list[tuple[str, str]],
        body: bytes,
        header: str | None,
        *,
        cycle: bool,
    ) -> web.Response:
        route = self._route(relative)
        if route is None:
            if self._route(relative + "/") is not None:
                # Django's APPEND_SLASH: a 301 to the slashed URL, before any authentication.
                location = request.raw_path.replace(
                    request.raw_path.partition("?")[0], request.raw_path.partition("?")[0] + "/", 1
                )
                return web.Response(status=301, headers={"Location": location})
            return _not_found()
        auth = self._authenticate(header)
        if isinstance(auth, web.Response):
            return auth
        tenant, restricted = auth
        resource, item_id = route
        if restricted and resource.startswith(_RESTRICTED):
            return _detail(403, "You do not have permission to perform this action.")
        allowed = _JOB_METHODS if resource in _JOB_PATHS and item_id is None else _LIST_METHODS
        method = request.method
        if method == "OPTIONS":
            name = _NAMES.get(resource, "Sales Report")
            meta = {
                "name": f"{name} List" if item_id is None else f"{name} Instance",
                "renders": ["application/json"],
                "parses": ["application/json"],
            }
            return _json(meta, headers={"Allow": allowed})
        if method not in allowed.split(", "):
            return _detail(405, f'Method "{method}" not allowed.', {"Allow": allowed})
        if resource == "reports/sales":
            return self._sales(tenant, query)
        if method == "POST":
            return self._submit(request, tenant, _JOB_PATHS[resource], body)
        if item_id is not None:
            return self._detail(tenant, resource, item_id)
        return self._list(request, tenant, resource, query, cycle=cycle)

    def _detail(self, tenant: _Tenant, resource: str, item_id: str) -> web.Response:
        canonical = parse_uuid(item_id)
        if canonical is None:
            return _not_found()
        item = tenant.collections[resource].by_id.get(canonical)
        if item is None:
            return _not_found(f"No {_NAMES[resource]} matches the given query.")
        if resource in _JOB_PATHS:
            job = tenant.jobs.advance(item)
            return _json(public(job), headers=self._poll_hint(job))
        return _json(item)

    def _poll_hint(self, job: Item) -> dict[str, str]:
        if self.job_retry_after is None or job["status"] not in ("pending", "processing"):
            return {}
        return {"Retry-After": f"{self.job_retry_after:g}"}

    def _selection(self, spec: _Spec, query: list[tuple[str, str]]) -> Selection | FieldErrors:
        values = dict(query)  # Django's QueryDict.get: the last value wins.
        errors: FieldErrors = {}
        stamps: dict[str, int | None] = {}
        names = ["updated__gte", "updated__lt"]
        if spec.time is not None:
            names += [f"{spec.time}__gte", f"{spec.time}__lt"]
        for name in names:
            stamps[name] = None
            if name in values and values[name] != "":
                parsed = parse_timestamp(values[name])
                if parsed is None:
                    errors[name] = [INVALID_DATETIME]
                else:
                    stamps[name] = micros(parsed)
        equals: list[tuple[str, object]] = []
        for name in spec.uuids:
            if values.get(name):
                canonical = parse_uuid(values[name])
                if canonical is None:
                    errors[name] = [invalid_uuid(values[name])]
                else:
                    equals.append((name, canonical))
        for name in spec.bools:
            if values.get(name):
                flag = parse_bool(values[name])
                if flag is None:
                    errors[name] = [INVALID_BOOLEAN]
                else:
                    equals.append((name, flag))
        for name in spec.texts:
            if values.get(name):
                equals.append((name, values[name]))
        for name, options in spec.choices:
            if values.get(name):
                if values[name] not in options:
                    choice = values[name]
                    errors[name] = [
                        f"Select a valid choice. {choice} is not one of the available choices."
                    ]
                else:
                    equals.append((name, values[name]))
        if errors:
            return errors
        return Selection(
            time_gte=stamps.get(f"{spec.time}__gte"),
            time_lt=stamps.get(f"{spec.time}__lt"),
            updated_gte=stamps["updated__gte"],
            updated_lt=stamps["updated__lt"],
            equals=tuple(equals),
        )

    def _list(
        self,
        request: web.Request,
        tenant: _Tenant,
        resource: str,
        query: list[tuple[str, str]],
        *,
        cycle: bool,
    ) -> web.Response:
        selection = self._selection(_SPECS[resource], query)
        if not isinstance(selection, Selection):
            return _json(selection, 400)
        collection = tenant.collections[resource]
        if resource in _JOB_PATHS:
            for job in list(collection.items):
                tenant.jobs.advance(job)
        values = dict(query)
        limit = DEFAULT_LIMIT
        try:
            asked = int(values.get("limit", ""))
        except ValueError:
            asked = 0
        if asked > 0:
            limit = min(asked, self.max_limit)
        cursor: Cursor | None = None
        if values.get("cursor"):
            cursor = Cursor.decode(values["cursor"])
            if cursor is None:
                return _not_found("Invalid cursor")
        page = paginate(collection, collection.select(selection), cursor, limit)
        next_cursor = page.next
        if cycle:
            next_cursor = cursor or Cursor(None)
        results = page.items
        if resource in _JOB_PATHS:
            results = [public(job) for job in results]
        return _json(
            {
                "count": page.count,
                "next": self._link(request, query, next_cursor),
                "previous": self._link(request, query, page.previous),
                "results": results,
            }
        )

    def _link(
        self, request: web.Request, query: list[tuple[str, str]], cursor: Cursor | None
    ) -> str | None:
        if cursor is None:
            return None
        token = cursor.encode()
        if self.next_style == "cursor":
            return token
        # DRF's replace_query_param: the other parameters re-encoded, sorted by name (the values
        # of a repeated name keep their order), cursor swapped in.
        pairs = [(k, v) for k, v in query if k != "cursor"] + [("cursor", token)]
        pairs.sort(key=lambda pair: pair[0])
        origin = f"{request.scheme}://{request.host}"
        return f"{origin}{request.raw_path.partition('?')[0]}?{urllib.parse.urlencode(pairs)}"

    def _sales(self, tenant: _Tenant, query: list[tuple[str, str]]) -> web.Response:
        values = dict(query)
        errors: FieldErrors = {}
        bounds = {}
        for name in ("start", "end"):
            if not values.get(name):
                errors[name] = ["This field is required."]
            elif (parsed := parse_timestamp(values[name])) is None:
                errors[name] = [INVALID_DATETIME]
            else:
                bounds[name] = parsed
        equals: list[tuple[str, object]] = []
        for name in ("location", "sales_point"):
            if values.get(name):
                canonical = parse_uuid(values[name])
                if canonical is None:
                    errors[name] = [invalid_uuid(values[name])]
                else:
                    equals.append((name, canonical))
        if not errors and bounds["end"] < bounds["start"]:
            errors["non_field_errors"] = ["end must not be before start."]
        if errors:
            return _json(errors, 400)
        receipts = tenant.collections["receipts"]
        chosen = receipts.select(
            Selection(
                time_gte=micros(bounds["start"]),
                time_lt=micros(bounds["end"]),
                equals=tuple(equals),
            )
        )
        report = sales_report(
            (receipts.items[i] for i in chosen),
            start=bounds["start"],
            end=bounds["end"],
            articles=tenant.articles,
            groups=tenant.groups,
            methods=tenant.methods,
        )
        return _json(report)

    def _submit(
        self, request: web.Request, tenant: _Tenant, kind: JobKind, body: bytes
    ) -> web.Response:
        payload: Any = {}
        # DRF parses only a non-empty body: an empty one is empty data, whatever its media type.
        if body:
            content_type = request.content_type
            if content_type != "application/json":
                return _detail(415, f'Unsupported media type "{content_type}" in request.')
            try:
                payload = json.loads(body, parse_constant=_strict_constant)
            except ValueError as exc:
                return _detail(400, f"JSON parse error - {exc}")
        errors = tenant.jobs.validate(kind, payload)
        if errors:
            return _json(errors, 400)
        key = request.headers.get("Idempotency-Key")
        try:
            job, _ = tenant.jobs.submit(kind, payload, key)
        except IdempotencyConflict:
            detail = "This Idempotency-Key was already used with a different request body."
            return _detail(409, detail)
        location = f"{request.raw_path.partition('?')[0]}{job['id']}/"
        return _json(public(job), 202, {"Location": location, **self._poll_hint(job)})
