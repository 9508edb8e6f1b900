"""What a command's requests came to: a tally kept by hooks, and its one-line summary.

``bessa export`` (and any long command) passes ``tally.hooks()`` to its client and ends with
``tally.summary(seconds)``; with ``line=`` each logical call is also written as it ends.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from .events import CallEvent, RateLimitedEvent, ResponseEvent, RetryEvent
from .hooks import Hooks

__all__ = ["RequestTally", "call_line"]


def call_line(event: CallEvent) -> str:
    """One line for a call: ``GET receipts/ -> 200 in 0.042 s (1 retry)``. Pure."""
    outcome = event.error if event.status is None else str(event.status)
    if event.error is not None and event.status is not None:
        outcome = f"{event.status} {event.error}"
    retries = ""
    if event.retries:
        retries = f" ({event.retries} {'retry' if event.retries == 1 else 'retries'})"
    return f"{event.method} {event.path} -> {outcome} in {event.elapsed:.3f} s{retries}"


def _plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word if count == 1 else (words or word + 's')}"


@attrs.define
class RequestTally:
    """Counts of what a client sent: fed by :meth:`hooks`, read by :meth:`summary`."""

    requests: int = 0
    """HTTP requests (attempts) that ended, with an answer or without."""
    calls: int = 0
    retries: int = 0
    rate_limited: int = 0
    """429 answers that paused the client."""
    rate_limited_wait: float = 0.0
    """Seconds of those pauses, summed."""

    def hooks(self, *, line: Callable[[str], object] | None = None) -> Hooks:
        """Hooks counting into this tally; ``line`` is given one line per call as it ends."""

        def on_response(event: ResponseEvent) -> None:
            self.requests += 1

        def on_retry(event: RetryEvent) -> None:
            self.retries += 1

        def on_rate_limited(event: RateLimitedEvent) -> None:
            self.rate_limited += 1
            self.rate_limited_wait += event.wait

        def on_call(event: CallEvent) -> None:
            self.calls += 1
            if line is not None:
                line(call_line(event))

        return Hooks(
            on_response=on_response,
            on_retry=on_retry,
            on_rate_limited=on_rate_limited,
            on_call=on_call,
        )

    def summary(self, seconds: float) -> str:
        """``"12 requests, 1 retry, 1 429 wait (2.0 s), 3.41 s"``."""
        waits = _plural(self.rate_limited, "429 wait")
        return (
            f"{_plural(self.requests, 'request')}, {_plural(self.retries, 'retry', 'retries')}, "
            f"{waits} ({self.rate_limited_wait:.1f} s), {seconds:.2f} s"
        )
