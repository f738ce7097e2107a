"""OpenTelemetry traces and metrics of executions (imported only once something traces).

Spans: ``execution <flow>`` for each pass over a flow body in a process (its parent: the trace
the execution recorded, so every process of one execution — the first run, a resume after a
crash or a wait, a worker, a remote unit, ``kitaru serve`` — joins one trace); ``checkpoint
<name>`` for each attempt of a checkpoint call; ``wait <call id>`` from the moment a wait began
until its input arrived; ``chat <model>`` for each LLM call made (not for answers reused from the
journal), with the GenAI semantic-convention attributes (``gen_ai.*``; the strings are copied here:
the incubating constants of opentelemetry-semantic-conventions are all marked deprecated).

Metrics: ``kitaru.checkpoint.duration`` (histogram, s), ``kitaru.llm.tokens`` and
``kitaru.llm.cost`` (counters, by model and token type), ``kitaru.executions`` (counter, by the
status a runner left the execution in).
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from kitaru.tracecontext import METADATA_KEY, TRACEPARENT_ENV
from kitaru.version import __version__

if TYPE_CHECKING:
    from kitaru.runtime.context import ExecutionContext
    from kitaru.runtime.engine import Outcome
    from kitaru.store.records import Call

_propagator = TraceContextTextMapPropagator()
#: how a runner leaves an execution, per outcome of its last pass
_STATUS = {"completed": "completed", "failed": "failed", "suspended": "waiting",
           "cancelled": "cancelled", "lost": "lost"}  # fmt: skip


class Instrumentation:
    """Spans and metrics for the executions of this process, on the given providers."""

    def __init__(self, tracer_provider: Any, meter_provider: Any = None) -> None:
        self.tracer_provider = tracer_provider
        self.tracer = tracer_provider.get_tracer("kitaru", __version__)
        meter = (meter_provider or metrics.get_meter_provider()).get_meter("kitaru", __version__)
        self.checkpoint_duration = meter.create_histogram(
            "kitaru.checkpoint.duration", unit="s", description="Duration of checkpoint attempts"
        )
        self.llm_tokens = meter.create_counter(
            "kitaru.llm.tokens", unit="{token}", description="Tokens of LLM calls made"
        )
        self.llm_cost = meter.create_counter(
            "kitaru.llm.cost", unit="USD", description="Cost of LLM calls made"
        )
        self.executions = meter.create_counter(
            "kitaru.executions", unit="{execution}",
            description="Executions by the status a runner left them in",
        )  # fmt: skip

    # -- executions -----------------------------------------------------------------------------
    def execution_pass(self, ctx: ExecutionContext, run: Callable[[], Outcome]) -> Outcome:
        """Run one pass over the flow body inside its ``execution`` span."""
        attributes = {"kitaru.execution.id": ctx.execution.id, "kitaru.flow": ctx.flow.name,
                      "gen_ai.operation.name": "invoke_workflow",
                      "gen_ai.workflow.name": ctx.flow.name}  # fmt: skip
        with self.tracer.start_as_current_span(
            f"execution {ctx.flow.name}", context=self._parent(ctx), attributes=attributes,
            record_exception=False, set_status_on_exception=False,
        ) as span:  # fmt: skip
            self._remember(ctx, span)
            outcome = run()
            span.set_attribute("kitaru.outcome", outcome.kind)
            if outcome.kind == "suspended" and outcome.wait_call_id:
                span.add_event("kitaru.wait", {"kitaru.call_id": outcome.wait_call_id})
            if outcome.kind == "failed" and outcome.error is not None:
                span.record_exception(outcome.error)
                span.set_status(Status(StatusCode.ERROR, type(outcome.error).__name__))
        return outcome

    def _parent(self, ctx: ExecutionContext) -> Any:
        """The trace this pass joins: the execution's own (recorded by its first pass), else the
        caller's current span, else the ``TRACEPARENT`` a launcher gave this process."""
        stored = (ctx.execution.metadata or {}).get(METADATA_KEY)
        if stored:
            return _propagator.extract({"traceparent": stored})
        if trace.get_current_span().get_span_context().is_valid:
            return None  # the current context
        inherited = os.environ.get(TRACEPARENT_ENV)
        return _propagator.extract({"traceparent": inherited}) if inherited else None

    @staticmethod
    def _remember(ctx: ExecutionContext, span: Span) -> None:
        """Record the first pass's span on the execution: later passes elsewhere join it."""
        metadata = ctx.execution.metadata
        if metadata.get(METADATA_KEY):
            return
        carrier: dict[str, str] = {}
        _propagator.inject(carrier, context=trace.set_span_in_context(span))
        value = carrier.get("traceparent")
        if not value:
            return
        try:
            ctx.store.update_metadata(ctx.pk, {METADATA_KEY: value}, epoch=ctx.epoch)
        except Exception:  # telemetry never fails an execution (a lost lease shows up next)
            return
        metadata[METADATA_KEY] = value

    def execution_left(self, ctx: ExecutionContext, outcome: Outcome) -> None:
        """Count the status a runner leaves the execution in."""
        status = _STATUS.get(outcome.kind, outcome.kind)
        self.executions.add(1, {"kitaru.flow": ctx.flow.name, "kitaru.status": status})

    # -- checkpoints ----------------------------------------------------------------------------
    def _checkpoint_span(self, ctx: ExecutionContext, name: str, call_id: str, n: int) -> Any:
        return self.tracer.start_as_current_span(
            f"checkpoint {name}",
            attributes={"kitaru.checkpoint": name, "kitaru.call_id": call_id,
                        "kitaru.attempt": n, "kitaru.execution.id": ctx.execution.id},
        )  # fmt: skip

    def checkpoint(
        self, ctx: ExecutionContext, name: str, call_id: str, n: int, body: Callable[..., Any],
        *args: Any,
    ) -> Any:  # fmt: skip
        """Run one checkpoint attempt in its span, timing it."""
        t0, status = time.perf_counter(), "failed"
        try:
            with self._checkpoint_span(ctx, name, call_id, n):
                value = body(*args)
                status = "completed"
                return value
        finally:
            self.checkpoint_duration.record(
                time.perf_counter() - t0, {"kitaru.checkpoint": name, "kitaru.status": status}
            )

    async def checkpoint_async(
        self, ctx: ExecutionContext, name: str, call_id: str, n: int,
        body: Callable[[], Awaitable[Any]],
    ) -> Any:  # fmt: skip
        t0, status = time.perf_counter(), "failed"
        try:
            with self._checkpoint_span(ctx, name, call_id, n):
                value = await body()
                status = "completed"
                return value
        finally:
            self.checkpoint_duration.record(
                time.perf_counter() - t0, {"kitaru.checkpoint": name, "kitaru.status": status}
            )

    # -- waits ----------------------------------------------------------------------------------
    def wait_resolved(self, ctx: ExecutionContext, rec: Call) -> None:
        """A span for the time a wait waited, once: in the pass its input resumed (the wait is
        then the newest record of the journal; later passes only read it again)."""
        if rec.seq < max((c.seq for c in ctx.journal.values()), default=0):
            return
        start = rec.started_at or time.time()
        end = rec.ended_at or time.time()
        span = self.tracer.start_span(
            f"wait {rec.call_id}", start_time=int(start * 1e9),
            attributes={"kitaru.call_id": rec.call_id, "kitaru.execution.id": ctx.execution.id,
                        "kitaru.wait.timed_out": bool((rec.meta or {}).get("timed_out"))},
        )  # fmt: skip
        span.end(end_time=int(max(end, start) * 1e9))

    # -- LLM calls ------------------------------------------------------------------------------
    def llm_call(
        self, ctx: ExecutionContext, call_id: str, meta: dict[str, Any], started: float,
        ended: float, error: BaseException | None = None,
    ) -> None:  # fmt: skip
        """A ``chat`` span (GenAI attributes) and the token and cost counters for one call."""
        resolved = str(meta.get("resolved_model") or meta.get("model") or "")
        provider = meta.get("provider")
        model = resolved
        if not provider and "/" in resolved:
            provider, model = resolved.split("/", 1)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": model,
            "kitaru.call_id": call_id, "kitaru.execution.id": ctx.execution.id,
        }  # fmt: skip
        if provider:
            attributes["gen_ai.provider.name"] = str(provider)
        if meta.get("provider_model"):
            attributes["gen_ai.response.model"] = str(meta["provider_model"])
        if meta.get("finish_reason"):
            attributes["gen_ai.response.finish_reasons"] = [str(meta["finish_reason"])]
        if meta.get("alias"):
            attributes["kitaru.llm.alias"] = str(meta["alias"])
        tokens_in, tokens_out = int(meta.get("tokens_in") or 0), int(meta.get("tokens_out") or 0)
        attributes["gen_ai.usage.input_tokens"] = tokens_in
        attributes["gen_ai.usage.output_tokens"] = tokens_out
        cost = meta.get("cost_usd")
        if cost is not None:
            attributes["kitaru.llm.cost_usd"] = float(cost)
        span = self.tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT,
                                      start_time=int(started * 1e9), attributes=attributes)  # fmt: skip
        if error is not None:
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
        span.end(end_time=int(max(ended, started) * 1e9))
        labels = {"gen_ai.request.model": model, "gen_ai.provider.name": str(provider or "")}
        if tokens_in:
            self.llm_tokens.add(tokens_in, {**labels, "gen_ai.token.type": "input"})
        if tokens_out:
            self.llm_tokens.add(tokens_out, {**labels, "gen_ai.token.type": "output"})
        if cost:
            self.llm_cost.add(float(cost), labels)


# -- where the providers come from -----------------------------------------------------------------
_by_provider: dict[int, Instrumentation] = {}


def from_global(provider: Any) -> Instrumentation:
    """The instrumentation on the tracer provider the application set globally."""
    found = _by_provider.get(id(provider))
    if found is None or found.tracer_provider is not provider:
        found = _by_provider[id(provider)] = Instrumentation(provider)
    return found


_from_env: list[Instrumentation] = []


def from_environment() -> Instrumentation:
    """``KITARU_OTEL=1``: OTLP/HTTP exporters configured by the standard ``OTEL_*`` variables,
    set as the global providers unless the application set its own (then those are used)."""
    if _from_env:
        return _from_env[0]
    current = trace.get_tracer_provider()
    if not isinstance(current, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        _from_env.append(from_global(current))
        return _from_env[0]
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "kitaru"}
    resource = Resource.create(named)
    tracer_provider = TracerProvider(resource=resource)  # flushed at exit (shutdown_on_exit)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    trace.set_tracer_provider(tracer_provider)
    if isinstance(metrics.get_meter_provider(), metrics.NoOpMeterProvider) or type(
        metrics.get_meter_provider()
    ).__name__.startswith("_Proxy"):
        metrics.set_meter_provider(meter_provider)
    _from_env.append(Instrumentation(tracer_provider, meter_provider))
    return _from_env[0]
