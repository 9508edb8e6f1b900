"""Injected faults at work: which rule a request meets, and the misbehaving answers they make.

Rules are tried in the order they were injected: latency rules add up, and the first matching
other rule decides. A decisive fault answers before the handler (a status, an HTML page, a drop)
or after it (a drop once the write happened, a body cut mid-transfer, JSON cut in a complete
answer, a malformed body, a cycling ``next``).
"""

from __future__ import annotations

import asyncio
import random
from typing import Final, NoReturn, final

from aiohttp import web

from ._answers import detail, reason
from ._faults import Fault, FaultRule
from ._throttle import throttled_detail

__all__ = ["FaultInjector", "after_handler", "before_handler"]

_PORTAL_PAGE: Final = "<html><body><h1>Welcome</h1><p>Please log in.</p></body></html>"
_BROKEN_JSON: Final = '{"count": 3, "next": null, "results": [{"id": '


@final
class FaultInjector:
    """The injected rules, matched with a seeded generator so that a run is reproducible."""

    def __init__(self, rng: random.Random) -> None:
        self.rules: list[FaultRule] = []
        self._rng = rng

    def inject(
        self, fault: Fault, *, path: str | None, method: str | None, times: int | None, rate: float
    ) -> FaultRule:
        """Add a rule (see :meth:`Sandbox.inject <bessa_async.testing.Sandbox.inject>`)."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate is a probability between 0 and 1")
        rule = FaultRule(fault=fault, path=path, method=method, times=times, rate=rate)
        self.rules.append(rule)
        return rule

    def meet(self, method: str, path: str, delay: float) -> tuple[float, Fault | None]:
        """``delay`` plus the matching latency rules, and the first other matching fault.

        Latency rules are all tried, other rules until one matched; a rule that matches counts
        the hit (a rule with a ``rate`` draws from the generator each time it is tried).
        """
        decisive: Fault | None = None
        for rule in self.rules:
            if rule.fault.kind == "latency":
                if rule.matches(method, path, self._rng):
                    delay += rule.fault.seconds
            elif decisive is None and rule.matches(method, path, self._rng):
                decisive = rule.fault
        return delay, decisive


def before_handler(fault: Fault, request: web.Request) -> web.StreamResponse | None:
    """The answer that replaces the handler's, or None when the fault acts after it."""
    if fault.kind == "status":
        return _status_answer(fault)
    if fault.kind == "non_json":
        return web.Response(text=_PORTAL_PAGE, content_type=fault.content_type)
    if fault.kind == "drop" and not fault.after_handler:
        _drop(request)
    return None


async def after_handler(
    fault: Fault, request: web.Request, answer: web.StreamResponse
) -> web.StreamResponse:
    """What becomes of the handler's ``answer``: dropped, truncated, malformed or kept."""
    if fault.kind == "drop":
        _drop(request)
    if fault.kind == "truncate":
        await _truncate(request, answer)
    if fault.kind == "truncated_json":
        return _cut(answer)
    if fault.kind == "malformed_json":
        broken = web.Response(text=_BROKEN_JSON, status=200)
        broken.content_type = "application/json"
        return broken
    return answer


def _status_detail(code: int, retry_after: int | str | None) -> str:
    if code == 429:
        return throttled_detail(retry_after if isinstance(retry_after, int) else 1)
    if code == 503:
        return "Service temporarily unavailable, try again later."
    if code >= 500:
        return "A server error occurred."
    return reason(code)


def _status_answer(fault: Fault) -> web.Response:
    code = fault.status_code
    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
    if fault.body == "json":
        return detail(code, _status_detail(code, fault.retry_after), headers)
    if fault.body == "html":
        title = f"{code} {reason(code)}"
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


def _body_of(answer: web.StreamResponse) -> bytes:
    if isinstance(answer, web.Response) and isinstance(answer.body, bytes):
        return answer.body
    return b"{}"


def _cut(answer: web.StreamResponse) -> web.Response:
    """``answer`` with the first half of its body, framed as a complete message."""
    full = _body_of(answer)
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
    return web.Response(body=full[: len(full) // 2], status=answer.status, headers=headers)


def _drop(request: web.Request) -> NoReturn:
    transport = request.transport
    if transport is not None:
        transport.abort()
    # The handler is done; aiohttp cannot write to an aborted transport and lets it go.
    raise asyncio.CancelledError


async def _truncate(request: web.Request, answer: web.StreamResponse) -> NoReturn:
    full = _body_of(answer)
    stream = web.StreamResponse(status=answer.status)
    stream.content_type = answer.content_type or "application/json"
    stream.content_length = len(full)
    await stream.prepare(request)
    await stream.write(full[: len(full) // 2])
    _drop(request)
