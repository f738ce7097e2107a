"""PydanticAI agents made durable by Kitaru: ``Agent(..., capabilities=[KitaruDurability()])``.

Built on PydanticAI's durability capability API (``pydantic_ai.durable_exec``), the way its
Temporal, DBOS and Prefect integrations are: :class:`KitaruDurability` declares the engine and
returns a :class:`KitaruOperationBackend`, whose ``execute`` runs each durable operation of an
agent run as one journaled Kitaru call. Inside a ``@flow`` (and outside any checkpoint):

- each **model request** is an LLM call record (``<agent>.model``, ``#2``...) with the same
  metadata ``kitaru.llm()`` writes (model, tokens, latency, cost), so ``kitaru executions show``
  and the dashboard count it;
- each **tool call** is a checkpoint record (``<agent>.<tool>``) holding the tool's result, so
  ``kitaru executions replay --override checkpoint.<agent>.<tool>=JSON`` replaces it;
- a tool registered with ``requires_approval=True`` becomes a ``kitaru.wait`` named
  ``approve_<tool>`` whose schema is ``{approved, reason, args}`` with ``args`` typed by the tool's
  own parameters (an approver may correct them).

A crashed run resumes without repeating a completed model request or tool call; a replay reuses
them until the first one whose input changed. Outside a flow the agent runs as usual.
Tool calls run one after another inside a flow: call ids are numbered in call order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic_ai.durable_exec import (
    JSON_CODEC,
    BaseDurabilityCapability,
    DurabilityEngineSpec,
    DurableOperationBackend,
    DurableOperationId,
    JournalCallableOperationBackend,
    ModelRequestId,
    RoleBasedOperationConfig,
    ToolsetCallToolId,
    conversation_id_from_run_id,
)
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, RunContext

from kitaru.adapters import _journal
from kitaru.adapters._pai_records import (
    approval_schema,
    model_fingerprint,
    model_record,
    tool_fingerprint,
)
from kitaru.runtime.context import CallFrame, ExecutionContext, current_execution, current_frame
from kitaru.store.records import CHECKPOINT, LLM

__all__ = ["KitaruDurability", "KitaruOperationBackend"]


def _flow_context() -> ExecutionContext | None:
    """The running execution when code runs at flow level (inside a checkpoint: None — the
    checkpoint's own record is what is durable there)."""
    ctx = current_execution.get()
    if ctx is None or current_frame.get() is not None:
        return None
    return ctx


def _call_name(text: str) -> str:
    """A call-id-safe name ('#' and '/' separate call ids' parts)."""
    return text.replace("#", "_").replace("/", "_")


class KitaruOperationBackend(JournalCallableOperationBackend[dict[str, Any]]):
    """Runs each durable operation of an agent run as one journaled call of the execution."""

    def __init__(self, agent_name: str, default_model_id: str | None = None) -> None:
        config: dict[str, Any] = {}  # Kitaru has no per-unit options (retries are the flow's)
        super().__init__(
            agent_name=agent_name,
            default_model_id=default_model_id,
            config=RoleBasedOperationConfig(model=config, event=config, capability=config,
                                            tool=config),
        )  # fmt: skip
        self.agent_name = agent_name

    async def execute(
        self,
        *,
        operation_id: DurableOperationId,
        name: str,
        body: Callable[[], Awaitable[object]],
        cache_key: tuple[object, ...],
        config: dict[str, Any],
    ) -> object:
        """One durable unit: answered from the journal when recorded, else run and recorded."""
        ctx = _flow_context()
        if ctx is None:
            return await body()
        if isinstance(operation_id, ModelRequestId):
            return await self._model_request(ctx, operation_id, body, cache_key)
        if isinstance(operation_id, ToolsetCallToolId):
            tool = str(cache_key[0])
            call_id = ctx.next_call_id(_call_name(f"{self.agent_name}.{tool}"))
            fp = tool_fingerprint(tool, cache_key[1])
            meta = {"agent": self.agent_name, "tool": tool, "pydantic_ai": name}
            return await self._unit(ctx, call_id, fp, body, meta, tool_result=True)
        # discovery, event handlers, capability operations: journaled whole, by their own name
        call_id = ctx.next_call_id(_call_name(name))
        fp = tool_fingerprint(name, [k for k in cache_key if _jsonable(k)])
        return await self._unit(ctx, call_id, fp, body, {"pydantic_ai": name}, tool_result=False)

    async def _unit(
        self, ctx: ExecutionContext, call_id: str, fp: bytes,
        body: Callable[[], Awaitable[object]], meta: dict[str, Any], *, tool_result: bool,
    ) -> object:  # fmt: skip
        found = _journal.lookup(ctx, call_id, CHECKPOINT, fp)
        if isinstance(found, _journal.Override):
            now = time.time()
            _journal.record(ctx, call_id, CHECKPOINT, fp, found.value, started=now,
                            meta={**meta, "overridden": True})  # fmt: skip
            return {"result": found.value, "kind": "tool_return"}
        if found is not _journal.MISS:
            value, stored_meta = found
            return value if stored_meta.get("payload") else {"result": value, "kind": "tool_return"}
        ctx.check_runnable()  # fenced: a runner that lost its lease starts nothing
        started = time.time()
        frame = CallFrame(call_id)  # kitaru.llm() inside a tool: a child record of this call
        token = current_frame.set(frame)
        try:
            payload = await body()
        except Exception as exc:
            _journal.record(ctx, call_id, CHECKPOINT, fp, None, started=started,
                            meta={**meta, **frame.metadata}, status="failed", error=exc)  # fmt: skip
            raise
        finally:
            current_frame.reset(token)
        # a plain tool return is stored as the tool's result (what previews and overrides show)
        plain = tool_result and isinstance(payload, dict) and payload.get("kind") == "tool_return"
        value = payload["result"] if plain else payload  # type: ignore[index]
        _journal.record(ctx, call_id, CHECKPOINT, fp, value, started=started,
                        meta={**meta, **frame.metadata, **({} if plain else {"payload": True})})  # fmt: skip
        return payload

    async def _model_request(
        self, ctx: ExecutionContext, operation_id: ModelRequestId,
        body: Callable[[], Awaitable[object]], cache_key: tuple[object, ...],
    ) -> object:  # fmt: skip
        call_id = ctx.next_call_id(_call_name(f"{self.agent_name}.model"))
        fp = model_fingerprint(cache_key)
        found = _journal.lookup(ctx, call_id, LLM, fp)
        if found is not _journal.MISS and not isinstance(found, _journal.Override):
            value, _ = found
            return value["payload"]
        ctx.check_runnable()  # a provider call costs money: not for a runner that lost its lease
        _check_budget(ctx, call_id)
        started = time.time()
        t0 = time.perf_counter()
        meta: dict[str, Any] = {"model": operation_id.model_name,
                                "resolved_model": operation_id.model_name, "parent": None,
                                "alias": None, "agent": self.agent_name}  # fmt: skip
        try:
            payload = await body()
        except Exception as exc:
            _journal.record(ctx, call_id, LLM, fp, None, started=started, meta=meta,
                            status="failed", error=exc)  # fmt: skip
            raise
        value, usage = model_record(cache_key, payload, time.perf_counter() - t0)
        _journal.record(ctx, call_id, LLM, fp, value, started=started, meta={**meta, **usage})
        if ctx.telemetry is not None:  # the same chat span and counters as kitaru.llm()
            ctx.telemetry.llm_call(ctx, call_id, {**meta, **usage}, started, time.time())
        _check_budget(ctx, call_id, after=True)
        return payload


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _check_budget(ctx: ExecutionContext, call_id: str, *, after: bool = False) -> None:
    """The flow's ``max_cost_usd`` holds for an agent's model requests as for ``kitaru.llm()``."""
    budget = ctx.execution.options.get("max_cost_usd")
    if budget is None:
        return
    from kitaru.errors import BudgetExceeded
    from kitaru.runtime.llm_calls import spent

    total = spent(ctx.journal.copy().values())
    if total > float(budget) or (not after and total >= float(budget)):
        raise BudgetExceeded(
            f"model request {call_id!r}: the execution has spent ${total:.6f} of its "
            f"${float(budget):.6f} budget",
            hint=f"retry with a higher budget: kitaru executions retry {ctx.execution.id} "
            "--max-cost-usd N",
        )


class KitaruDurability(BaseDurabilityCapability[Any]):
    """Makes an agent's runs durable inside a Kitaru ``@flow`` (see the module doc).

    ``name``: the agent's name in call ids (default: the agent's ``name``, which it then needs).
    ``models``: extra models by id, for switching models at run time (as in PydanticAI's other
    durability capabilities).
    """

    engine_spec = DurabilityEngineSpec(
        engine_name="Kitaru",
        durable_unit_noun="call",
        durable_container_noun="flow",
        codec=JSON_CODEC,  # the journal stores JSON: readable, and replayable by another process
        # call ids are numbered in call order: parallel tool calls would number them by timing
        sequential_tools_in_durable_context=True,
        toolset_lifecycles={
            "function": "enter-always",
            "mcp": "enter-in-durable-unit",
            "dynamic": "enter-never",
        },
    )

    def __init__(self, *, name: str | None = None, models: dict[str, Any] | None = None) -> None:
        super().__init__(name=name, models=models)

    @property
    def in_durable_context(self) -> bool:
        """Inside a flow body (and not inside a checkpoint)."""
        return _flow_context() is not None

    def get_durable_operation_backend(self) -> DurableOperationBackend[Any]:
        return KitaruOperationBackend(self.name, self.default_model_id)

    def get_default_run_id(self) -> str | None:
        """A run id stable across resume and replay: the execution's id and the run's number."""
        ctx = _flow_context()
        if ctx is None:
            return None
        return f"{ctx.execution.id}-{ctx.next_call_id(_call_name(f'{self.name}.run'))}"

    def get_default_conversation_id(self, run_id: str) -> str | None:
        return conversation_id_from_run_id(run_id) if self.in_durable_context else None

    async def handle_deferred_tool_calls(
        self, ctx: RunContext[Any], *, requests: DeferredToolRequests
    ) -> DeferredToolResults | None:
        """Each call that needs approval waits (``kitaru.wait``) for a person's answer."""
        if _flow_context() is None or not requests.approvals:
            return None
        from pydantic_ai.tools import ToolApproved, ToolDenied

        from kitaru.wait import wait

        results = DeferredToolResults()
        for call in requests.approvals:
            schema = approval_schema(call.tool_name, *self._tool_function(call.tool_name))
            args = requests.validated_args.get(call.tool_call_id) or call.args_as_dict()
            shown = json.dumps(args, default=str)
            answer = wait(f"approve_{_call_name(call.tool_name)}", schema=schema,
                          question=f"Approve {call.tool_name}({shown[:400]})?")  # fmt: skip
            if answer.approved:
                override = answer.args.model_dump() if answer.args is not None else None
                results.approvals[call.tool_call_id] = ToolApproved(override_args=override)
            else:
                results.approvals[call.tool_call_id] = ToolDenied(
                    answer.reason or "The tool call was denied."
                )
        return results

    def _tool_function(self, tool_name: str) -> tuple[Callable[..., Any] | None, bool]:
        """The function behind a function tool (its parameters type the approval's ``args``)
        and whether its first parameter is the run context."""
        for toolset in self._toolsets_by_id.values():
            inner = getattr(toolset, "wrapped", toolset)
            tool = getattr(inner, "tools", {}).get(tool_name)
            if tool is not None:
                return tool.function, bool(tool.takes_ctx)
        return None, False
