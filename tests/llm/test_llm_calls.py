"""``kitaru.llm()``: recording, roll-ups, resume, replay, budgets, structured output, tools."""

from __future__ import annotations

from typing import Any

import pytest

import kitaru
from kitaru import KitaruClient
from tests.llm import flows_llm as F
from tests.llm.conftest import Provider


def run(flow: Any, **kw: Any) -> Any:
    handle = flow.run(**kw)
    try:
        handle.wait()
    except kitaru.ExecutionFailed:
        pass
    return KitaruClient().executions.get(handle.id)


def test_every_call_is_recorded_with_model_tokens_latency_and_cost(provider: Provider) -> None:
    info = run(F.three_calls, topic="Durable agents")
    assert info.status == "completed"
    assert [c.call_id for c in info.llm_calls] == ["research/llm", "draft/llm", "llm", "title"]
    first = info.llm_calls[0].metadata
    assert first["model"] == "fast" and first["alias"] == "fast"
    assert first["resolved_model"] == "offline/echo" and first["parent"] == "research"
    assert first["tokens_in"] > 0 and first["tokens_out"] > 0 and first["latency_s"] >= 0
    assert first["cost_usd"] == pytest.approx(
        (first["tokens_in"] * 0.15 + first["tokens_out"] * 0.60) / 1e6
    )
    assert info.llm_calls[3].metadata["resolved_model"] == "offline/echo-large"
    assert info.llm_calls[2].metadata["parent"] is None  # flow level: its own durable call
    # roll-ups: each checkpoint holds its child calls, the execution all of them
    research = next(c for c in info.checkpoints if c.call_id == "research")
    assert research.usage is not None and research.usage.calls == 1
    assert research.usage.cost_usd == pytest.approx(first["cost_usd"])
    assert info.usage is not None and info.usage.calls == 4
    assert info.usage.cost_usd == pytest.approx(sum(c.metadata["cost_usd"] for c in info.llm_calls))
    assert info.usage.tokens_in == sum(c.metadata["tokens_in"] for c in info.llm_calls)
    assert provider.count() == 4
    # prompt and response are stored artifacts of the call
    stored = KitaruClient().artifacts.load(info.id, "research/llm")
    assert stored["prompt"]["messages"][-1]["content"].startswith("Research: Durable agents")
    assert stored["response"]["content"].startswith("[offline answer")


def test_replay_with_an_override_calls_the_provider_only_for_changed_inputs(
    provider: Provider,
) -> None:
    source = run(F.three_calls, topic="Durable agents")
    assert provider.count() == 4
    replay = KitaruClient().executions.replay(
        source.id, overrides={"checkpoint.research": "An edited brief."}
    )
    replay.wait()
    info = KitaruClient().executions.get(replay.id)
    assert info.status == "completed"
    # research is overridden (its llm call is not made); draft's input changed, so did the
    # title's (it reads the draft); the tagline's did not.
    assert provider.count() == 4 + 2
    fresh = [c.call_id for c in info.llm_calls if not c.metadata.get("cached_from")]
    reused = [c.call_id for c in info.llm_calls if c.metadata.get("cached_from")]
    assert fresh == ["draft/llm", "title"]
    assert reused == ["llm"]
    assert info.usage is not None and info.usage.cached == 1


def test_replay_without_changes_never_calls_the_provider(provider: Provider) -> None:
    source = run(F.three_calls, topic="Durable agents")
    KitaruClient().executions.replay(source.id).wait()
    assert provider.count() == 4
    # --from draft: draft (with its llm call) and every call after it re-execute
    KitaruClient().executions.replay(source.id, from_="draft").wait()
    assert provider.count() == 4 + 3


def test_a_failed_checkpoint_retried_does_not_pay_for_its_llm_call_again(
    provider: Provider,
) -> None:
    F.fail_marker().parent.mkdir(parents=True, exist_ok=True)
    F.fail_marker().touch()
    info = run(F.three_calls, topic="Durable agents")
    assert info.status == "failed"
    assert provider.count() == 2  # research/llm and draft/llm
    F.fail_marker().unlink()
    KitaruClient().executions.retry(info.id).wait()
    info = KitaruClient().executions.get(info.id)
    assert info.status == "completed"
    assert provider.count() == 4  # draft's recorded answer was reused; two flow-level calls


def test_budget_exceeded_fails_with_a_runtime_error_and_retry_with_more_completes(
    provider: Provider,
) -> None:
    info = run(F.on_a_budget, topic="Durable agents")
    assert info.status == "failed"
    assert info.error is not None
    assert info.error["type"] == "BudgetExceeded" and info.error["origin"] == "runtime"
    assert "budget of $0.00005" in info.error["message"]
    assert "draft/llm" in info.error["message"]
    made = provider.count()
    assert made == 2  # the call that went over was made (and paid), then the run stopped
    with pytest.raises(kitaru.ExecutionFailed) as failure:
        KitaruClient().executions.handle(info.id).wait()
    assert failure.value.origin == "runtime"
    KitaruClient().executions.retry(info.id, max_cost_usd=0.01).wait()
    info = KitaruClient().executions.get(info.id)
    assert info.status == "completed"
    assert provider.count() == made  # completed calls were not re-run


def test_a_call_that_would_exceed_the_budget_is_not_sent(provider: Provider) -> None:
    @kitaru.flow(max_cost_usd=0.000001)
    def tiny(topic: str) -> str:
        return kitaru.llm(prompt="x" * 4000 + topic, model="smart")  # ~$0.0025 of prompt

    info = run(tiny, topic="t")
    assert info.status == "failed" and info.error["type"] == "BudgetExceeded"
    assert "would exceed" in info.error["message"]
    assert provider.count() == 0


def test_budget_exceeded_is_not_retried_by_checkpoint_retries(provider: Provider) -> None:
    @kitaru.checkpoint(retries=3)
    def spend(topic: str) -> str:
        return kitaru.llm(prompt=topic * 20, model="smart")  # the answer goes over

    @kitaru.flow(max_cost_usd=0.0001, retries=2)
    def spender(topic: str) -> str:
        return spend(topic)

    info = run(spender, topic="abc ")
    assert info.status == "failed" and info.error["type"] == "BudgetExceeded"
    assert provider.count() == 1
    assert len(info.attempts) == 1  # the one failed attempt: no checkpoint or flow retries


def test_response_format_and_tools(provider: Provider) -> None:
    handle = F.structured.run(topic="durable agents")
    result = handle.wait()
    assert result["approved"] is True
    assert result["tool"] == "get_weather"
    assert set(result["args"]) == {"city", "days"}
    assert result["tokens_in"] > 0
    info = KitaruClient().executions.get(handle.id)
    prompt = KitaruClient().artifacts.load(info.id, "llm")["prompt"]
    assert prompt["messages"][0] == {"role": "system", "content": "You judge ideas."}
    assert prompt["response_format"]["name"] == "Verdict"
    tools = KitaruClient().artifacts.load(info.id, "llm#2")["prompt"]["tools"]
    assert tools[0]["function"]["name"] == "get_weather"
    assert tools[0]["function"]["parameters"]["required"] == ["city"]
    assert tools[0]["function"]["description"] == "Forecast for a city."


def test_an_answer_that_does_not_match_response_format_fails_clearly(
    register_llm_stack: Any,
) -> None:
    from pydantic import BaseModel

    # an alias pointing at a model whose "answers" are prose: a schema cannot be met
    register_llm_stack("prose", aliases={"fast": "offline/echo"})

    class Strict(BaseModel):
        count: int

    @kitaru.flow
    def strict() -> int:
        return kitaru.llm(messages=[{"role": "user", "content": "count?"}], model="fast",
                          response_format=Strict).count  # fmt: skip

    info = run(strict)
    assert info.status == "completed"  # the offline gateway honours the schema
    with pytest.raises(kitaru.LLMOutputError, match="not a valid Strict"):
        from kitaru.components.llm_gateway import LLMResult
        from kitaru.llm import _validator

        validate = _validator(Strict)
        assert validate is not None
        validate(LLMResult("not json", "offline/echo", 1, 1))


def test_parallel_checkpoints_each_record_their_call(provider: Provider) -> None:
    info = run(F.parallel, n=6)
    assert info.status == "completed"
    parents = sorted(c.metadata["parent"] for c in info.llm_calls)
    assert parents == sorted(c.call_id for c in info.checkpoints)
    assert provider.count() == 6
    KitaruClient().executions.replay(info.id).wait()
    assert provider.count() == 6


def test_any_model_name_works_offline(provider: Provider) -> None:
    """The seeds' code names real models (``claude-sonnet-4-6``): the offline gateway answers
    any of them, and the call records the model asked for."""

    @kitaru.flow
    def named() -> str:
        return kitaru.llm(prompt="hi", model="claude-sonnet-4-6")

    info = run(named)
    assert info.status == "completed", info.error
    (call,) = info.llm_calls
    assert call.metadata["model"] == "claude-sonnet-4-6"
    assert provider.count() == 1 and info.usage.cost_usd > 0


def test_a_configured_gateway_takes_aliases_provider_models_and_names_litellm_knows() -> None:
    from kitaru.errors import ConfigError
    from kitaru.testing import build_component

    gateway = build_component("llm_gateway", "litellm", aliases={"fast": "openai/gpt-4o-mini"})
    assert gateway.resolve_alias("fast") == "openai/gpt-4o-mini"
    assert gateway.resolve_alias("anthropic/claude-sonnet-4-6") == "anthropic/claude-sonnet-4-6"
    assert gateway.resolve_alias("gpt-4o") == "gpt-4o"  # a bare name litellm knows
    with pytest.raises(ConfigError, match="unknown model alias 'fastest'") as err:
        gateway.resolve_alias("fastest")
    assert "known aliases: fast" in (err.value.hint or "")


def test_missing_secret_fails_before_any_provider_call(register_llm_stack: Any) -> None:
    provider = register_llm_stack(credentials={"offline": "{{secret:nowhere.api_key}}"})

    @kitaru.flow
    def needs_key() -> str:
        return kitaru.llm(prompt="hi", model="fast")

    info = run(needs_key)
    assert info.status == "failed"
    assert "nowhere" in info.error["message"]
    assert provider.count() == 0


def test_outside_a_flow_the_call_is_direct_and_untracked(provider: Provider) -> None:
    text = kitaru.llm("hello there", model="fast")
    assert "hello there" in text
    assert provider.count() == 1
    assert KitaruClient().executions.list() == []


def test_bad_arguments_are_usage_errors() -> None:
    with pytest.raises(kitaru.UsageError, match="prompt= or messages="):
        kitaru.llm(model="fast")
    with pytest.raises(kitaru.UsageError, match="role"):
        kitaru.llm(messages=[{"content": "x"}], model="fast")
    with pytest.raises(kitaru.UsageError, match="pydantic model"):
        kitaru.llm("x", model="fast", response_format=dict)  # type: ignore[call-overload]


def test_diff_shows_which_llm_answers_changed(provider: Provider) -> None:
    a = run(F.three_calls, topic="Durable agents")
    b = run(F.three_calls, topic="Vector stores")
    d = KitaruClient().executions.diff(a.id, b.id)
    by_id = {c.call_id: c.status for c in d.checkpoints}
    assert by_id["llm:research/llm"] == "changed" and by_id["research"] == "changed"
    assert by_id["llm:llm"] == "changed"  # the tagline's prompt names the topic
    same = KitaruClient().executions.diff(a.id, a.id)
    assert {c.status for c in same.checkpoints} == {"same"}
