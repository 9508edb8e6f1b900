"""Observability: the hooks' events, calling hooks safely, OpenTelemetry, request tallies."""
