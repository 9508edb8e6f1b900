"""The API's endpoints: routing, DRF's method and permission checks, lists, details and jobs.

Routing follows Django: a path without its trailing slash is a 301 to the slashed URL (before
authentication), an unknown path a 404. Lists are cursor-paginated, with ``next``/``previous``
as absolute URLs (DRF's ``replace_query_param``) or bare cursors (``next_style="cursor"``).
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from datetime import datetime
from typing import Any, Final, Literal, final

import attrs
from aiohttp import web

from ._answers import detail, json_answer, not_found
from ._cursor import Collection, Cursor, Item, Selection, paginate
from ._drift import Drift
from ._jobbook import IdempotencyConflict, JobKind, public
from ._offset_cursor import OffsetCursor, paginate_offset
from ._query import parse_uuid
from ._reports import sales_report
from ._schema import DOCS_PATH, docs_page, openapi
from ._selection import SPECS, WindowPrecision, page_limit, sales_window, selection
from ._tenants import Tenant, Tenants
from ._throttle import Throttle

__all__ = ["PREFIX", "Listed", "Routes", "Settings"]

PREFIX: Final = "/v1/public/"
_RESTRICTED: Final = ("receipts", "reports/", "requests/")
_LIST_METHODS: Final = "GET, HEAD, OPTIONS"
_JOB_METHODS: Final = "GET, POST, HEAD, OPTIONS"
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


_Cut = tuple[list[Item], int, Cursor | OffsetCursor | None, Cursor | None, bool]


@attrs.frozen
class Listed:
    """A list page served: its resource, whether it was asked for without a cursor, items."""

    resource: str
    first: bool
    items: tuple[Item, ...]


@final
@attrs.frozen(kw_only=True)
class Settings:
    """How the endpoints answer, fixed when the sandbox is built."""

    max_limit: int
    next_style: Literal["url", "cursor"]
    job_retry_after: float | None
    drift: Drift | None
    drf_cursor: bool = False
    window_precision: WindowPrecision = "microseconds"


def _strict_constant(name: str) -> object:
    """DRF's JSONParser refuses NaN and the infinities, which Python's json would accept."""
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")


def _route(relative: str) -> tuple[str, str | None] | None:
    """(resource, id or None) for a path with its trailing slash, or None."""
    if not relative.endswith("/"):
        return None
    trimmed = relative[:-1]
    if trimmed in SPECS or trimmed == "reports/sales":
        return trimmed, None
    head, _, tail = trimmed.rpartition("/")
    if head in SPECS and head != "stock-levels" and tail:
        return head, tail
    return None


@final
class Routes:
    """Answers a request for a path below the API base, for the tenant its token names."""

    def __init__(self, tenants: Tenants, settings: Settings) -> None:
        self._tenants = tenants
        self._settings = settings
        self._schemas: dict[str, dict[str, Any]] = {}
        self.throttle: Throttle | None = None
        """Checked after authentication and permissions, as DRF does; None: no throttling."""
        self._page: Listed | None = None

    async def respond(
        self,
        request: web.Request,
        relative: str,
        query: list[tuple[str, str]],
        body: bytes,
        header: str | None,
        *,
        cycle: bool,
    ) -> tuple[web.Response, Listed | None]:
        """The answer to ``relative``, with the API reference beside it and drift (if on)
        applied, and the list page it served (if it is one).

        ``cycle`` makes list pages name the page just served as their ``next``.
        """
        if relative == DOCS_PATH and request.method == "GET":
            return await self._docs(header, query), None
        drift = self._settings.drift
        served = relative if drift is None else drift.route(relative)
        if served is None:
            return not_found(), None
        self._page = None
        answer = self._answer(request, served, query, body, header, cycle=cycle)
        page, self._page = self._page, None  # no await since it was set: this request's
        return (answer if drift is None else drift.rewrite(served, answer)), page

    async def _docs(self, header: str | None, query: list[tuple[str, str]]) -> web.Response:
        """``docs/``: for token holders, an HTML page, or the OpenAPI schema as drf-yasg does."""
        auth = self._tenants.authenticate(header)
        if isinstance(auth, web.Response):
            return auth
        if (throttled := self._throttled(header)) is not None:
            return throttled
        if dict(query).get("format") != "openapi":
            return web.Response(text=docs_page(), content_type="text/html")
        tenant = auth[0]
        if tenant.data.name not in self._schemas:
            snapshot = {path: list(c.items) for path, c in tenant.collections.items()}
            # Inferring the schema from the data takes a while: off the event loop.
            schema = await asyncio.to_thread(self._schema_of, tenant, snapshot)
            self._schemas.setdefault(tenant.data.name, schema)
        return json_answer(self._schemas[tenant.data.name])

    def _schema_of(self, tenant: Tenant, collections: dict[str, list[Item]]) -> dict[str, Any]:
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
        return openapi(collections, report, prefix=PREFIX, drift=self._settings.drift)

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
        route = _route(relative)
        if route is None:
            if _route(relative + "/") is not None:
                # Django's APPEND_SLASH: a 301 to the slashed URL, before any authentication.
                location = request.raw_path.replace(
                    request.raw_path.partition("?")[0], request.raw_path.partition("?")[0] + "/", 1
                )
                return web.Response(status=301, headers={"Location": location})
            return not_found()
        auth = self._tenants.authenticate(header)
        if isinstance(auth, web.Response):
            return auth
        tenant, restricted = auth
        resource, item_id = route
        if restricted and resource.startswith(_RESTRICTED):
            return detail(403, "You do not have permission to perform this action.")
        if (throttled := self._throttled(header)) is not None:
            return throttled
        allowed = _JOB_METHODS if resource in _JOB_PATHS and item_id is None else _LIST_METHODS
        method = request.method
        if method == "OPTIONS":
            name = _NAMES.get(resource, "Sales Report")
            meta = {
                "name": f"{name} List" if item_id is None else f"{name} Instance",
                "renders": ["application/json"],
                "parses": ["application/json"],
            }
            return json_answer(meta, headers={"Allow": allowed})
        if method not in allowed.split(", "):
            return detail(405, f'Method "{method}" not allowed.', {"Allow": allowed})
        if resource == "reports/sales":
            return self._sales(tenant, query)
        if method == "POST":
            return self._submit(request, tenant, _JOB_PATHS[resource], body)
        if item_id is not None:
            return self._detail(tenant, resource, item_id)
        return self._list(request, tenant, resource, query, cycle=cycle)

    def _throttled(self, header: str | None) -> web.Response | None:
        """The throttle's 429 for an authenticated request's token, or None to go on."""
        if self.throttle is None or header is None:
            return None
        return self.throttle.check(header.split()[-1])

    def _detail(self, tenant: Tenant, resource: str, item_id: str) -> web.Response:
        canonical = parse_uuid(item_id)
        if canonical is None:
            return not_found()
        item = tenant.collections[resource].by_id.get(canonical)
        if item is None:
            return not_found(f"No {_NAMES[resource]} matches the given query.")
        if resource in _JOB_PATHS:
            job = tenant.jobs.advance(item)
            return json_answer(public(job), headers=self._poll_hint(job))
        return json_answer(item)

    def _poll_hint(self, job: Item) -> dict[str, str]:
        retry_after = self._settings.job_retry_after
        if retry_after is None or job["status"] not in ("pending", "processing"):
            return {}
        return {"Retry-After": f"{retry_after:g}"}

    def _list(
        self,
        request: web.Request,
        tenant: Tenant,
        resource: str,
        query: list[tuple[str, str]],
        *,
        cycle: bool,
    ) -> web.Response:
        drift = self._settings.drift
        honoured = query if drift is None or resource not in _JOB_PATHS else drift.job_query(query)
        chosen = selection(SPECS[resource], honoured, precision=self._settings.window_precision)
        if not isinstance(chosen, Selection):
            return json_answer(chosen, 400)
        collection = tenant.collections[resource]
        if resource in _JOB_PATHS:
            for job in list(collection.items):
                tenant.jobs.advance(job)
        limit = page_limit(query, self._settings.max_limit)
        cut = self._cut(resource, collection, chosen, dict(query).get("cursor"), limit, cycle)
        if cut is None:
            return not_found("Invalid cursor")
        items, count, next_cursor, previous, first = cut
        results = items
        if resource in _JOB_PATHS:
            results = [public(job) for job in results]
        answer = json_answer(
            {
                "count": count,
                "next": self._link(request, query, next_cursor),
                "previous": self._link(request, query, previous),
                "results": results,
            }
        )
        self._page = Listed(resource, first, tuple(items))
        return answer

    def _cut(
        self,
        resource: str,
        collection: Collection,
        chosen: Selection,
        text: str | None,
        limit: int,
        cycle: bool,
    ) -> _Cut | None:
        """The page a cursor names: items, count, next and previous cursors, and whether it
        was asked for without one; None for a cursor that is not one."""
        matches = collection.select(chosen)
        if self._settings.drf_cursor:
            timed = SPECS[resource].time is not None
            drf = None if not text else OffsetCursor.decode(text, timed=timed)
            if text and drf is None:
                return None
            cut = paginate_offset(collection, matches, drf, limit, timed=timed)
            following = (drf or OffsetCursor(None)) if cycle else cut.next
            return cut.items, cut.count, following, None, drf is None
        cursor = None if not text else Cursor.decode(text)
        if text and cursor is None:
            return None
        page = paginate(collection, matches, cursor, limit)
        after = (cursor or Cursor(None)) if cycle else page.next
        return page.items, page.count, after, page.previous, cursor is None

    def _link(
        self,
        request: web.Request,
        query: list[tuple[str, str]],
        cursor: Cursor | OffsetCursor | None,
    ) -> str | None:
        if cursor is None:
            return None
        token = cursor.encode()
        if self._settings.next_style == "cursor":
            return token
        # DRF's replace_query_param: the other parameters re-encoded, sorted by name (the values
        # of a repeated name keep their order), cursor swapped in.
        pairs = [(k, v) for k, v in query if k != "cursor"] + [("cursor", token)]
        pairs.sort(key=lambda pair: pair[0])
        origin = f"{request.scheme}://{request.host}"
        return f"{origin}{request.raw_path.partition('?')[0]}?{urllib.parse.urlencode(pairs)}"

    @staticmethod
    def _sales(tenant: Tenant, query: list[tuple[str, str]]) -> web.Response:
        window = sales_window(query)
        if not isinstance(window, tuple):
            return json_answer(window, 400)
        start, end, chosen = window
        receipts = tenant.collections["receipts"]
        report = sales_report(
            (receipts.items[i] for i in receipts.select(chosen)),
            start=start,
            end=end,
            articles=tenant.articles,
            groups=tenant.groups,
            methods=tenant.methods,
        )
        return json_answer(report)

    def _submit(
        self, request: web.Request, tenant: Tenant, kind: JobKind, body: bytes
    ) -> web.Response:
        payload: Any = {}
        # DRF parses only a non-empty body: an empty one is empty data, whatever its media type.
        if body:
            content_type = request.content_type
            if content_type != "application/json":
                return detail(415, f'Unsupported media type "{content_type}" in request.')
            try:
                payload = json.loads(body, parse_constant=_strict_constant)
            except ValueError as exc:
                return detail(400, f"JSON parse error - {exc}")
        errors = tenant.jobs.validate(kind, payload)
        if errors:
            return json_answer(errors, 400)
        key = request.headers.get("Idempotency-Key")
        try:
            job, _ = tenant.jobs.submit(kind, payload, key)
        except IdempotencyConflict:
            text = "This Idempotency-Key was already used with a different request body."
            return detail(409, text)
        location = f"{request.raw_path.partition('?')[0]}{job['id']}/"
        return json_answer(public(job), 202, {"Location": location, **self._poll_hint(job)})
