"""The sandbox's HTTP control endpoint: its test controls for non-Python tests and manual tries.

``Sandbox(control=True)`` (on by default for ``bessa sandbox`` and ``python -m
bessa_async.testing``) serves it under ``/_sandbox/`` on the API's port, beside the API prefix.
It needs no token, so it answers only what a web page cannot send: a loopback client, with a
loopback name in ``Host`` (``localhost``, ``127.0.0.1``, ``[::1]``: a DNS-rebound name is
refused), no ``Origin`` (a browser sends one from a page), and every POST as
``Content-Type: application/json`` (what a form or a ``text/plain`` fetch cannot send without
asking first). Bodies are JSON objects, and so is every answer; an error is
``{"detail": "..."}`` with 400 (a bad body), 403 (a peer, ``Host`` or ``Origin`` refused), 404
(no such Sales Point, job or endpoint) or 415 (a POST that is not JSON). Each call is one of
:class:`Sandbox`'s public methods; control calls are not recorded in the request log. For
example::

    curl -s localhost:8080/_sandbox/sales-points/online --json '{"online": false}'
    curl -s localhost:8080/_sandbox/faults -H 'Content-Type: application/json' \\
        -d '{"spec": "503@receipts/", "times": 2}'

The endpoints::

"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs
from aiohttp import web

from bessa_async._base.jsontext import parse_json

from ._answers import detail, json_answer
from ._faults import parse_faults
from ._tenants import tenant_name

if TYPE_CHECKING:
    from ._cursor import Item
    from ._faults import Fault, FaultRule
    from ._jobbook import JobKind
    from ._recording import RecordedRequest
    from ._tenant_data import TenantData


class Controlled(Protocol):
    """What the control endpoint drives: the sandbox's own test controls (``Sandbox`` has them)."""

    data: TenantData
    tokens: tuple[str, ...]
    requests: list[RecordedRequest]

    @property
    def url(self) -> str: ...
    @property
    def commit_lag(self) -> timedelta: ...
    @commit_lag.setter
    def commit_lag(self, lag: timedelta) -> None: ...
    @property
    def server_offset(self) -> timedelta: ...
    @server_offset.setter
    def server_offset(self, offset: timedelta) -> None: ...
    def now(self) -> datetime: ...
    def client_now(self) -> datetime: ...
    def advance(self, seconds: float) -> None: ...
    def clear_faults(self) -> None: ...
    def clear_requests(self) -> None: ...
    def inject(
        self,
        fault: Fault,
        *,
        path: str | None = None,
        method: str | None = None,
        times: int | None = None,
        rate: float = 1.0,
    ) -> FaultRule: ...
    def set_throttle(self, rate: str | None) -> None: ...
    def tenant_built(self, token: str) -> bool: ...
    def jobs(self, kind: JobKind = "order") -> list[Item]: ...
    def cancel_job(self, job_id: str) -> None: ...
    def set_job_status(self, job_id: str, status: str) -> None: ...
    def set_job_failure(
        self,
        code: str | None,
        detail: str | None = None,
        *,
        sales_point: str | uuid.UUID | None = None,
    ) -> None: ...
    def set_sales_point_online(
        self, sales_point: str | uuid.UUID | None = None, online: bool = True
    ) -> None: ...
    def insert(self, resource: str, *, lag: timedelta | None = None, **fields: Any) -> Item: ...
    def edit(
        self, resource: str, item_id: str, *, lag: timedelta | None = None, **fields: Any
    ) -> Item: ...
    def delete(
        self, resource: str, item_id: str, *, lag: timedelta | None = None, soft: bool | None = None
    ) -> Item: ...
    def upload_late(
        self,
        *,
        sales_point: str | None = None,
        count: int = 1,
        hours_ago: float = 6.0,
        lag: timedelta | None = None,
    ) -> list[Item]: ...
    def close_day(self, sales_point: str, *, lag: timedelta | None = None) -> Item: ...


__all__ = [
    "CONTROL_PREFIX",
    "ENDPOINTS",
    "control_routes",
    "endpoints_text",
    "is_loopback",
    "is_loopback_host",
    "refusal",
]

CONTROL_PREFIX: Final = "/_sandbox/"

ENDPOINTS: Final = (
    ("GET", "", "", "these endpoints, and the API's URL"),
    ("GET", "tenants", "", "every tenant's name and token, in order, and whether it is built yet"),
    (
        "POST",
        "sales-points/online",
        '{"online": false, "sales_point": ID}',
        "a till (no sales_point: every till) offline or online",
    ),
    (
        "POST",
        "job-failure",
        '{"code": "no_active_day", "detail": TEXT}',
        "fail the jobs tills finish from now on; code null clears it",
    ),
    ("GET", "jobs?kind=order", "", "tenant A's order (or payment) jobs, as the API shows them"),
    ("POST", "jobs/ID/status", '{"status": "processing"}', "force a job's status word"),
    ("POST", "jobs/ID/cancel", "", "withdraw a job (cancelled if still pending)"),
    (
        "POST",
        "faults",
        '{"spec": "503:0.5@receipts/", "times": 3}',
        "inject faults (spec as --faults); method, times optional",
    ),
    ("DELETE", "faults", "", "remove every injected fault"),
    ("POST", "throttle", '{"rate": "30/s"}', "throttle every token; null stops it"),
    (
        "POST",
        "items/insert",
        '{"resource": "articles", "fields": {"name": "Kaiserspritzer"}, "lag": 0}',
        "add an item to tenant A (a copy of one, fields over it); lag: seconds, optional",
    ),
    (
        "POST",
        "items/edit",
        '{"resource": "articles", "id": ID, "fields": {"price": "5.90"}}',
        "change an item's fields (updated now); lag optional",
    ),
    (
        "POST",
        "items/delete",
        '{"resource": "articles", "id": ID, "soft": true}',
        "delete an item: soft flags it (deleted now), hard removes it; lag optional",
    ),
    (
        "POST",
        "receipts/upload-late",
        '{"count": 20, "hours_ago": 6, "sales_point": ID}',
        "an offline till's receipts arrive late (old timestamps, updated now)",
    ),
    (
        "POST",
        "closings",
        '{"sales_point": ID}',
        "a main Sales Point closes its business day now (a daily closing)",
    ),
    ("POST", "commit-lag", '{"seconds": 5}', "writes from now on become visible that much later"),
    ("GET", "clock", "", "the server's time, the client's, the offset and the commit lag"),
    (
        "POST",
        "clock",
        '{"advance": 3600} or {"now": TIMESTAMP} or {"server_offset": 30}',
        "move the clock forward (jobs too), or set how far the server's runs ahead",
    ),
    ("GET", "requests?since=0", "", "the requests recorded from that index on (no tokens)"),
    ("DELETE", "requests", "", "forget the recorded requests"),
)
"""(method, path under /_sandbox/, example body, what it does): the one list of endpoints."""


def endpoints_text(indent: str = "  ") -> str:
    """The endpoints as aligned lines, for the module docstring and ``--help``."""
    calls = [f"{method:<6} {CONTROL_PREFIX}{path}" for method, path, _, _ in ENDPOINTS]
    width = max(map(len, calls))
    lines = []
    for call, (_, _, body, does) in zip(calls, ENDPOINTS, strict=True):
        lines.append(f"{indent}{call:<{width}}  {does}")
        if body:
            lines.append(f"{indent}{'':<{width}}  body: {body}")
    return "\n".join(lines)


if __doc__:  # not under python -OO
    __doc__ += endpoints_text("    ") + "\n"


class _BadBody(Exception):
    """A control call whose body is not what the endpoint takes (answered 400)."""


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _optional(body: Mapping[str, Any], name: str, kind: type, default: object = None) -> Any:
    value = body.get(name, default)
    # JSON's true is a Python int as well: a count must not be a boolean.
    fits = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if value is not None and not fits:
        raise _BadBody(f"{name}: expected {kind.__name__} or null, got {value!r}")
    return value


def _required(body: Mapping[str, Any], name: str, kind: type) -> Any:
    if body.get(name) is None:
        raise _BadBody(f"{name}: required ({kind.__name__})")
    return _optional(body, name, kind)


_LONGEST: Final = 10 * 366 * 86_400.0
"""Seconds a control call may move or offset time by (ten years): the dates stay printable."""
_MOST_LATE: Final = 10_000
"""Receipts one late upload may bring (a larger burst is many calls)."""


def _number(body: Mapping[str, Any], name: str, unit: str, *, signed: bool = False) -> float | None:
    """A JSON number of ``unit`` within ten years (>= 0 unless ``signed``), or None when absent
    or null."""
    value = body.get(name)
    if value is None:
        return None
    low = -_LONGEST if signed else 0.0
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not low <= value <= _LONGEST
    ):
        sign = "" if signed else " >= 0"
        raise _BadBody(
            f"{name}: expected {unit} (a number{sign}, at most ten years), got {value!r}"
        )
    return float(value)


def _seconds(body: Mapping[str, Any], name: str) -> timedelta | None:
    """A duration in seconds (a JSON number >= 0), or None when absent or null."""
    seconds = _number(body, name, "seconds")
    return None if seconds is None else timedelta(seconds=seconds)


def _moment(body: Mapping[str, Any], name: str) -> datetime | None:
    """A timestamp with its UTC offset (ISO 8601), or None when absent or null."""
    text: str | None = _optional(body, name, str)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise _BadBody(f"{name}: expected a timestamp with its offset, got {text!r}")
    return moment


def _only_one(body: Mapping[str, Any], *names: str) -> str:
    given = [name for name in names if body.get(name) is not None]
    if len(given) != 1:
        raise _BadBody(f"expected exactly one of {', '.join(names)}, got {len(given)}")
    return given[0]


def _allowed(body: Mapping[str, Any], *names: str) -> None:
    """Refuse a field the endpoint does not take (a typo would otherwise be ignored)."""
    if unknown := sorted(body.keys() - set(names)):
        raise _BadBody(f"unknown field(s) {', '.join(unknown)}; this call takes {', '.join(names)}")


async def _body(request: web.Request) -> Mapping[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = parse_json(raw)
    except ValueError:
        raise _BadBody("the body is not JSON; send a JSON object") from None
    if not isinstance(body, dict):
        raise _BadBody(f"expected a JSON object, got {type(body).__name__}")
    return body


def is_loopback(remote: str | None) -> bool:
    """Whether a peer address is this machine's loopback (None, a Unix socket: no)."""
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def is_loopback_host(host: str | None) -> bool:
    """Whether a ``Host`` header names this machine: ``localhost`` (or a name under it), an
    address in 127.0.0.0/8, or ``[::1]``, with any port. None (no header): no."""
    if not host:
        return False
    name = host.strip().lower()
    if name.startswith("["):  # [v6]:port
        name = name[1 : name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:  # name:port (a bare v6 address without brackets is no Host)
        name = name.partition(":")[0]
    name = name.removesuffix(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    return is_loopback(name)


def refusal(
    method: str, *, remote: str | None, host: str | None, origin: str | None, content_type: str
) -> tuple[int, str] | None:
    """Why the control endpoint refuses a request (status, detail), or None. Pure.

    A web page in the developer's browser must not drive the sandbox or read its request log: a
    cross-site form or fetch carries an ``Origin`` or a non-JSON body; a DNS-rebound page
    carries its own name in ``Host``.
    """
    if not is_loopback(remote):
        return 403, "the sandbox's control endpoint answers loopback clients only"
    if not is_loopback_host(host):
        return 403, (
            f"the sandbox's control endpoint answers only a loopback Host (localhost, "
            f"127.0.0.1, [::1]), not {host!r}"
        )
    if origin is not None:
        return 403, (
            "the sandbox's control endpoint refuses requests from web pages (an Origin header "
            "was sent); call it from a test, a script or curl"
        )
    if method == "POST" and content_type != "application/json":
        return 415, (
            f"a control call's body must be JSON sent as Content-Type: application/json, not "
            f"{content_type or 'no Content-Type'} (curl: --json, or -H 'Content-Type: "
            "application/json')"
        )
    return None


def _plain(value: object) -> object:
    """A recorded value as JSON takes it: bytes as text, mappings as objects."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return dict(value)
    return value


def control_routes(sandbox: Controlled) -> list[web.RouteDef]:
    """The control endpoint's routes on ``sandbox`` (register them before the API's)."""

    def guarded(handler: Callable[[web.Request], Awaitable[object]]) -> Handler:
        async def answer(request: web.Request) -> web.StreamResponse:
            # The declared type, not aiohttp's default for a missing one (octet-stream).
            declared = request.headers.get("Content-Type", "")
            content_type = request.content_type if declared else ""
            refused = refusal(
                request.method,
                remote=request.remote,
                host=request.headers.get("Host"),
                origin=request.headers.get("Origin"),
                content_type=content_type,
            )
            if refused is not None:
                return detail(*refused)
            try:
                return json_answer(await handler(request))
            except _BadBody as exc:
                return detail(400, str(exc))
            except KeyError as exc:
                return detail(404, str(exc.args[0]) if exc.args else "Not found.")

        return answer

    def point(body: Mapping[str, Any]) -> str | None:
        sales_point: str | None = _optional(body, "sales_point", str)
        known = {str(p["id"]) for p in sandbox.data.sales_points}
        if sales_point is not None and sales_point not in known:
            raise KeyError(f"no Sales Point {sales_point!r} in tenant A")
        return sales_point

    def job(job_id: str) -> dict[str, Any]:
        try:
            wanted = str(uuid.UUID(job_id))
        except ValueError:
            wanted = job_id
        for kind in ("order", "payment"):
            for item in sandbox.jobs(kind):
                if str(item["id"]) == wanted:
                    return dict(item)
        raise KeyError(f"no job {job_id!r} in tenant A")

    async def index(request: web.Request) -> object:
        endpoints = [
            {"method": m, "path": CONTROL_PREFIX + p, "body": b or None, "does": d}
            for m, p, b, d in ENDPOINTS
        ]
        return {"api": sandbox.url, "endpoints": endpoints}

    async def tenants(request: web.Request) -> object:
        listed = [
            {"name": tenant_name(number), "token": token, "built": sandbox.tenant_built(token)}
            for number, token in enumerate(sandbox.tokens, start=1)
        ]
        return {"tenants": listed}

    async def online(request: web.Request) -> object:
        body = await _body(request)
        is_online: bool = _required(body, "online", bool)
        sales_point = point(body)
        sandbox.set_sales_point_online(sales_point, is_online)
        return {"sales_point": sales_point, "online": is_online}

    async def failure(request: web.Request) -> object:
        body = await _body(request)
        code: str | None = _optional(body, "code", str)
        text: str | None = _optional(body, "detail", str)
        sales_point = point(body)
        sandbox.set_job_failure(code, text, sales_point=sales_point)
        return {"code": code, "detail": text, "sales_point": sales_point}

    async def jobs(request: web.Request) -> object:
        kind = request.query.get("kind", "order")
        if kind not in ("order", "payment"):
            raise _BadBody(f"kind: expected order or payment, got {kind!r}")
        return {"results": sandbox.jobs("order" if kind == "order" else "payment")}

    async def status(request: web.Request) -> object:
        job_id = request.match_info["job"]
        word: str = _required(await _body(request), "status", str)
        job(job_id)
        sandbox.set_job_status(job_id, word)
        return job(job_id)

    async def cancel(request: web.Request) -> object:
        job_id = request.match_info["job"]
        job(job_id)
        sandbox.cancel_job(job_id)
        return job(job_id)

    async def inject(request: web.Request) -> object:
        body = await _body(request)
        spec: str = _required(body, "spec", str)
        method: str | None = _optional(body, "method", str)
        times: int | None = _optional(body, "times", int)
        if times is not None and times < 1:
            raise _BadBody(f"times: expected a whole number >= 1 or null, got {times}")
        try:
            parsed = parse_faults(spec)
        except ValueError as exc:
            raise _BadBody(f"spec: {exc}") from None
        if not parsed:
            raise _BadBody("spec: no fault given, e.g. '503@receipts/'")
        rules = [
            sandbox.inject(fault, path=path, method=method, times=times, rate=rate)
            for fault, path, rate in parsed
        ]
        return {"injected": [attrs.asdict(rule) for rule in rules]}

    async def clear_faults(request: web.Request) -> object:
        sandbox.clear_faults()
        return {"faults": 0}

    async def throttle(request: web.Request) -> object:
        rate: str | None = _optional(await _body(request), "rate", str)
        try:
            sandbox.set_throttle(rate)
        except ValueError as exc:
            raise _BadBody(f"rate: {exc}") from None
        return {"rate": rate}

    @contextmanager
    def refused_as_bad_body() -> Iterator[None]:
        """The sandbox's ValueError (a bad resource, field or number) is a 400 naming it."""
        try:
            yield
        except ValueError as exc:
            raise _BadBody(str(exc)) from None

    def fields(body: Mapping[str, Any]) -> dict[str, Any]:
        value = body.get("fields", {})
        if not isinstance(value, dict):
            raise _BadBody(f"fields: expected a JSON object, got {value!r}")
        if reserved := sorted({"resource", "item_id", "lag", "soft"} & value.keys()):
            raise _BadBody(f"fields: {', '.join(reserved)} is no field of an item")
        return value

    async def insert(request: web.Request) -> object:
        body = await _body(request)
        _allowed(body, "resource", "fields", "lag")
        resource: str = _required(body, "resource", str)
        with refused_as_bad_body():
            return sandbox.insert(resource, lag=_seconds(body, "lag"), **fields(body))

    async def edit(request: web.Request) -> object:
        body = await _body(request)
        _allowed(body, "resource", "id", "fields", "lag")
        resource: str = _required(body, "resource", str)
        ident: str = _required(body, "id", str)
        with refused_as_bad_body():
            return sandbox.edit(resource, ident, lag=_seconds(body, "lag"), **fields(body))

    async def delete(request: web.Request) -> object:
        body = await _body(request)
        _allowed(body, "resource", "id", "soft", "lag")
        resource: str = _required(body, "resource", str)
        ident: str = _required(body, "id", str)
        soft: bool | None = _optional(body, "soft", bool)
        with refused_as_bad_body():
            return sandbox.delete(resource, ident, lag=_seconds(body, "lag"), soft=soft)

    async def upload_late(request: web.Request) -> object:
        body = await _body(request)
        _allowed(body, "sales_point", "count", "hours_ago", "lag")
        count: int = _optional(body, "count", int, 1)
        if count > _MOST_LATE:
            raise _BadBody(f"count: expected at most {_MOST_LATE} per call, got {count}")
        hours = _number(body, "hours_ago", "hours")
        with refused_as_bad_body():
            late = sandbox.upload_late(
                sales_point=point(body),
                count=count,
                hours_ago=6.0 if hours is None else hours,
                lag=_seconds(body, "lag"),
            )
        return {"results": late}

    async def close_day(request: web.Request) -> object:
        body = await _body(request)
        _allowed(body, "sales_point", "lag")
        sales_point: str = _required(body, "sales_point", str)
        with refused_as_bad_body():
            return sandbox.close_day(sales_point, lag=_seconds(body, "lag"))

    async def commit_lag(request: web.Request) -> object:
        body = await _body(request)
        _allowed(body, "seconds")
        lag = _seconds(body, "seconds")
        if lag is None:
            raise _BadBody("seconds: required (a number >= 0)")
        sandbox.commit_lag = lag
        return await clock_state(request)

    async def clock_state(request: web.Request) -> object:
        return {
            "now": sandbox.now().isoformat(),
            "client_now": sandbox.client_now().isoformat(),
            "server_offset": sandbox.server_offset.total_seconds(),
            "commit_lag": sandbox.commit_lag.total_seconds(),
        }

    async def clock(request: web.Request) -> object:
        body = await _body(request)
        _allowed(body, "advance", "now", "server_offset")
        which = _only_one(body, "advance", "now", "server_offset")
        if which == "server_offset":
            offset = _number(body, "server_offset", "seconds", signed=True)
            assert offset is not None
            sandbox.server_offset = timedelta(seconds=offset)
            return await clock_state(request)
        step = _seconds(body, "advance")
        if which == "now":
            wanted = _moment(body, "now")
            assert wanted is not None
            step = wanted - sandbox.now()
            if step < timedelta(0):
                raise _BadBody(
                    f"now: {wanted.isoformat()} is before the server's time "
                    f"{sandbox.now().isoformat()}; time only moves forward (server_offset "
                    "sets the server's clock behind the client's)"
                )
        assert step is not None
        with refused_as_bad_body():
            sandbox.advance(step.total_seconds())
        return await clock_state(request)

    async def requests(request: web.Request) -> object:
        since_text = request.query.get("since", "0")
        if not since_text.isdigit():
            raise _BadBody(f"since: expected a whole number >= 0, got {since_text!r}")
        recorded = sandbox.requests[int(since_text) :]
        results = [attrs.asdict(r, value_serializer=lambda _, __, v: _plain(v)) for r in recorded]
        return {"count": len(sandbox.requests), "results": results}

    async def clear_requests(request: web.Request) -> object:
        sandbox.clear_requests()
        return {"count": 0}

    async def unknown(request: web.Request) -> object:
        raise KeyError(
            f"no control endpoint {request.method} {request.path}; GET {CONTROL_PREFIX} lists them"
        )

    at = CONTROL_PREFIX
    return [
        web.get(at, guarded(index)),
        web.get(at + "tenants", guarded(tenants)),
        web.post(at + "sales-points/online", guarded(online)),
        web.post(at + "job-failure", guarded(failure)),
        web.get(at + "jobs", guarded(jobs)),
        web.post(at + "jobs/{job}/status", guarded(status)),
        web.post(at + "jobs/{job}/cancel", guarded(cancel)),
        web.post(at + "faults", guarded(inject)),
        web.delete(at + "faults", guarded(clear_faults)),
        web.post(at + "throttle", guarded(throttle)),
        web.post(at + "items/insert", guarded(insert)),
        web.post(at + "items/edit", guarded(edit)),
        web.post(at + "items/delete", guarded(delete)),
        web.post(at + "receipts/upload-late", guarded(upload_late)),
        web.post(at + "closings", guarded(close_day)),
        web.post(at + "commit-lag", guarded(commit_lag)),
        web.get(at + "clock", guarded(clock_state)),
        web.post(at + "clock", guarded(clock)),
        web.get(at + "requests", guarded(requests)),
        web.delete(at + "requests", guarded(clear_requests)),
        web.route("*", at + "{tail:.*}", guarded(unknown)),
    ]
