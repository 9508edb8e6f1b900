"""The sandbox: a stateful fake of the bessa Public API on loopback, built on aiohttp.web.

It answers the way the Public API (a Django REST Framework service) does: token authentication
with DRF's 401 bodies and ``WWW-Authenticate: Token``; 403 for a token without rights; Django's
301 to the trailing-slash URL; 405 with ``Allow``; field-map 400s for bad filter values and bodies;
cursor pagination (``limit`` default 25, clamped to ``max_limit``; an invalid ``limit`` falls back
to the default, as DRF's ``CursorPagination`` does; an unreadable cursor is a 404 ``Invalid
cursor``); ``next``/``previous`` as absolute URLs, or bare cursors with ``next_style="cursor"``.

Every request is recorded (without its ``Authorization`` header) in :attr:`Sandbox.requests`,
and faults can be injected per route (:mod:`._faults`). The endpoints are in :mod:`._routes`,
the tenants and their tokens in :mod:`._tenants`, the fault answers in :mod:`._injection`, the
server's wall clock (``Date``, ``updated`` stamps) in :mod:`._wall` and writes made while it runs
(edits, deletes, late uploads, commit lag) in :mod:`._edits`; this module starts and stops the
server and runs each request through them.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any, Final, Literal, Self, final

from aiohttp import web

from ._answers import not_found, stamp
from ._control import CONTROL_PREFIX, control_routes
from ._cursor import Collection, Item
from ._data import generate_tenant
from ._drift import DEFAULT_DRIFT, Drift
from ._edits import Editor, ServedPage
from ._faults import Fault, FaultRule
from ._fixtures import Fixtures, mobile_sales_point
from ._injection import FaultInjector, after_handler, before_handler
from ._jobbook import Duration, JobBook, JobKind, public
from ._recording import RecordedRequest, RequestLog
from ._routes import PREFIX, Listed, Routes, Settings
from ._selection import WindowPrecision
from ._tenant_data import TenantData
from ._tenants import Tenant, Tenants, tenant_name, tokens
from ._throttle import Throttle, parse_rate
from ._wall import Precision, WallClock, prepare_item

__all__ = ["RecordedRequest", "Sandbox", "ServedPage"]

_SEED_LABELS: Final = {1: "a", 2: "b"}
"""Tenants A's and B's part of their data seed (the others use their number)."""


@final
class Sandbox:
    """A fake bessa Public API on loopback, with two tenants (or more), faults and a request log.

    Example::

        async with Sandbox(receipts=500) as sb:
            async with BessaClient(sb.token, base_url=sb.url) as client:
                ...

    To stage what a changes feed must survive, give it a :class:`FakeClock` and a start time,
    then change the data as the tenant would::

        clock = FakeClock()
        async with Sandbox(clock=clock, now=datetime(2026, 7, 1, tzinfo=UTC),
                           soft_deletes=True, commit_lag=timedelta(seconds=5)) as sb:
            sb.edit("articles", article_id, price="4.20")  # updated = now, visible in 5 s
            sb.upload_late(count=20, hours_ago=6)          # old timestamps, updated now
            clock.advance(10)

    Args:
        seed: seeds the generated data and the tokens (same seed, same data and tokens).
        receipts: receipts of tenant A (every other tenant gets a tenth of that, at least one).
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
            this many seconds (a hint of when to poll again).
        drift: serve the answers the way a real API might differ from the library's model
            (a renamed field, unknown fields, a moved path, bare cursors, an unknown job status
            word; see :mod:`bessa_async.testing._drift`); ``True`` for the default differences
            or a :class:`~bessa_async.testing.Drift` of your own.
        throttle: throttle every token as DRF's ``UserRateThrottle`` does, at a rate such as
            ``"30/s"`` or ``"100/minute"``: within any period a token gets that many answers;
            more are 429 with ``Retry-After`` and DRF's detail (``"Request was throttled.
            Expected available in 1 second."``), timed by ``clock``. See :meth:`set_throttle`.
        now: the server's wall-clock time at start (aware); it then moves with ``clock``.
            Default: the system time.
        server_offset: how far the server's clock (its ``updated`` stamps and ``Date``
            headers) runs ahead of the client's (:meth:`client_now`); negative: behind.
        updated_precision: ``"seconds"`` or ``"microseconds"``: how precise every ``created``,
            ``updated`` and ``deleted`` stamp is, generated or written.
        soft_deletes: :meth:`delete` flags items with a ``deleted`` timestamp (every item
            carries ``deleted``, null until then) instead of removing them.
        commit_lag: how long after its ``updated`` stamp a write becomes visible (see
            :meth:`edit`).
        drf_cursor: cursors as DRF makes them: the position (first ordering field) plus an
            offset inside a group of equal positions, so a row entering or leaving that group
            behind the cursor makes the next page skip or repeat a row; no ``previous`` links.
        control: also serve the HTTP control endpoint under ``/_sandbox/`` (loopback clients
            only; see :mod:`bessa_async.testing._control`), e.g. for tests in another language.
        window_precision: ``"microseconds"`` or ``"seconds"``: how precise the time-window
            filters (``timestamp__gte``/``__lt``, ``updated__*``, ...) are. ``"seconds"``
            floors both bounds to the whole second, as an API whose filters compare whole
            seconds would, while the items keep their microseconds.
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
        throttle: str | None = None,
        now: datetime | None = None,
        server_offset: timedelta = timedelta(0),
        updated_precision: Precision = "microseconds",
        soft_deletes: bool = False,
        commit_lag: timedelta = timedelta(0),
        drf_cursor: bool = False,
        control: bool = False,
        window_precision: WindowPrecision = "microseconds",
        tenants: int = 2,
    ) -> None:
        if receipts < 0:
            raise ValueError("receipts must not be negative")
        if max_limit < 1:
            raise ValueError("max_limit must be at least 1")
        if next_style not in ("url", "cursor"):
            raise ValueError('next_style must be "url" or "cursor"')
        if window_precision not in ("seconds", "microseconds"):
            raise ValueError('window_precision must be "seconds" or "microseconds"')
        if throttle is not None:
            parse_rate(throttle)  # refuse a bad rate before generating any data
        if isinstance(tenants, bool) or not isinstance(tenants, int) or tenants < 1:
            raise ValueError(f"tenants must be a whole number >= 1, got {tenants!r}")
        self._wall = WallClock(clock, start=now, offset=server_offset, precision=updated_precision)
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
        self._sleep = sleep
        self.token, self.other_token, self.restricted_token = tokens(seed)
        if job_retry_after is not None and not job_retry_after >= 0:
            raise ValueError("job_retry_after must be >= 0 seconds")
        self.job_retry_after = job_retry_after

        def book(data: TenantData) -> Callable[[Mapping[str, Collection]], JobBook]:
            def make(served: Mapping[str, Collection]) -> JobBook:
                return JobBook(
                    data,
                    clock=clock,
                    delay=job_delay,
                    expiry=job_expiry,
                    duration=job_duration,
                    rng=random.Random(f"bessa-sandbox-jobs:{seed}:{data.name}"),
                    receipts=served["receipts"],
                    wall=self._wall.now,
                    stamp=self._wall.stamp,
                    served=lambda path: served[path].by_id,
                )

            return make

        prepare = prepare_item(precision=updated_precision, soft_deletes=soft_deletes)

        def make(number: int) -> Tenant:
            # Tenant A is the large one; every other tenant has B's small layout.
            data = generate_tenant(
                name=tenant_name(number),
                seed=f"{seed}-{_SEED_LABELS.get(number, number)}",
                receipts=receipts if number == 1 else max(1, receipts // 10),
                start=start,
                days=days,
                small=number != 1,
            )
            tenant = Tenant(data, book(data), prepare)
            # The food truck's till starts offline.
            tenant.jobs.set_online(mobile_sales_point(data)["id"], False)
            return tenant

        tenant_a, tenant_b = make(1), make(2)
        data_a, data_b = tenant_a.data, tenant_b.data
        self._editor = Editor(
            tenant_a,
            self._wall,
            soft_deletes=soft_deletes,
            commit_lag=commit_lag,
            rng=random.Random(f"bessa-sandbox-edits:{seed}"),
        )
        self._after_page: Callable[[ServedPage], object] | None = None
        self._pages_served: dict[str, int] = {}
        if self.drift is not None:
            self.drift.seed(tenant_a.jobs, data_a)
        self._tenants = Tenants(seed, tenant_a, tenant_b, count=tenants, build=make)
        self.tokens: tuple[str, ...] = self._tenants.tokens
        """One token per tenant (``tenants=``), in order: :attr:`token` first, then
        :attr:`other_token` (if ``tenants >= 2``), then ``tenant-3``'s, ``tenant-4``'s, ..."""
        self._routes = Routes(
            self._tenants,
            Settings(
                max_limit=max_limit,
                next_style=self.next_style,
                job_retry_after=job_retry_after,
                drift=self.drift,
                drf_cursor=drf_cursor,
                window_precision=window_precision,
            ),
        )
        self.data = data_a
        """Tenant A's data as generated (what :attr:`token` reads; :meth:`items` is what it
        serves now)."""
        self.other_data = data_b
        """Tenant B's generated data (what :attr:`other_token` reads)."""
        self.fixtures = Fixtures.of(data_a)
        """Tenant A's well-known data, typed: an online, an offline and an inactive Sales Point,
        active and inactive articles, tables and payment methods (see :class:`Fixtures`)."""
        self._clock = clock
        self.set_throttle(throttle)
        self._log = RequestLog(clock)
        self.requests: list[RecordedRequest] = self._log.requests
        """Every request received, oldest first."""
        self.connections_opened = 0
        """TCP connections accepted since start."""
        self.in_flight = 0
        """Requests being answered right now."""
        self.peak_in_flight = 0
        """The most requests that were being answered at once."""
        self._control = control
        self._faults = FaultInjector(random.Random(f"bessa-sandbox-faults:{seed}"))
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._url: str | None = None

    @staticmethod
    def tokens_for(seed: int) -> tuple[str, str, str]:
        """The tokens a sandbox with this seed hands out: tenant A, tenant B, restricted."""
        return tokens(seed)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening (``async with`` does this for you)."""
        if self._server is not None:
            return
        app = web.Application()
        if self._control:  # before the API's catch-all route, which would answer these paths
            app.router.add_routes(control_routes(self))
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

    @property
    def control_url(self) -> str | None:
        """The control endpoint's URL (``control=True``), e.g. ``http://127.0.0.1:8080/_sandbox/``."""
        if not self._control:
            return None
        return self.url.removesuffix(PREFIX) + CONTROL_PREFIX

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
            path: a path pattern, matched whole (``"articles/"`` is the list only,
                ``"reports/*"`` all under it; see :func:`~._faults.path_matches`); None = every
                path.
            method: only this method; None = every method.
            times: fire at most this often; None = always.
            rate: probability per matching request, drawn from the seeded generator.
        """
        return self._faults.inject(fault, path=path, method=method, times=times, rate=rate)

    def set_throttle(self, rate: str | None) -> None:
        """Throttle every token at ``rate`` (DRF's ``"30/s"``, ``"100/minute"``, ...) from now
        on, with fresh windows and :attr:`throttled` back at 0; None turns throttling off.

        Raises:
            ValueError: a rate DRF would not read.
        """
        self._routes.throttle = None if rate is None else Throttle(rate, self._clock)

    @property
    def throttled(self) -> int:
        """How many requests the throttle answered with 429 (faults not counted)."""
        throttle = self._routes.throttle
        return 0 if throttle is None else throttle.throttled

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._faults.rules.clear()

    def clear_requests(self) -> None:
        """Forget the request log."""
        self.requests.clear()

    async def wait_for_requests(self, count: int) -> None:
        """Return once :attr:`requests` holds at least ``count`` requests.

        For tests that wait on background work (a prefetch, a poller) without guessing how long
        it takes; bound the wait with your test's timeout or ``asyncio.timeout``.
        """
        await self._log.wait_for(count)

    def set_sales_point_online(
        self, sales_point: str | uuid.UUID | None = None, online: bool = True
    ) -> None:
        """Switch a Sales Point (or, with None, all of tenant A's) off- or online.

        Its jobs wait while it is offline, and start afresh when it is back. The mobile till
        (``fixtures.offline_sales_point``) starts offline.
        """
        self._book.set_online(None if sales_point is None else str(sales_point), online)

    def set_job_failure(
        self,
        code: str | None,
        detail: str | None = None,
        *,
        sales_point: str | uuid.UUID | None = None,
    ) -> None:
        """Make tenant A's jobs fail with ``code`` when their Sales Point (None: any) finishes
        them, e.g. ``"no_active_day"`` or ``"not_fiscalised"``; ``code=None`` clears it. For one
        job, a magic reference does the same (:mod:`bessa_async.testing.magic`)."""
        point = None if sales_point is None else str(sales_point)
        self._book.set_failure(code, detail, sales_point=point)

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
        self._editor.commit()  # tills judge jobs on the data as it is served now
        book = self._book
        return [public(book.advance(job)) for job in book.jobs[kind].items]

    @property
    def _book(self) -> JobBook:
        return self._tenants.primary.jobs

    def _job(self, job_id: str) -> Item:
        job = self._book.find(job_id)
        if job is None:
            raise KeyError(f"no job {job_id!r}")
        return job

    # -- changes over time ------------------------------------------------------------------

    def now(self) -> datetime:
        """The server's time now: what it stamps ``updated`` with and sends as ``Date``."""
        return self._wall.now()

    def client_now(self) -> datetime:
        """The client's time now: the server's less ``server_offset``."""
        return self._wall.client_now()

    @property
    def server_offset(self) -> timedelta:
        """How far the server's clock runs ahead of the client's; set it to move it mid-run
        (a proxy's wrong ``Date`` for a while, a server clock put right)."""
        return self._wall.offset

    @server_offset.setter
    def server_offset(self, offset: timedelta) -> None:
        self._wall.offset = offset

    def items(self, resource: str, *, token: str | None = None) -> list[Item]:
        """Tenant A's items (or those of the tenant ``token`` reads, built now if it was not)
        a list of ``resource`` (``"receipts"``, ``"articles"``, ...) serves now, in list
        order; treat them as read-only.

        Raises:
            KeyError: a token this sandbox does not know.
            ValueError: an unknown resource.
        """
        tenant = self._tenants.primary if token is None else self._tenants.tenant(token)
        if tenant is None:
            raise KeyError("no tenant has this token")
        if tenant is self._tenants.primary:
            return self._editor.items(resource)
        collection = tenant.collections.get(resource.strip("/"))
        if collection is None or resource.startswith("requests/"):
            return self._editor.items(resource)  # the same refusal as tenant A's
        return list(collection.items)

    def tenant_built(self, token: str) -> bool:
        """Whether the tenant of ``token`` has its data yet: tenants after B are generated
        when their token is first used (a request, :meth:`items`)."""
        return self._tenants.built(token)

    def insert(self, resource: str, *, lag: timedelta | None = None, **fields: Any) -> Item:
        """Add an item to tenant A, created and updated now: a copy of one of the resource's
        items (for ``receipts`` an invoice, of ``sales_point`` if given, renumbered) with a
        new id and ``fields`` over it. ``lag`` overrides ``commit_lag``. Returns the item.

        Raises:
            ValueError: an unknown resource, stamps in ``fields``, or an identity in use.
        """
        return self._editor.insert(resource, fields, lag)

    def edit(
        self, resource: str, item_id: str, *, lag: timedelta | None = None, **fields: Any
    ) -> Item:
        """Change an item of tenant A: ``fields`` set and ``updated`` now. The new version
        becomes visible ``lag`` (default ``commit_lag``) after that stamp; until then lists
        serve the old one. Stock levels are named ``"<article>/<location>"``. Returns the
        new version.

        Raises:
            KeyError: no such item.
            ValueError: an unknown resource, or ``id``/stamps in ``fields``.
        """
        return self._editor.edit(resource, item_id, fields, lag)

    def delete(
        self,
        resource: str,
        item_id: str,
        *,
        lag: timedelta | None = None,
        soft: bool | None = None,
    ) -> Item:
        """Delete an item of tenant A: with ``soft_deletes`` it is flagged (``deleted`` and
        ``updated`` now) and still listed; otherwise it is gone. ``soft`` overrides
        ``soft_deletes`` for this delete. Returns the flagged item, or the removed one.

        Raises:
            KeyError: no such item.
        """
        return self._editor.delete(resource, item_id, lag, soft)

    def close_day(self, sales_point: str, *, lag: timedelta | None = None) -> Item:
        """A main Sales Point of tenant A closes its business day now: a daily closing in
        ``reports/closings`` with its receipts since its last closing. Returns the closing.

        Raises:
            KeyError: no such Sales Point.
            ValueError: a sub-terminal (its main Sales Point closes for it).
        """
        return self._editor.close_day(str(sales_point), lag)

    @property
    def commit_lag(self) -> timedelta:
        """How long after its ``updated`` stamp a write becomes visible; set it to change that
        for the writes made from then on."""
        return self._editor.commit_lag

    @commit_lag.setter
    def commit_lag(self, lag: timedelta) -> None:
        self._editor.commit_lag = lag

    def advance(self, seconds: float) -> None:
        """Move the sandbox's clock forward: jobs, throttles and the wall clock move with it.

        Raises:
            ValueError: ``seconds`` is negative, or the clock cannot be moved (give the sandbox
                a :class:`FakeClock`; the standalone sandbox's clock can be).
        """
        advance = getattr(self._clock, "advance", None)
        if not callable(advance):
            raise ValueError("this sandbox's clock cannot be moved: give it clock=FakeClock()")
        advance(seconds)

    def upload_late(
        self,
        *,
        sales_point: str | None = None,
        count: int = 1,
        hours_ago: float = 6.0,
        lag: timedelta | None = None,
    ) -> list[Item]:
        """An offline till reconnects: ``count`` receipts of ``sales_point`` (default: the
        first with invoices) whose ``timestamp`` is ``hours_ago`` hours old, a minute apart,
        and whose ``created``/``updated`` is now. Returns them."""
        return self._editor.upload_late(sales_point, count, hours_ago, lag)

    @property
    def pending_writes(self) -> int:
        """Writes that commit lag keeps invisible right now."""
        self._editor.commit()
        return self._editor.pending

    def after_page(self, callback: Callable[[ServedPage], object] | None) -> None:
        """Call ``callback`` (a function or a coroutine function) with a :class:`ServedPage`
        after each list page is made, before it is sent, so a change it makes falls between
        two pages of a walk. An exception it raises becomes a 500 answer. None removes it;
        page numbers count from here."""
        self._after_page = callback
        self._pages_served = {}

    # -- the HTTP side ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
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
        index = self._log.record(
            request,
            path=relative,
            raw_path=raw_path,
            raw_query=raw_query,
            body=body,
            authenticated_as=self._tenants.name_of(header),
        )
        delay, decisive = self._faults.meet(request.method, relative, self.latency)
        if delay > 0:
            await self._sleep(delay)
        if decisive is not None and (early := before_handler(decisive, request)) is not None:
            self._log.answered(index, early.status)
            return stamp(early, self._wall.http_date())
        self._editor.commit()
        listed: Listed | None = None
        if not path.startswith(PREFIX):
            answer: web.StreamResponse = not_found()
        else:
            query = urllib.parse.parse_qsl(raw_query, keep_blank_values=True)
            cycle = decisive is not None and decisive.kind == "cycle_next"
            answer, listed = await self._routes.respond(
                request, relative, query, body, header, cycle=cycle
            )
        if decisive is not None:
            answer = await after_handler(decisive, request, answer)
        stamp(answer, self._wall.http_date())
        if decisive is None or decisive.kind != "drop":  # a dropped one was never answered
            self._log.answered(index, answer.status)
        if listed is not None and self._after_page is not None:
            resource = listed.resource
            number = self._pages_served[resource] = self._pages_served.get(resource, 0) + 1
            page = ServedPage(
                resource=resource, number=number, first=listed.first, items=listed.items
            )
            if inspect.isawaitable(outcome := self._after_page(page)):
                await outcome
        return answer
