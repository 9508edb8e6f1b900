"""OpenTelemetry traces and metrics from the client's hooks (``pip install bessa-async[otel]``).

Only ``opentelemetry-api`` is needed: the application's SDK (or none, then nothing is recorded)
decides where spans and metrics go. Spans are written when a call ends, with the times it
started and ended, so they nest under the span current in the calling task (a web request's)
and carry every attempt as a span event.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._base.errors import ConfigurationError
from .._version import __version__
from .events import (
    CallEvent,
    OperationEvent,
    PageEvent,
    PollEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
)
from .hooks import Hooks

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["opentelemetry_hooks"]

_SCOPE: Final = "bessa_async"
_NS: Final = 1_000_000_000

#: The metric instruments, by name (HTTP semantic conventions where they name one).
REQUEST_DURATION: Final = "http.client.request.duration"
ACTIVE_REQUESTS: Final = "http.client.active_requests"
RETRIES: Final = "bessa.client.retries"
JOB_DETECTION_LAG: Final = "bessa.job.detection_lag"


@attrs.define
class _Attempt:
    number: int
    at: int
    status: int | None = None
    error: str | None = None
    elapsed: float | None = None


@attrs.define
class _Open:
    """What is known of a call still running: its attempts, for the span's events."""

    attempts: list[_Attempt] = attrs.field(factory=list)
    retries: list[RetryEvent] = attrs.field(factory=list)


def opentelemetry_hooks(
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> Hooks:
    """:class:`Hooks` that record OpenTelemetry spans and metrics::

        client = BessaClient(hooks=opentelemetry_hooks())

    Spans: one per logical call (``GET receipts/``, kind CLIENT) with ``http.request.method``,
    ``url.template``, ``server.address``, ``http.response.status_code``, ``bessa.retries`` and
    its attempts as events; one per listing (``bessa list``, with ``bessa.pages``) and per
    ``job.wait``. Metrics: ``http.client.request.duration``
    (s, per attempt), ``http.client.active_requests``, ``bessa.client.retries`` and
    ``bessa.job.detection_lag`` (s from a job's end, by the API, to the poll that saw it).

    Args:
        tracer_provider: where spans go (default: the global one).
        meter_provider: where metrics go (default: the global one).

    Raises:
        ConfigurationError: ``opentelemetry-api`` is not installed.
    """
    try:
        from opentelemetry import metrics, trace
    except ImportError as exc:
        raise ConfigurationError(
            "opentelemetry_hooks() needs the OpenTelemetry API: pip install 'bessa-async[otel]'"
        ) from exc
    tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider=tracer_provider)
    meter = metrics.get_meter(_SCOPE, __version__, meter_provider=meter_provider)
    duration = meter.create_histogram(
        REQUEST_DURATION, unit="s", description="Duration of each HTTP request (attempt)."
    )
    active = meter.create_up_down_counter(
        ACTIVE_REQUESTS, unit="{request}", description="HTTP requests in flight or queued."
    )
    retries = meter.create_counter(
        RETRIES, unit="{retry}", description="Attempts repeated after a failure."
    )
    lag = meter.create_histogram(
        JOB_DETECTION_LAG, unit="s", description="Seconds from a job's end to its detection."
    )
    calls: dict[int, _Open] = {}

    def base(method: str, path: str, server: str) -> dict[str, Any]:
        return {"http.request.method": method, "url.template": path, "server.address": server}

    def on_request(event: RequestEvent) -> None:
        calls.setdefault(event.call, _Open()).attempts.append(
            _Attempt(number=event.attempt, at=time.time_ns())
        )
        active.add(1, {"http.request.method": event.method, "server.address": event.server})

    def on_response(event: ResponseEvent) -> None:
        active.add(-1, {"http.request.method": event.method, "server.address": event.server})
        labels = base(event.method, event.path, event.server)
        if event.status is not None:
            labels["http.response.status_code"] = event.status
        if event.error is not None:
            labels["error.type"] = str(event.status) if event.status else event.error
        duration.record(event.elapsed, labels)
        open_ = calls.get(event.call)
        if open_ is not None and open_.attempts:
            attempt = open_.attempts[-1]
            attempt.status, attempt.error, attempt.elapsed = (
                event.status,
                event.error,
                event.elapsed,
            )

    def on_retry(event: RetryEvent) -> None:
        retries.add(1, {"http.request.method": event.method, "url.template": event.path})
        calls.setdefault(event.call, _Open()).retries.append(event)

    def on_call(event: CallEvent) -> None:
        open_ = calls.pop(event.call, _Open())
        end = time.time_ns()
        attributes = base(event.method, event.path, event.server)
        attributes["bessa.retries"] = event.retries
        if event.status is not None:
            attributes["http.response.status_code"] = event.status
        if event.error is not None:
            attributes["error.type"] = event.error
        span = tracer.start_span(
            f"{event.method} {event.path}",
            kind=trace.SpanKind.CLIENT,
            attributes=attributes,
            start_time=end - int(event.elapsed * _NS),
        )
        for attempt in open_.attempts:
            facts: dict[str, Any] = {"bessa.attempt": attempt.number}
            if attempt.status is not None:
                facts["http.response.status_code"] = attempt.status
            if attempt.error is not None:
                facts["error.type"] = attempt.error
            if attempt.elapsed is not None:
                facts["bessa.elapsed"] = attempt.elapsed
            span.add_event("attempt", facts, timestamp=attempt.at)
        for retry in open_.retries:
            span.add_event(
                "retry",
                {
                    "bessa.attempt": retry.attempt,
                    "bessa.reason": retry.reason,
                    "bessa.wait": retry.wait,
                },
            )
        if event.error is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR, event.error))
        span.end(end_time=end)

    def on_page(event: PageEvent) -> None:
        trace.get_current_span().add_event(
            "bessa.page",
            {"bessa.resource": event.resource, "bessa.items": event.items},
        )

    def on_poll(event: PollEvent) -> None:
        if event.detection_lag is not None:
            lag.record(event.detection_lag, {"bessa.job.status": event.status})

    def on_operation(event: OperationEvent) -> None:
        end = time.time_ns()
        span = tracer.start_span(
            f"bessa {event.name}",
            kind=trace.SpanKind.INTERNAL,
            attributes=dict(event.attributes),
            start_time=end - int(event.elapsed * _NS),
        )
        if event.error is not None:
            span.set_attribute("error.type", event.error)
            span.set_status(trace.Status(trace.StatusCode.ERROR, event.error))
        span.end(end_time=end)

    return Hooks(
        on_request=on_request,
        on_response=on_response,
        on_retry=on_retry,
        on_call=on_call,
        on_page=on_page,
        on_poll=on_poll,
        on_operation=on_operation,
    )
