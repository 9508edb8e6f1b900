"""The rate gate shared beyond one process: its interface, a client's link to it, DRF's rates.

Every client keeps its own pause after a 429 (:class:`~bessa_async._session.RateGate`). Given a
``rate_gate=`` backend, a client also asks it, once per request, for its turn: the backend
holds the pause (and, with a rate, the pace) of every client using the same token, keyed by a
hash of the token. A backend that fails is said once and then left aside for a while: the
client goes on with its own gate, and no call fails because of the shared one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import Callable
from typing import Final, Protocol, final, runtime_checkable

from .._base.errors import InvalidTypeError
from .._base.rates import parse_rate
from .secret import Secret

__all__ = [
    "RateGateBackend",
    "SharedGate",
    "bounded_wait",
    "check_rate_gate",
    "parse_rate",
    "token_key",
]

logger: Final = logging.getLogger("bessa_async")


RETRY_BACKEND_AFTER: Final = 5.0
"""Seconds (on the client's clock) a failed backend is left aside before it is asked again."""
BACKEND_TIMEOUT: Final = 1.0
"""The longest a request waits for the backend's answer (a host that drops packets)."""


def token_key(token: Secret) -> str:
    """What a shared gate knows a token by: its SHA-256, in hex (never the token)."""
    return hashlib.sha256(token.reveal().encode()).hexdigest()


def bounded_wait(wait: object, cap: float) -> float:
    """A backend's answer as a wait in seconds: 0 for anything not a number or below 0, and
    never beyond ``cap`` (an odd value in a shared store cannot hold a client back for long)."""
    try:
        seconds = float(wait)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return 0.0
    if math.isnan(seconds) or seconds <= 0:
        return 0.0
    return min(seconds, cap)


@runtime_checkable
class RateGateBackend(Protocol):
    """Where the clients sharing a token keep its pause after a 429, and its pace.

    Given as ``BessaClient(..., rate_gate=...)``; :class:`bessa_async.redis.RedisRateGate` is
    one. ``key`` is the token's SHA-256 in hex: a backend never sees the token. An exception
    from either method is never a failed call: the client logs one warning and keeps to its
    own pause until the backend answers again.
    """

    async def turn(self, key: str) -> float:
        """This request's turn: the seconds it must wait before it is sent (0: at once).

        Called once per request, right before it is sent; the turn is taken (a pace counts
        the request), so the request goes after the wait returned.
        """
        ...

    async def block(self, key: str, seconds: float) -> None:
        """Hold back every request of ``key`` for ``seconds`` from now (a 429's pause); a
        longer pause already set is kept."""
        ...


@final
class SharedGate:
    """One client's link to a :class:`RateGateBackend`: the key of its token, and the backend
    left aside for :data:`RETRY_BACKEND_AFTER` seconds after it failed."""

    def __init__(self, backend: RateGateBackend, key: str, clock: Callable[[], float]) -> None:
        self._backend = backend
        self._key = key
        self._clock = clock
        self._retry_at: float | None = None
        self._failing = False

    def __repr__(self) -> str:
        return f"<SharedGate {self._backend!r}>"

    async def turn(self, cap: float) -> float:
        """Seconds to wait before sending (at most ``cap``); 0 while the backend is failing."""
        if self._left_aside():
            return 0.0
        try:
            async with asyncio.timeout(BACKEND_TIMEOUT):
                wait = await self._backend.turn(self._key)
        except Exception as exc:
            self._failed(exc)
            return 0.0
        self._answered()
        return bounded_wait(wait, cap)

    async def block(self, seconds: float) -> None:
        """Tell every client of the token to pause ``seconds`` (nothing while it is failing)."""
        if self._left_aside():
            return
        try:
            async with asyncio.timeout(BACKEND_TIMEOUT):
                await self._backend.block(self._key, seconds)
        except Exception as exc:
            self._failed(exc)
            return
        self._answered()

    def _left_aside(self) -> bool:
        return self._retry_at is not None and self._clock() < self._retry_at

    def _failed(self, exc: Exception) -> None:
        self._retry_at = self._clock() + RETRY_BACKEND_AFTER
        if not self._failing:
            self._failing = True
            # The kind of failure and its text, which names the store, never the token (the
            # backend is only given its hash).
            logger.warning(
                "the shared rate gate failed (%s: %.200s); this client keeps to its own pause "
                "after a 429 until the gate answers again",
                type(exc).__name__,
                exc,
            )

    def _answered(self) -> None:
        self._retry_at = None
        if self._failing:
            self._failing = False
            logger.info("the shared rate gate answers again")


def check_rate_gate(value: object) -> RateGateBackend | None:
    """The checked ``rate_gate=``: None, or an object with the backend's two methods.

    Raises:
        InvalidTypeError: anything else.
    """
    if value is None or isinstance(value, RateGateBackend):
        return value
    raise InvalidTypeError(
        "rate_gate must be a RateGateBackend (e.g. bessa_async.redis.RedisRateGate) or None, "
        f"got {type(value).__name__}"
    )
