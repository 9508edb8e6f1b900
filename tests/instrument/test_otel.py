"""OpenTelemetry from the hooks, recorded by the SDK's in-memory exporters; and the token,
absent from every event, span and metric of a whole demo run."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from bessa_async import BessaClient, Hooks, NotFoundError, Order, OrderLine, opentelemetry_hooks
from bessa_async._cli.demo import walkthrough
from bessa_async._instrument.hooks import operation
from bessa_async._instrument.otel import ACTIVE_REQUESTS, REQUEST_DURATION, RETRIES
from bessa_async.testing import FakeClock, Fault, Sandbox


@attrs.define
class Telemetry:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def hooks(self) -> Hooks:
        return opentelemetry_hooks(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def finished(self) -> tuple[ReadableSpan, ...]:
        return tuple(self.spans.get_finished_spans())

    def points(self) -> dict[str, list[Any]]:
        data = self.metrics.get_metrics_data()
        found: dict[str, list[Any]] = {}
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    metrics = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[metrics])
    yield Telemetry(spans, metrics, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def _both(first: Hooks, second: Hooks) -> Hooks:
    """Hooks calling ``first``'s then ``second``'s (both sync here)."""
    joined: dict[str, Any] = {}
    for field in attrs.fields(Hooks):
        hooks = [h for h in (getattr(first, field.name), getattr(second, field.name)) if h]

        def call(event: object, hooks: list[Any] = hooks) -> None:
            for hook in hooks:
                hook(event)

        joined[field.name] = call if hooks else None
    return Hooks(**joined)


async def test_one_span_per_call_with_its_attempts(
    telemetry: Telemetry, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.inject(Fault.status(503), path="companies/", times=1)
    async with BessaClient(
        sandbox.token,
        base_url=sandbox.url,
        clock=clock,
        sleep=clock.sleep,
        hooks=telemetry.hooks(),
    ) as client:
        await client.companies.list().collect()
        with pytest.raises(NotFoundError):
            await client.receipts.get(uuid.uuid4())
    listed, missing = (s for s in telemetry.finished() if s.kind is SpanKind.CLIENT)
    (listing,) = (s for s in telemetry.finished() if s.name == "bessa list")
    assert dict(listing.attributes or {}) == {
        "bessa.resource": "companies",
        "bessa.pages": 1,
        "bessa.items": len(sandbox.data.companies),
        "bessa.shards": 1,
    }
    assert listed.name == "GET companies/"
    assert listed.kind is SpanKind.CLIENT
    assert dict(listed.attributes or {}) == {
        "http.request.method": "GET",
        "url.template": "companies/",
        "server.address": "127.0.0.1",
        "http.response.status_code": 200,
        "bessa.retries": 1,
    }
    assert [e.name for e in listed.events] == ["attempt", "attempt", "retry"]
    first, second = (dict(e.attributes or {}) for e in listed.events[:2])
    assert (first["http.response.status_code"], first["error.type"]) == (503, "ServerError")
    assert second["http.response.status_code"] == 200
    assert "error.type" not in second
    assert listed.status.status_code is StatusCode.UNSET
    assert missing.name == "GET receipts/{id}/"
    assert missing.status.status_code is StatusCode.ERROR
    assert (missing.attributes or {})["error.type"] == "NotFoundError"

    points = telemetry.points()
    durations = {
        p.attributes["http.response.status_code"]: p.count for p in points[REQUEST_DURATION]
    }
    assert durations == {503: 1, 200: 1, 404: 1}
    assert sum(p.value for p in points[RETRIES]) == 1
    assert all(p.value == 0 for p in points[ACTIVE_REQUESTS])  # every attempt ended


async def test_a_job_wait_is_a_span_and_its_detection_lag_a_metric(
    telemetry: Telemetry, clock: FakeClock
) -> None:
    async with (
        Sandbox(receipts=0, clock=clock, sleep=clock.sleep, job_delay=1.0) as sandbox,
        BessaClient(
            sandbox.token,
            base_url=sandbox.url,
            clock=clock,
            sleep=clock.sleep,
            hooks=telemetry.hooks(),
        ) as client,
    ):
        point = next(p for p in sandbox.data.sales_points if p["status"] == "active")
        article = next(a for a in sandbox.data.articles if a["active"] and a["type"] == "standard")
        order = Order(sales_point=point["id"], lines=[OrderLine(article=article["id"], quantity=1)])
        await (await client.orders.submit(order)).wait(timeout=120)
    waits = [s for s in telemetry.finished() if s.name == "bessa job.wait"]
    assert len(waits) == 1
    assert dict(waits[0].attributes or {}) == {
        "bessa.job.kind": "order",
        "bessa.job.status": "completed",
    }
    (lag,) = telemetry.points()["bessa.job.detection_lag"]
    assert lag.count == 1
    assert lag.min >= 0


async def test_an_operation_span_carries_its_facts_and_error(
    telemetry: Telemetry, clock: FakeClock
) -> None:
    hooks = telemetry.hooks()
    async with operation(hooks, "sync", clock=clock, **{"bessa.resource": "receipts"}) as facts:
        facts["bessa.pages"] = 3
    with pytest.raises(RuntimeError):
        async with operation(hooks, "sync", clock=clock):
            raise RuntimeError("stop")
    done, failed = telemetry.finished()
    assert done.name == "bessa sync"
    assert dict(done.attributes or {}) == {"bessa.resource": "receipts", "bessa.pages": 3}
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "RuntimeError"


async def test_no_token_in_any_event_span_or_metric_of_a_demo(telemetry: Telemetry) -> None:
    """A whole demo (listings, a sharded day, faults, a 429, jobs, a refused token) with every
    hook recording and OpenTelemetry on: no token anywhere, and no filter value either."""
    events: list[object] = []
    recorder = Hooks(**{f.name: events.append for f in attrs.fields(Hooks)})
    clock = FakeClock()
    out = io.StringIO()
    hooks = _both(recorder, telemetry.hooks())
    assert await walkthrough(out, 300, 0, clock=clock, sleep=clock.sleep, hooks=hooks) == 0
    assert {type(e).__name__ for e in events} == {
        "RequestEvent",
        "ResponseEvent",
        "RetryEvent",
        "RateLimitedEvent",
        "CallEvent",
        "PageEvent",
        "PollEvent",
        "OperationEvent",
    }
    spans = telemetry.finished()
    text = [repr(e) for e in events]
    for span in spans:
        text.append(span.to_json())
    for name, points in telemetry.points().items():
        text += [f"{name} {dict(p.attributes)!r}" for p in points]
    everything = "\n".join(text)
    for token in Sandbox.tokens_for(0):
        assert token not in everything
    assert "REDACTED" in everything  # the sales point filter of the order's lookups etc.
    assert len(spans) > 20
