"""Fixtures for the OpenTelemetry tests: providers of the test's own (the global one can be set
only once per process), in-memory exporter and metric reader."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

# the dev group installs kitaru[otel]: without it these tests fail (they are not skipped)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.llm.conftest import provider, register_llm_stack  # noqa: F401 - fixtures


@dataclass
class Telemetry:
    spans: Any  # InMemorySpanExporter
    reader: Any  # InMemoryMetricReader
    tracer_provider: Any

    def finished(self) -> list[Any]:
        return list(self.spans.get_finished_spans())

    def named(self, prefix: str) -> list[Any]:
        return [s for s in self.finished() if s.name.startswith(prefix)]

    def metrics(self) -> dict[str, list[Any]]:
        """Metric name -> its data points."""
        data = self.reader.get_metrics_data()
        out: dict[str, list[Any]] = {}
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out.setdefault(m.name, []).extend(m.data.data_points)
        return out


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    import kitaru.otel

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    kitaru.otel.instrument(tracer_provider, MeterProvider(metric_readers=[reader]))
    yield Telemetry(exporter, reader, tracer_provider)
    kitaru.otel.uninstrument()
    tracer_provider.shutdown()
