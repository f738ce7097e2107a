"""Instrumentation hooks of the runtime: free when nothing traces.

Each pass over a flow body asks :func:`resolve` once whether this process traces — a tracer
provider given to :func:`kitaru.otel.instrument`, ``KITARU_OTEL=1`` (Kitaru sets up the OTLP/HTTP
exporters from the standard ``OTEL_EXPORTER_OTLP_*`` variables), or a tracer provider the
application set globally — and keeps the answer on the context (``ctx.telemetry``). The hot paths
(checkpoint attempts, waits, LLM calls) read that attribute and do nothing more when it is
``None``; OpenTelemetry is imported only once something traces (:mod:`kitaru.runtime.otel`).
"""

from __future__ import annotations

import os
import sys
from typing import Any

#: set by kitaru.otel.instrument(): the instrumentation every execution of this process uses
_explicit: list[Any] = [None]
_OFF = ("", "0", "false", "no", "off")


def resolve() -> Any:
    """The instrumentation for a pass starting now, or None (the common case, and cheap)."""
    if _explicit[0] is not None:
        return _explicit[0]
    if os.environ.get("KITARU_OTEL", "").strip().lower() not in _OFF:
        try:
            from kitaru.runtime.otel import from_environment
        except ModuleNotFoundError as exc:  # KITARU_OTEL=1 without kitaru[otel]: one line
            from kitaru.errors import ConfigError
            from kitaru.imports import missing_extra

            if (missing := missing_extra(exc)) is None:
                raise
            raise ConfigError(f"KITARU_OTEL is set: {missing[0]}", hint=missing[1]) from exc
        return from_environment()
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:  # nobody imported OpenTelemetry: nobody configured it
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    from kitaru.runtime.otel import from_global

    return from_global(provider)


def set_explicit(instrumentation: Any) -> None:
    _explicit[0] = instrumentation
