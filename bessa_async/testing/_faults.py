"""Fault injection for the sandbox: what can go wrong between a client and the Public API.

A :class:`Fault` says what happens; :meth:`Sandbox.inject <bessa_async.testing.Sandbox.inject>`
says where (path pattern, method), how often (``times``) and how likely (``rate``, drawn from the
sandbox's seeded generator so a soak run is reproducible). Rules are tried in the order they were
injected; latency rules add up, and the first matching non-latency rule decides the answer.
"""

from __future__ import annotations

import fnmatch
import random
from typing import Literal, final

import attrs

__all__ = ["Fault", "FaultRule"]

FaultKind = Literal[
    "latency", "status", "drop", "truncate", "cycle_next", "malformed_json", "non_json"
]
BodyKind = Literal["json", "html", "empty"]


@final
@attrs.frozen(kw_only=True)
class Fault:
    """One kind of misbehaviour. Build it with the class methods, e.g. ``Fault.status(503)``."""

    kind: FaultKind
    seconds: float = 0.0
    status_code: int = 200
    body: BodyKind = "json"
    retry_after: int | str | None = None
    after_handler: bool = False
    content_type: str = "text/html"

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        """Delay the answer by ``seconds`` (the request is then handled normally)."""
        if seconds < 0:
            raise ValueError("latency must not be negative")
        return cls(kind="latency", seconds=seconds)

    @classmethod
    def status(
        cls, code: int, *, body: BodyKind = "json", retry_after: int | str | None = None
    ) -> Fault:
        """Answer ``code`` without running the handler.

        ``body`` is DRF's ``{"detail": ...}`` (``"json"``), a proxy's error page (``"html"``) or
        nothing (``"empty"``); ``retry_after`` becomes a ``Retry-After`` header (seconds or an
        HTTP date).
        """
        return cls(kind="status", status_code=code, body=body, retry_after=retry_after)

    @classmethod
    def rate_limit(cls, retry_after: int | str = 1) -> Fault:
        """DRF's throttling answer: 429, ``Retry-After`` and its ``detail`` text."""
        return cls(kind="status", status_code=429, body="json", retry_after=retry_after)

    @classmethod
    def drop(cls, *, after_handler: bool = False) -> Fault:
        """Close the connection without an answer, before or after the handler ran.

        After the handler, a write has happened on the server although the client saw nothing:
        the case an idempotency key and reconciliation exist for.
        """
        return cls(kind="drop", after_handler=after_handler)

    @classmethod
    def truncate(cls) -> Fault:
        """Send the headers and half of the body, then close the connection."""
        return cls(kind="truncate")

    @classmethod
    def cycle_next(cls) -> Fault:
        """List pages whose ``next`` names the page just served, so a naive loop never ends."""
        return cls(kind="cycle_next")

    @classmethod
    def malformed_json(cls) -> Fault:
        """A 200 with ``Content-Type: application/json`` and a body that is not valid JSON."""
        return cls(kind="malformed_json")

    @classmethod
    def non_json(cls, content_type: str = "text/html") -> Fault:
        """A 200 whose body is an HTML page (e.g. a captive portal or a misrouted proxy)."""
        return cls(kind="non_json", content_type=content_type)


@final
@attrs.define(kw_only=True)
class FaultRule:
    """Where and how often a :class:`Fault` applies; ``hits`` counts the times it fired."""

    fault: Fault
    path: str | None = None
    """A path relative to the API base (``"articles/"``); shell wildcards allowed; None = all."""
    method: str | None = None
    times: int | None = None
    rate: float = 1.0
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        """Whether the rule has fired ``times`` times already."""
        return self.times is not None and self.hits >= self.times

    def matches(self, method: str, path: str, rng: random.Random) -> bool:
        """Whether this request gets the fault; counts the hit when it does."""
        if self.exhausted:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is not None and not fnmatch.fnmatchcase(path, self.path):
            return False
        if self.rate < 1.0 and rng.random() >= self.rate:
            return False
        self.hits += 1
        return True
