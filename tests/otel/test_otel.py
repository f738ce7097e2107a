"""OpenTelemetry: spans for executions, checkpoint attempts, waits and LLM calls (GenAI names),
metrics, and one trace across every process of an execution — with the SDK's in-memory exporter,
and with the real OTLP/HTTP exporter of worker processes sending to a local receiver."""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import kitaru
from kitaru import checkpoint, flow
from tests.cli.cli_helpers import kitaru as kitaru_cli
from tests.cli.cli_helpers import wait_for
from tests.otel.conftest import Telemetry
from tests.otel.otlp_receiver import OTLPReceiver

_failures: list[int] = []


@checkpoint
def research(topic: str) -> str:
    return f"notes on {topic}"


@checkpoint(retries=1)
def flaky(text: str) -> str:
    _failures.append(1)
    if len(_failures) == 1:
        raise RuntimeError("first attempt fails")
    return text.upper()


@flow
def traced(topic: str) -> str:
    notes = research(topic)
    answer = kitaru.llm(f"summarise {notes}", model="fast")
    return flaky(answer)


@flow
def approval(topic: str) -> str:
    notes = research(topic)
    ok = kitaru.wait(name="approve", schema=bool, question="ok?")
    return notes if ok else "rejected"


def _trace(span: Any) -> str:
    return f"{span.context.trace_id:032x}"


def test_spans_and_metrics_with_the_in_memory_exporter(telemetry: Telemetry, provider: Any) -> None:
    _failures.clear()
    result = traced("otel")
    [ex_span] = telemetry.named("execution traced")
    checkpoints = telemetry.named("checkpoint ")
    [chat] = telemetry.named("chat ")
    assert [s.name for s in checkpoints] == ["checkpoint research", "checkpoint flaky",
                                             "checkpoint flaky"]  # fmt: skip
    assert [s.attributes["kitaru.attempt"] for s in checkpoints] == [1, 1, 2]
    assert checkpoints[1].status.status_code.name == "ERROR"  # the failed first attempt
    for span in [*checkpoints, chat]:  # all in the execution's span, one trace
        assert span.parent.span_id == ex_span.context.span_id and _trace(span) == _trace(ex_span)

    from kitaru.client import KitaruClient

    [info] = KitaruClient().executions.list()
    ex = KitaruClient().executions.get(info.id)
    [llm] = ex.llm_calls
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.provider.name"] == "offline"
    assert chat.attributes["gen_ai.request.model"] == "echo"
    assert chat.attributes["gen_ai.usage.input_tokens"] == llm.metadata["tokens_in"]
    assert chat.attributes["gen_ai.usage.output_tokens"] == llm.metadata["tokens_out"]
    assert chat.attributes["kitaru.llm.cost_usd"] == pytest.approx(llm.metadata["cost_usd"])
    assert result.isupper()
    # the trace is recorded on the execution: every later process joins it
    assert ex.metadata["traceparent"].split("-")[1] == _trace(ex_span)

    points = telemetry.metrics()
    durations = {p.attributes["kitaru.status"]: p.count
                 for p in points["kitaru.checkpoint.duration"]
                 if p.attributes["kitaru.checkpoint"] == "flaky"}  # fmt: skip
    assert durations == {"failed": 1, "completed": 1}
    tokens = {p.attributes["gen_ai.token.type"]: p.value for p in points["kitaru.llm.tokens"]}
    assert tokens == {"input": llm.metadata["tokens_in"], "output": llm.metadata["tokens_out"]}
    [cost] = points["kitaru.llm.cost"]
    assert cost.value == pytest.approx(llm.metadata["cost_usd"])
    [done] = points["kitaru.executions"]
    assert (done.attributes["kitaru.status"], done.value) == ("completed", 1)


def test_resumed_execution_joins_its_trace_across_a_wait(telemetry: Telemetry) -> None:
    """Held through its wait in this process: the pass after the input is a child of the
    first (through the trace recorded on the execution); the wait is a span of its own."""
    results: list[str] = []
    runner = threading.Thread(target=lambda: results.append(approval("x")))
    runner.start()
    from kitaru.client import KitaruClient

    client = KitaruClient()
    wait_for(lambda: any(e.status == "waiting" for e in client.executions.list()), what="wait")
    [info] = client.executions.list()
    time.sleep(0.05)
    client.executions.input(info.id, True)
    runner.join(timeout=30)
    assert results == ["notes on x"]
    first, second = telemetry.named("execution approval")
    assert _trace(first) == _trace(second)
    assert second.parent.span_id == first.context.span_id
    [wait] = telemetry.named("wait approve")
    assert _trace(wait) == _trace(first) and wait.parent.span_id == second.context.span_id
    assert (wait.end_time - wait.start_time) / 1e9 >= 0.05
    assert first.attributes["kitaru.outcome"] == "suspended"


def test_nothing_is_traced_without_a_provider() -> None:
    from kitaru.runtime.telemetry import resolve

    assert resolve() is None  # OpenTelemetry is imported here, but no provider is set


@pytest.mark.parametrize(
    ("header", "joined"),
    [
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", True),
        (" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ", True),  # spaces around
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", False),  # no flags
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", False),  # upper case
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", False),  # invalid version
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", False),  # zero trace id
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", False),  # zero span id
        ("", False),
        (None, False),
    ],
)
def test_a_callers_traceparent_is_joined_only_if_valid(header: str | None, joined: bool) -> None:
    from kitaru.tracecontext import valid_traceparent

    assert valid_traceparent(header) == (header.strip() if joined and header else None)


# -- real processes, the real OTLP/HTTP exporter ------------------------------------------------
FLOWS = """
import kitaru
from kitaru import checkpoint, flow


@checkpoint
def research(topic: str) -> str:
    return f"notes on {topic}"


@flow
def approval(topic: str) -> str:
    notes = research(topic)
    ok = kitaru.wait(name="approve", schema=bool, question="ok?")
    return notes if ok else "rejected"


@flow
def simple(topic: str) -> str:
    return research(topic)
"""


@pytest.fixture
def flow_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Any]:
    name = f"otel_flows_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text(FLOWS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return path, importlib.import_module(name)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A local OTLP/HTTP receiver; processes started from here export to it (KITARU_OTEL=1)."""
    with OTLPReceiver() as rx:
        monkeypatch.setenv("KITARU_OTEL", "1")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rx.base_url)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "kitaru-test")
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
        yield rx


def _spans(rx: OTLPReceiver, name: str, n: int) -> list[dict[str, Any]]:
    wait_for(lambda: len([s for s in rx.spans if s["name"] == name]) >= n, timeout=30,
             what=f"{n} span(s) {name!r} at the receiver")  # fmt: skip
    return [s for s in rx.spans if s["name"] == name]


def test_otlp_one_trace_across_worker_processes_and_a_wait(
    flow_file: tuple[Path, Any], receiver: OTLPReceiver
) -> None:
    """`kitaru run --detach`: a worker runs it to its wait and exits; `executions input` starts
    another worker that finishes it. Both export over OTLP/HTTP; one trace."""
    path, _ = flow_file
    proc = kitaru_cli("run", f"{path}:approval", "--input", '{"topic": "t"}', "--detach")
    assert proc.returncode == 0, proc.stderr
    execution_id = proc.stdout.strip()
    from kitaru.client import KitaruClient

    client = KitaruClient()
    wait_for(lambda: client.executions.get(execution_id).status == "waiting", timeout=60,
             what="the wait")  # fmt: skip
    [first] = _spans(receiver, "execution approval", 1)
    answered = kitaru_cli("executions", "input", execution_id, "--value", "true")
    assert answered.returncode == 0, answered.stderr
    wait_for(lambda: client.executions.get(execution_id).status == "completed", timeout=60,
             what="the resumed worker")  # fmt: skip
    spans = _spans(receiver, "execution approval", 2)
    second = next(s for s in spans if s["span_id"] != first["span_id"])
    assert second["trace_id"] == first["trace_id"]
    assert second["parent_span_id"] == first["span_id"]
    [wait] = _spans(receiver, "wait approve", 1)
    [research] = _spans(receiver, "checkpoint research", 1)  # the resume reused it: one attempt
    assert wait["trace_id"] == research["trace_id"] == first["trace_id"]
    assert first["resource"]["service.name"] == "kitaru-test"
    assert first["attributes"]["kitaru.execution.id"] == execution_id
    assert (
        client.executions.get(execution_id).metadata["traceparent"].split("-")[1]
        == (first["trace_id"])
    )
    wait_for(lambda: {"kitaru.checkpoint.duration", "kitaru.executions"} <= receiver.metric_names,
             timeout=30, what="metrics at the receiver")  # fmt: skip


def test_detached_run_joins_the_callers_trace(
    flow_file: tuple[Path, Any], receiver: OTLPReceiver, telemetry: Telemetry
) -> None:
    """A flow started detached inside the application's span runs in a worker process that
    gets the span as TRACEPARENT: its spans are in the application's trace."""
    _, module = flow_file
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("app request") as app:
        handle = module.simple._launch(module.simple.bind(("t",), {}), detach=True)
    assert handle.wait() == "notes on t"
    [worker] = _spans(receiver, "execution simple", 1)
    assert worker["trace_id"] == f"{app.get_span_context().trace_id:032x}"
    assert worker["parent_span_id"] == f"{app.get_span_context().span_id:016x}"
    assert telemetry.named("execution simple") == []  # it ran in the worker, not here


def test_kitaru_serve_exports_one_trace_per_execution_and_joins_an_invokers_trace(
    tmp_path: Path, receiver: OTLPReceiver
) -> None:
    """`kitaru serve` with KITARU_OTEL=1: an invocation waits, is answered and resumed in the
    serving process, all its spans in one trace; an invocation sent with a W3C `traceparent`
    header runs in the caller's trace (a malformed header is ignored)."""
    from tests.server.test_serve import FLOWS, start_serve
    from tests.server.test_server_auth import http
    from tests.server.test_server_flows import wait_for_status

    home = tmp_path / "home"
    home.mkdir()
    code = tmp_path / "flows.py"
    code.write_text(FLOWS)
    srv, _ = start_serve(home, code)
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

    def run_review(topic: str, headers: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
        """Invoke review, answer its wait: its id and its spans (two passes, the checkpoint
        and the wait, which is matched by trace: it carries no execution id)."""
        status, answer = http(srv, "POST", "/api/v1/deployments/review/invoke", srv.admin_key,
                              {"inputs": {"topic": topic}}, headers)  # fmt: skip
        assert status == 200, answer
        execution_id = answer["id"]
        wait_for_status(srv, execution_id, "waiting")
        assert http(srv, "POST", f"/api/v1/executions/{execution_id}/input", srv.admin_key,
                    {"value": True})[0] == 200  # fmt: skip
        wait_for_status(srv, execution_id, "completed")

        def own(name: str) -> list[dict[str, Any]]:
            return [s for s in receiver.spans if s["name"] == name
                    and s["attributes"].get("kitaru.execution.id") == execution_id]  # fmt: skip

        wait_for(lambda: len(own("execution review")) == 2 and len(own("checkpoint where")) == 1,
                 timeout=30, what="the execution's spans at the receiver")  # fmt: skip
        traces = {s["trace_id"] for s in own("execution review")}
        wait_for(lambda: any(s["name"] == "wait ok" and s["trace_id"] in traces
                             for s in receiver.spans), timeout=30, what="the wait's span")  # fmt: skip
        waits = [s for s in receiver.spans if s["name"] == "wait ok" and s["trace_id"] in traces]
        return execution_id, own("execution review") + own("checkpoint where") + waits

    try:
        _, spans = run_review("plain", {})
        assert len({s["trace_id"] for s in spans}) == 1, spans  # across the wait and the resume
        first, second = (s for s in spans if s["name"] == "execution review")
        assert second["parent_span_id"] == first["span_id"]  # the resume is a child of the run
        assert first["trace_id"] != caller_trace and first["resource"]["service.name"] == (
            "kitaru-test"
        )
        joined_id, spans = run_review(
            "joined", {"traceparent": f"00-{caller_trace}-{caller_span}-01"}
        )
        assert {s["trace_id"] for s in spans} == {caller_trace}, spans
        assert [s["parent_span_id"] for s in spans if s["name"] == "execution review"] == [
            caller_span, caller_span]  # fmt: skip
        _, spans = run_review("malformed", {"traceparent": f"00-{caller_trace}-0"})
        [own_trace] = {s["trace_id"] for s in spans}
        assert own_trace != caller_trace
        info = http(srv, "GET", f"/api/v1/executions/{joined_id}", srv.admin_key)[1]
        assert info["metadata"]["traceparent"] == f"00-{caller_trace}-{caller_span}-01"
    finally:
        srv.process.terminate()
        srv.process.wait(10)
