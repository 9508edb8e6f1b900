"""Fault injection for the sandbox: what can go wrong between a client and the Public API.

A :class:`Fault` says what happens; :meth:`Sandbox.inject <bessa_async.testing.Sandbox.inject>`
says where (path pattern, method), how often (``times``) and how likely (``rate``, drawn from the
sandbox's seeded generator so a soak run is reproducible). Rules are tried in the order they were
injected; latency rules add up, and the first matching non-latency rule decides the answer.
"""

from __future__ import annotations

import fnmatch
import random
from typing import Final, Literal, final

import attrs

__all__ = ["Fault", "FaultRule", "parse_faults", "path_matches"]


def path_matches(pattern: str, path: str) -> bool:
    """Whether a fault's path pattern takes a request's path. Pure.

    The pattern is matched against the whole path under the API base (``/v1/public/``), without
    the query: ``receipts/`` is the receipts list only, not ``receipts/<id>/``. Shell wildcards
    apply, and ``*`` also spans ``/``: ``reports/*`` is everything under ``reports/``,
    ``requests/orders/*/`` each order job.
    """
    return fnmatch.fnmatchcase(path, pattern)


FaultKind = Literal[
    "latency",
    "status",
    "drop",
    "truncate",
    "truncated_json",
    "cycle_next",
    "malformed_json",
    "non_json",
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
        """Send the headers and half of the body, then close the connection.

        The framing breaks (``Content-Length`` promises more than arrives): the client sees a
        failed connection. For a complete answer whose JSON is cut, see :meth:`truncated_json`.
        """
        return cls(kind="truncate")

    @classmethod
    def truncated_json(cls) -> Fault:
        """The handler's answer with its body cut in half, as a complete HTTP message.

        Status and ``Content-Type`` are the handler's, ``Content-Length`` matches the cut
        body and the connection stays usable: only the JSON is broken, as when a proxy or
        gateway passes on half an answer.
        """
        return cls(kind="truncated_json")

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
    """A path pattern (:func:`path_matches`), e.g. ``"articles/"``; None = every path."""
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
        if self.path is not None and not path_matches(self.path, path):
            return False
        if self.rate < 1.0 and rng.random() >= self.rate:
            return False
        self.hits += 1
        return True


_SPEC_HELP: Final = (
    "comma-separated KIND[:RATE][@PATH]; KIND is a status (429, 500, 502, 503, 504; add "
    "'-html' or '-empty' for that body), drop, drop-after, truncate (connection closed "
    "mid-body), truncated-json (complete answer, JSON cut in half), malformed, html, cycle, "
    "or latency=MS; RATE is a probability (default 1); PATH the whole path under /v1/public/ "
    "with shell wildcards, * spanning / (default all; receipts/ is the list only, reports/* "
    "all under reports/), e.g. '503:0.1,429:0.03@receipts/,latency=20:0.5'"
)


def parse_faults(spec: str) -> list[tuple[Fault, str | None, float]]:
    """Read a fault spec (as ``bessa sandbox --faults`` takes it) into (fault, path, rate).

    Raises:
        ValueError: a part that is not ``KIND[:RATE][@PATH]``, with what is accepted.
    """
    rules: list[tuple[Fault, str | None, float]] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        head, _, path = part.partition("@")
        kind, _, rate_text = head.partition(":")
        try:
            rate = float(rate_text) if rate_text else 1.0
            fault = _fault_of(kind.strip().lower())
        except ValueError as exc:
            raise ValueError(f"fault {part!r}: {exc}; expected {_SPEC_HELP}") from None
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault {part!r}: rate {rate} is not a probability in [0, 1]")
        rules.append((fault, path.strip() or None, rate))
    return rules


def _fault_of(kind: str) -> Fault:
    if kind.startswith("latency="):
        return Fault.latency(float(kind.removeprefix("latency=")) / 1000)
    simple = {
        "drop": Fault.drop(),
        "drop-after": Fault.drop(after_handler=True),
        "truncate": Fault.truncate(),
        "truncated-json": Fault.truncated_json(),
        "malformed": Fault.malformed_json(),
        "html": Fault.non_json(),
        "cycle": Fault.cycle_next(),
    }
    if kind in simple:
        return simple[kind]
    code, _, body = kind.partition("-")
    if not code.isdigit() or body not in ("", "json", "html", "empty"):
        raise ValueError(f"unknown kind {kind!r}")
    if int(code) == 429:
        return Fault.rate_limit(retry_after=1)
    return Fault.status(int(code), body=body or "json")  # type: ignore[arg-type]
