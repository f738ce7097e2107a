"""``kitaru.otel``: send Kitaru's traces and metrics to your OpenTelemetry providers.

Nothing is needed when the application sets a global tracer provider
(``opentelemetry.trace.set_tracer_provider``) or runs with ``KITARU_OTEL=1`` (Kitaru then sets
up OTLP/HTTP exporters from the standard ``OTEL_EXPORTER_OTLP_*`` variables).
:func:`instrument` is for providers that are not global (a test's, a second pipeline).
See docs/observability.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["instrument", "uninstrument"]


def instrument(tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Trace every execution this process runs on ``tracer_provider`` (default: the global
    one) and record metrics on ``meter_provider`` (default: the global one)."""
    from opentelemetry import trace

    from kitaru.runtime.otel import Instrumentation
    from kitaru.runtime.telemetry import set_explicit

    set_explicit(Instrumentation(tracer_provider or trace.get_tracer_provider(), meter_provider))


def uninstrument() -> None:
    """Back to the default: traced only with a global provider or ``KITARU_OTEL=1``."""
    from kitaru.runtime.telemetry import set_explicit

    set_explicit(None)
