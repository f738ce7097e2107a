"""The PydanticAI adapter: every model request and tool call of an agent run is a journaled call
(crash → resume repeats none that completed; replay reuses them unless overridden; an approval
tool is a typed wait), tested with real processes and FunctionModel/TestModel, no network."""

from __future__ import annotations

import json
import os
import signal

import pytest

from tests.cli.cli_helpers import Flows, executions, kitaru, spawn, wait_for


def _show(execution_id: str) -> dict:
    from kitaru.client import KitaruClient

    return KitaruClient().executions.get(execution_id).to_dict()  # type: ignore[no-any-return]


def test_agent_run_in_a_flow_records_model_requests_and_tool_calls(agent_flows: Flows) -> None:
    assert agent_flows.module.trip("plan a trip") == "sunny in Paris / booked Paris"
    [info] = executions()
    from kitaru.client import KitaruClient

    ex = KitaruClient().executions.get(info.id)
    assert [c.call_id for c in ex.calls if c.kind == "checkpoint"] == ["trip.get_weather",
                                                                         "trip.book"]  # fmt: skip
    llm = [c for c in ex.llm_calls]
    assert [c.call_id for c in llm] == ["trip.model", "trip.model#2", "trip.model#3"]
    # the metadata kitaru.llm() writes: model, tokens, latency, cost (None: no price known)
    meta = llm[0].metadata
    assert meta["model"] == meta["resolved_model"] == "function:plan:"
    assert meta["tokens_in"] > 0 and meta["tokens_out"] > 0 and meta["latency_s"] >= 0
    assert "cost_usd" in meta
    assert ex.usage is not None and ex.usage.calls == 3
    assert llm[0].preview == "tool calls: get_weather"
    assert [c.preview for c in ex.calls if c.kind == "checkpoint"] == ["sunny in Paris",
                                                                        "booked Paris"]  # fmt: skip


def test_outside_a_flow_the_agent_runs_untracked(agent_flows: Flows) -> None:
    result = agent_flows.module.trip_agent.run_sync("no flow")
    assert result.output == "sunny in Paris / booked Paris"
    assert executions() == []


def test_test_model_calls_every_tool_durably() -> None:
    from pydantic_ai import Agent
    from pydantic_ai.models.test import TestModel

    from kitaru import flow
    from kitaru.adapters.pydantic_ai import KitaruDurability

    ran: list[str] = []
    agent = Agent(TestModel(), name="tm", capabilities=[KitaruDurability()])

    @agent.tool_plain
    def lookup(city: str) -> str:
        ran.append(city)
        return f"found {city}"

    @flow
    def with_test_model() -> str:
        return str(agent.run_sync("go").output)

    assert "found a" in with_test_model()
    assert ran == ["a"]
    [info] = executions()
    from kitaru.client import KitaruClient

    calls = [c.call_id for c in KitaruClient().executions.get(info.id).calls]
    assert calls == ["tm.model", "tm.lookup", "tm.model#2"]


def test_sigkill_mid_run_then_resume_repeats_no_completed_call(agent_flows: Flows) -> None:
    """SIGKILL inside the second tool; resume: the first tool and the two model requests that
    completed are not repeated, the tool in flight runs again."""
    (agent_flows.dir / "SLOW").write_text("1")
    proc, out = spawn("run", agent_flows.target("trip"), "--input", '{"question": "go"}')
    execution_id = out.until(lambda line: line.endswith(" started")).split()[1]
    wait_for(lambda: (agent_flows.dir / "in-book").exists(), what="the slow tool", timeout=60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    (agent_flows.dir / "SLOW").unlink()
    assert (agent_flows.runs("model"), agent_flows.runs("get_weather")) == (2, 1)

    resumed = kitaru("executions", "resume", execution_id)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.splitlines()[-1]) == "sunny in Paris / booked Paris"
    assert agent_flows.runs("get_weather") == 1  # completed before the crash: not run again
    assert agent_flows.runs("book") == 2  # in flight at the crash: ran again
    assert agent_flows.runs("model") == 3  # turns 1 and 2 came from the journal


def test_replay_with_a_tool_result_overridden(agent_flows: Flows) -> None:
    assert agent_flows.module.trip("go") == "sunny in Paris / booked Paris"
    [source] = executions()
    proc = kitaru("executions", "replay", source.id,
                  "--override", 'checkpoint.trip.get_weather="rainy in Paris"')  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == "rainy in Paris / booked Paris"
    assert agent_flows.runs("get_weather") == 1  # overridden, not run
    assert agent_flows.runs("book") == 1  # same arguments: reused from the source
    # turn 1 reused; turns 2 and 3 saw another tool result, so the model was asked again
    assert agent_flows.runs("model") == 3 + 2
    from kitaru.client import KitaruClient

    replay = next(e for e in executions() if e.id != source.id)
    calls = {c.call_id: c for c in KitaruClient().executions.get(replay.id).calls}
    assert calls["trip.get_weather"].metadata.get("overridden") is True
    assert calls["trip.book"].metadata.get("cached_from") == source.id


def test_approval_tool_waits_and_executions_input_continues_it(agent_flows: Flows) -> None:
    proc = kitaru("run", agent_flows.target("support"), "--input", '{"question": "refund A1"}',
                  "--detach")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    execution_id = proc.stdout.strip()
    from kitaru.client import KitaruClient

    client = KitaruClient()
    wait_for(lambda: client.executions.get(execution_id).status == "waiting", what="the wait",
             timeout=60)  # fmt: skip
    [pending] = [w for w in client.executions.get(execution_id).waits if w.status == "pending"]
    assert pending.call_id == "approve_refund"
    assert pending.question == 'Approve refund({"order": "A1", "amount": 50.0})?'
    args_schema = pending.schema["$defs"]["refund_args"]["properties"]
    assert args_schema["order"]["type"] == "string" and args_schema["amount"]["type"] == "number"
    assert agent_flows.runs("refund") == 0

    bad = kitaru("executions", "input", execution_id, "--value", '{"approved": "maybe"}')
    assert bad.returncode != 0 and "approved" in bad.stderr
    answer = '{"approved": true, "args": {"order": "A1", "amount": 20}}'
    ok = kitaru("executions", "input", execution_id, "--value", answer)
    assert ok.returncode == 0, ok.stderr
    wait_for(lambda: client.executions.get(execution_id).status == "completed",
             what="the resumed run", timeout=60)  # fmt: skip
    assert client.executions.handle(execution_id).wait() == "done: refunded 20.0 on A1"
    assert agent_flows.runs("refund") == 1


def test_denied_approval_tells_the_model(agent_flows: Flows) -> None:
    handle = agent_flows.module.support.run("refund A1")
    wait_for(lambda: handle.pending_wait is not None, what="the wait")
    from kitaru.client import KitaruClient

    KitaruClient().executions.input(handle.id, {"approved": False, "reason": "too much"})
    assert handle.wait() == "done: too much"
    assert agent_flows.runs("refund") == 0


def test_async_flow_awaits_the_agent(agent_flows: Flows) -> None:
    from kitaru import flow

    agent = agent_flows.module.trip_agent

    @flow
    async def trip_async(question: str) -> str:
        return str((await agent.run(question)).output)

    import asyncio

    assert asyncio.run(trip_async("go")) == "sunny in Paris / booked Paris"
    assert agent_flows.runs("get_weather") == 1 and agent_flows.runs("model") == 3


def test_a_priced_model_request_records_its_cost() -> None:
    """A request to a model PydanticAI has prices for (gpt-4o from openai) is priced as
    ``kitaru.llm()`` prices it: cost_usd on the call and in the execution's roll-up."""
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelResponse, TextPart
    from pydantic_ai.models.function import FunctionModel
    from pydantic_ai.usage import RequestUsage

    from kitaru import flow
    from kitaru.adapters.pydantic_ai import KitaruDurability
    from kitaru.client import KitaruClient

    usage = RequestUsage(input_tokens=1000, output_tokens=500)
    # FunctionModel names the response after itself: model_name makes it gpt-4o
    model = FunctionModel(
        lambda messages, info: ModelResponse([TextPart("hi")], usage=usage, provider_name="openai"),
        model_name="gpt-4o",
    )
    agent = Agent(model, name="priced", capabilities=[KitaruDurability()])

    @flow
    def ask() -> str:
        return str(agent.run_sync("go").output)

    assert ask() == "hi"
    [info] = executions()
    ex = KitaruClient().executions.get(info.id)
    [call] = ex.llm_calls
    meta = call.metadata
    assert (meta["provider_model"], meta["provider"]) == ("gpt-4o", "openai")
    assert (meta["tokens_in"], meta["tokens_out"]) == (1000, 500)
    price = float(ModelResponse([], usage=usage, model_name="gpt-4o",
                                provider_name="openai").cost().total_price)  # fmt: skip
    assert price > 0
    assert meta["cost_usd"] == pytest.approx(price)
    assert call.usage is not None and call.usage.cost_usd == pytest.approx(price)
    assert ex.usage is not None and ex.usage.cost_usd == pytest.approx(price)
