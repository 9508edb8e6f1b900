"""Configuration values: frozen, keyword-only, changed per call with ``attrs.evolve``."""

from __future__ import annotations

import enum
import math
import os
from typing import Any, Final, Literal, TypeAlias, final

import attrs

from .errors import ConfigurationError, InvalidTypeError, InvalidValueError
from .validate import is_int, is_number

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_ANSWER_BYTES",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_POLL",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "USE_CLIENT_DEFAULT",
    "PollPolicy",
    "RetryPolicy",
    "Timeout",
    "TimeoutArg",
    "UseClientDefault",
    "as_timeout",
    "call_timeout",
    "check_seconds",
]

#: The real Public API. The sandbox (``bessa_async.testing``) gives its own URL.
#: The bessa Public API; ``BessaClient(base_url=)`` or ``BESSA_BASE_URL`` point elsewhere.
DEFAULT_BASE_URL: Final = "https://api.diekasse.app/v1/public/"
#: Requests of one client in flight at once; more wait for a free slot. Kept low on purpose:
#: against a throttled API every request in flight when the window fills draws a 429.
DEFAULT_MAX_IN_FLIGHT: Final = 16
#: The largest answer a client reads, counted after decompression (gzip, deflate, br): 32 MiB,
#: some fifty times a page of 500 receipts. Reading stops there, so a compressed answer that
#: would inflate to gigabytes costs no more memory than this.
DEFAULT_MAX_ANSWER_BYTES: Final = 32 * 1024 * 1024
#: Environment variables read when the constructor is not given a value.
TOKEN_ENV: Final = "BESSA_TOKEN"
BASE_URL_ENV: Final = "BESSA_BASE_URL"
PATHS_ENV: Final = "BESSA_PATHS"
"""Resource paths to override, ``articles=products/,users=staff/`` or a JSON object."""


def configured_base_url(base_url: str | None) -> tuple[str, str]:
    """The base URL to use and where it came from, in this order: the argument, the
    ``BESSA_BASE_URL`` environment variable (when set and not empty), the real API."""
    if base_url is not None:
        return base_url, "base_url"
    if from_env := os.environ.get(BASE_URL_ENV):
        return from_env, BASE_URL_ENV
    return DEFAULT_BASE_URL, "the default"


_RETRYABLE_STATUSES: Final = frozenset({429, 500, 502, 503, 504})


def check_max_answer_bytes(value: int) -> int:
    """A client's ``max_answer_bytes``, checked: a positive int."""
    if not is_int(value) or value < 1:
        raise ConfigurationError(f"max_answer_bytes must be a positive int, got {value!r}")
    return value


def check_seconds(name: str, value: object, *, zero: bool = False) -> float:
    """``value`` as seconds: a finite or infinite number above 0 (or at 0 with ``zero``), not a
    bool, not NaN; else an error naming ``name``. The one check of a number of seconds."""
    if not is_number(value):
        raise InvalidTypeError(f"{name} must be seconds (a number), got {type(value).__name__}")
    if not (value >= 0 if zero else value > 0):  # NaN fails both
        wanted = "seconds >= 0" if zero else "> 0 seconds"
        raise InvalidValueError(f"{name} must be {wanted}, got {value!r}")
    return float(value)


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise InvalidValueError(f"{attribute.name} must be > 0, got {value!r}")


def _optional_seconds(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        check_seconds(attribute.name, value)


@final
@attrs.frozen(kw_only=True)
class RetryPolicy:
    """When and how long to retry a request.

    Reads (GET, HEAD, OPTIONS) are retried on connection failures, timeouts of one attempt,
    dropped connections, a 2xx whose body is not JSON and the statuses in ``statuses``. Writes
    (POST, ...) are retried only when the failure proves the server did not process them: the
    connection could not be opened, or a 429. Waits grow exponentially with full jitter, capped
    at ``max_backoff``; a ``Retry-After`` from the server is honoured up to
    ``max_retry_after`` seconds, and beyond that the call raises
    :class:`~bessa_async.RateLimitError` at once instead of sleeping.

    Attributes:
        attempts: total attempts per call, the first included (1 disables retries).
        initial_backoff: upper bound of the first jittered wait, in seconds.
        max_backoff: upper bound of any jittered wait, in seconds.
        multiplier: growth of the bound per attempt.
        max_retry_after: the longest wait the server may impose, in seconds: a
            ``Retry-After`` (on a 429 or a 5xx) beyond it is not slept through, and the
            client-wide pause after a 429 never lasts longer.
        statuses: answer statuses retried for reads (429 also for writes).
        budget_reserve: the retries a long read (a listing, a changes feed, an export) has
            before any of its requests succeeded: a request of it may go beyond ``attempts``
            while other requests succeed meanwhile and all the read's retries stay within
            ``budget_reserve`` plus ``budget_ratio`` of its successes.
        budget_ratio: retries such a read earns per request that succeeds. Without others
            succeeding meanwhile (a single chain), a request may still retry up to
            ``attempts`` more times, paid from these earnings alone (0: every request keeps
            its ``attempts``).
    """

    attempts: int = attrs.field(default=4)
    initial_backoff: float = attrs.field(default=0.5, validator=_positive)
    max_backoff: float = attrs.field(default=30.0, validator=_positive)
    multiplier: float = attrs.field(default=2.0, validator=_positive)
    max_retry_after: float = attrs.field(default=60.0, validator=_positive)
    statuses: frozenset[int] = attrs.field(default=_RETRYABLE_STATUSES, converter=frozenset)
    budget_reserve: int = attrs.field(default=20)
    budget_ratio: float = attrs.field(default=0.25)

    @budget_reserve.validator
    def _check_reserve(self, attribute: attrs.Attribute[int], value: int) -> None:
        if not is_int(value) or value < 0:
            raise InvalidValueError(f"budget_reserve must be an int >= 0, got {value!r}")

    @budget_ratio.validator
    def _check_ratio(self, attribute: attrs.Attribute[float], value: float) -> None:
        if not is_number(value) or not 0 <= value < math.inf:
            raise InvalidValueError(f"budget_ratio must be a number >= 0, got {value!r}")

    @attempts.validator
    def _check_attempts(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            raise InvalidValueError(f"attempts must be >= 1, got {value!r}")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(attempts=1)

    def capped_wait(self, seconds: float) -> float:
        """``seconds`` the server asked to wait, cut to :attr:`max_retry_after` (the one cap on
        every wait a server imposes: ``Retry-After`` and the pause after a 429)."""
        return min(seconds, self.max_retry_after)

    def honours_wait(self, seconds: float) -> bool:
        """Whether a wait the server asked for is short enough to sleep through."""
        return self.capped_wait(seconds) >= seconds

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

    total: float | None = attrs.field(default=60.0, validator=_optional_seconds)
    connect: float | None = attrs.field(default=10.0, validator=_optional_seconds)
    read: float | None = attrs.field(default=30.0, validator=_optional_seconds)


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not is_number(value) or not value >= 0:
        raise InvalidValueError(f"{attribute.name} must be a number >= 0, got {value!r}")
    if not math.isfinite(value):
        raise InvalidValueError(f"{attribute.name} must be finite, got {value!r}")


@final
@attrs.frozen(kw_only=True)
class PollPolicy:
    """How often a waiting job is asked for: exponential backoff with jitter, per job.

    The first poll comes ``initial`` seconds after the submission; each further delay is the
    previous one times ``multiplier``, each kept within ``[floor, ceiling]`` and spread by
    ``jitter`` (± that fraction, so jobs submitted together do not poll together). A
    ``Retry-After`` on a job answer sets the next delay instead (within the same bounds). The
    defaults find a job of a few seconds about 0.3 s after it finished with 3-4 requests, and
    cost an offline till about two requests a minute per job once the ceiling is reached.

    Change it per client (``BessaClient(poll=...)``) or per call
    (``handle.wait(poll=attrs.evolve(client.poll, ceiling=10))``).

    Attributes:
        initial: seconds from the submission to the first poll.
        floor: the shortest delay between two polls of one job.
        ceiling: the longest delay between two polls of one job.
        multiplier: growth of the delay per poll (>= 1).
        jitter: relative spread of each delay, in ``[0, 1)``.
    """

    initial: float = attrs.field(default=0.5, validator=_non_negative)
    floor: float = attrs.field(default=0.25, validator=_non_negative)
    ceiling: float = attrs.field(default=30.0, validator=_non_negative)
    multiplier: float = attrs.field(default=1.08, validator=_non_negative)
    jitter: float = attrs.field(default=0.1, validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.floor <= 0:
            raise InvalidValueError(f"floor must be > 0, got {self.floor!r}")
        if self.ceiling < self.floor:
            raise InvalidValueError(f"ceiling ({self.ceiling}) must be >= floor ({self.floor})")
        if self.multiplier < 1:
            raise InvalidValueError(f"multiplier must be >= 1, got {self.multiplier!r}")
        if self.jitter >= 1:
            raise InvalidValueError(f"jitter must be < 1, got {self.jitter!r}")

    def clamp(self, seconds: float) -> float:
        """``seconds`` within ``[floor, ceiling]``."""
        return min(self.ceiling, max(self.floor, seconds))


#: The limits and retry policy a client uses unless told otherwise.
#: The deadlines a client uses unless told otherwise.
DEFAULT_TIMEOUT: Final = Timeout()
#: The retry policy a client uses unless told otherwise.
DEFAULT_RETRY: Final = RetryPolicy()
#: The poll policy a client uses unless told otherwise.
DEFAULT_POLL: Final = PollPolicy()


@final
class UseClientDefault(enum.Enum):
    """The type of :data:`USE_CLIENT_DEFAULT`, for annotations of code that passes it on."""

    USE_CLIENT_DEFAULT = "USE_CLIENT_DEFAULT"

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT: Final = UseClientDefault.USE_CLIENT_DEFAULT
"""The default of every ``timeout=``: the client's own :attr:`BessaClient.timeout` (or, for
``with_options``, the current one). ``None`` means no deadline, everywhere."""

TimeoutArg: TypeAlias = float | Timeout | Literal[UseClientDefault.USE_CLIENT_DEFAULT] | None
"""What a call's ``timeout=`` takes: seconds, a :class:`Timeout`, ``None`` (no deadline) or
:data:`USE_CLIENT_DEFAULT`."""


def as_timeout(value: float | Timeout | None) -> Timeout:
    """A number of seconds as the call's total deadline; ``None`` as no deadline."""
    if value is None:
        return Timeout(total=None)
    if isinstance(value, Timeout):
        return value
    if not is_number(value):
        raise InvalidTypeError(
            f"timeout must be seconds, a Timeout or None, got {type(value).__name__}"
        )
    return Timeout(total=float(value))


def call_timeout(value: TimeoutArg) -> Timeout | None:
    """A call's ``timeout=`` checked, as the sender takes it: None for the client's own."""
    if value is USE_CLIENT_DEFAULT:
        return None
    return as_timeout(value)
