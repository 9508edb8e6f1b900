"""What hooks receive: the events of calls, pages, polls and operations, and ready-made hooks.

``Hooks`` itself is also in the front door (``from bessa_async import Hooks``); the events are
here because only code that handles them needs their names::

    from bessa_async import BessaClient, Hooks
    from bessa_async.hooks import CallEvent

    def log_call(event: CallEvent) -> None:
        print(event.method, event.path, event.status, f"{event.elapsed:.3f}s")

    client = BessaClient(hooks=Hooks(on_call=log_call))
"""

from __future__ import annotations

from ._instrument.events import (
    ALLOWED_QUERY_KEYS,
    CallEvent,
    OperationEvent,
    PageEvent,
    PollEvent,
    RateLimitedEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
)
from ._instrument.hooks import Hooks
from ._instrument.otel import opentelemetry_hooks
from ._instrument.summary import RequestTally

__all__ = [
    "ALLOWED_QUERY_KEYS",
    "CallEvent",
    "Hooks",
    "OperationEvent",
    "PageEvent",
    "PollEvent",
    "RateLimitedEvent",
    "RequestEvent",
    "RequestTally",
    "ResponseEvent",
    "RetryEvent",
    "opentelemetry_hooks",
]
