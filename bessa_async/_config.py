"""Configuration values: frozen, keyword-only, changed per call with ``attrs.evolve``."""

from __future__ import annotations

from typing import Any, Final, final

import attrs

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "RetryPolicy",
    "Timeout",
]

#: The real Public API. The sandbox (``bessa_async.testing``) gives its own URL.
DEFAULT_BASE_URL: Final = "https://api.diekasse.app/v1/public/"
#: Requests of one client in flight at once; more wait for a free slot.
DEFAULT_MAX_IN_FLIGHT: Final = 16
#: Environment variables read when the constructor is not given a value.
TOKEN_ENV: Final = "BESSA_TOKEN"
BASE_URL_ENV: Final = "BESSA_BASE_URL"
PATHS_ENV: Final = "BESSA_PATHS"
"""Resource paths to override, ``articles=products/,users=staff/`` or a JSON object."""

_RETRYABLE_STATUSES: Final = frozenset({429, 500, 502, 503, 504})


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _optional_positive(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{attribute.name} must be > 0 or None, got {value!r}")


@final
@attrs.frozen(kw_only=True)
class RetryPolicy:
    """When and how long to retry a request.

    Reads (GET, HEAD, OPTIONS) are retried on connection failures, timeouts of one attempt,
    dropped connections and the statuses in ``statuses``. Writes (POST, ...) are retried only
    when the failure proves the server did not process them: the connection could not be
    opened, or a 429. Waits grow exponentially with full jitter, capped at ``max_backoff``; a
    ``Retry-After`` from the server is honoured up to ``max_retry_after`` seconds, and beyond
    that the call raises :class:`~bessa_async.RateLimitError` at once instead of sleeping.

    Attributes:
        attempts: total attempts per call, the first included (1 disables retries).
        initial_backoff: upper bound of the first jittered wait, in seconds.
        max_backoff: upper bound of any jittered wait, in seconds.
        multiplier: growth of the bound per attempt.
        max_retry_after: the longest ``Retry-After`` honoured by sleeping, in seconds.
        statuses: answer statuses retried for reads (429 also for writes).
    """

    attempts: int = attrs.field(default=4)
    initial_backoff: float = attrs.field(default=0.5, validator=_positive)
    max_backoff: float = attrs.field(default=30.0, validator=_positive)
    multiplier: float = attrs.field(default=2.0, validator=_positive)
    max_retry_after: float = attrs.field(default=60.0, validator=_positive)
    statuses: frozenset[int] = attrs.field(default=_RETRYABLE_STATUSES, converter=frozenset)

    @attempts.validator
    def _check_attempts(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            raise ValueError(f"attempts must be >= 1, got {value!r}")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(attempts=1)

    def backoff_bound(self, retry_number: int) -> float:
        """Upper bound of the jittered wait before retry number ``retry_number`` (1-based)."""
        exponent = min(retry_number - 1, 64)  # no overflow for absurd attempt counts
        return min(self.max_backoff, self.initial_backoff * self.multiplier**exponent)


@final
@attrs.frozen(kw_only=True)
class Timeout:
    """Time limits of a call.

    Attributes:
        total: the deadline of one call, covering every attempt and every wait between them;
            ``None`` for no deadline.
        connect: limit for opening one connection.
        read: limit between two reads of one answer (a stalled server).
    """

    total: float | None = attrs.field(default=60.0, validator=_optional_positive)
    connect: float | None = attrs.field(default=10.0, validator=_optional_positive)
    read: float | None = attrs.field(default=30.0, validator=_optional_positive)


#: The limits and retry policy a client uses unless told otherwise.
DEFAULT_TIMEOUT: Final = Timeout()
DEFAULT_RETRY: Final = RetryPolicy()


def as_timeout(value: float | Timeout | None) -> Timeout:
    """Accept a plain number of seconds as the call's total deadline."""
    if value is None:
        return Timeout(total=None)
    if isinstance(value, Timeout):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"timeout must be seconds or a Timeout, got {type(value).__name__}")
    return Timeout(total=float(value))
