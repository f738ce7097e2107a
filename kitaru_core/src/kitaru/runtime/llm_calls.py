"""Journaling of ``kitaru.llm()`` calls: lookup, budget, one record per call.

Call ids: ``llm``, ``llm#2``, ... at flow level; ``<checkpoint call id>/llm`` inside a
checkpoint (a child record; the checkpoint's own record stays its output). A call's fingerprint
is its resolved model and everything sent except the credential. A completed record with the
same fingerprint, in this execution's journal (resume, checkpoint retry) or in a replay's
source (unless the call or its checkpoint is forced by ``from_``), is the answer: the provider
is not called. A record's value holds the prompt and the response; its metadata the requested
model, alias, resolved model, credential source (a secret's name), tokens, latency and cost.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

from kitaru.components.llm_gateway import LLMGateway, LLMRequest, LLMResult
from kitaru.errors import BudgetExceeded, KitaruError
from kitaru.runtime.context import ExecutionContext, current_execution, current_frame
from kitaru.store.records import LLM, Call


def complete(
    request: LLMRequest, name: str, *, validate: Callable[[LLMResult], None] | None = None
) -> LLMResult:
    """Answer ``request``: from the journal when recorded, else from the gateway."""
    ctx = current_execution.get()
    if ctx is None:  # outside a flow: untracked
        from kitaru.stack.active import active_stack

        result = active_stack(None).llm_gateway.call(request)
        if validate is not None:
            validate(result)
        return result
    from kitaru.runtime.stacks import stack_of

    gateway = stack_of(ctx.execution.options.get("stack")).llm_gateway
    frame = current_frame.get()
    parent = frame.call_id if frame is not None else None
    call_id = frame.child_id(name) if frame is not None else ctx.next_call_id(name)
    model = gateway.resolve_alias(request.model)
    fp = fingerprint(request, model)
    recorded = _recorded(ctx, call_id, parent, fp)
    if recorded is not None:
        return recorded
    ctx.check_runnable()  # a provider call costs money: not for a runner that lost its lease
    _check_budget(ctx, gateway, request, call_id)
    started = time.time()
    t0 = time.perf_counter()
    meta: dict[str, Any] = {"model": request.model, "resolved_model": model, "parent": parent,
                            "alias": request.model if request.model != model else None}  # fmt: skip
    try:
        result = gateway.call(request)
    except KitaruError as exc:
        _record(ctx, call_id, fp, "failed", request, None, started, meta, exc)
        if ctx.telemetry is not None:
            ctx.telemetry.llm_call(ctx, call_id, meta, started, time.time(), exc)
        raise
    meta.update(_usage(result, time.perf_counter() - t0))
    error: KitaruError | None = None
    if validate is not None:
        try:
            validate(result)
        except KitaruError as exc:  # paid for: recorded, counted against the budget
            error = exc
    _record(ctx, call_id, fp, "failed" if error else "completed", request, result, started, meta,
            error)  # fmt: skip
    if ctx.telemetry is not None:  # a span for the call made (answers reused make none)
        ctx.telemetry.llm_call(ctx, call_id, meta, started, time.time(), error)
    if error is not None:
        raise error
    _check_spent(ctx, call_id)
    return result


def fingerprint(request: LLMRequest, model: str) -> bytes:
    sent = {**asdict(request), "model": model, "api_key": None, "requested": request.model}
    return hashlib.sha256(json.dumps(sent, sort_keys=True, default=str).encode()).digest()


# -- recorded answers -------------------------------------------------------------------------------
def _recorded(
    ctx: ExecutionContext, call_id: str, parent: str | None, fp: bytes
) -> LLMResult | None:
    def usable(rec: Call | None) -> bool:
        return rec is not None and rec.kind == LLM and rec.status == "completed" and (
            rec.fingerprint == fp
        )  # fmt: skip

    rec = ctx.journal.get(call_id)
    if usable(rec):
        assert rec is not None
        return _result(ctx, rec)
    replay = ctx.replay
    if replay is None or call_id in replay.forced or (parent and parent in replay.forced):
        return None
    src = replay.journal.get(call_id)
    if not usable(src):
        return None
    assert src is not None
    ctx.record(replace(src, seq=ctx.next_seq(),
                       meta={**(src.meta or {}), "cached_from": replay.source_id}))  # fmt: skip
    return _result(ctx, src)


def _result(ctx: ExecutionContext, rec: Call) -> LLMResult:
    stored = ctx.values.load(rec.serializer or "json", rec.type_name, rec.value, rec.ref)
    response = stored.get("response") or {}
    meta = rec.meta or {}
    return LLMResult(
        content=response.get("content"), model=response.get("model") or meta["resolved_model"],
        tokens_in=int(meta.get("tokens_in") or 0), tokens_out=int(meta.get("tokens_out") or 0),
        cost_usd=meta.get("cost_usd"), tool_calls=list(response.get("tool_calls") or []),
        finish_reason=response.get("finish_reason"), credential=meta.get("credential"),
    )  # fmt: skip


# -- recording --------------------------------------------------------------------------------------
def _usage(result: LLMResult, latency: float) -> dict[str, Any]:
    return {"provider_model": result.model, "credential": result.credential,
            "tokens_in": result.tokens_in, "tokens_out": result.tokens_out,
            "latency_s": round(latency, 4), "cost_usd": result.cost_usd,
            "finish_reason": result.finish_reason}  # fmt: skip


def _record(
    ctx: ExecutionContext, call_id: str, fp: bytes, status: str, request: LLMRequest,
    result: LLMResult | None, started: float, meta: dict[str, Any],
    error: BaseException | None,
) -> None:  # fmt: skip
    prompt = {k: v for k, v in asdict(request).items() if k != "api_key" and v is not None}
    response = None
    if result is not None:
        response = {"content": result.content, "tool_calls": result.tool_calls,
                    "finish_reason": result.finish_reason, "model": result.model}  # fmt: skip
    if error is not None:
        meta = {**meta, "error": {"type": type(error).__name__, "message": str(error)}}
    stored = ctx.values.dump({"prompt": prompt, "response": response})
    ctx.record(Call(call_id, LLM, status, ctx.next_seq(), fp, *stored, started_at=started,
                    ended_at=time.time(), meta=meta))  # fmt: skip


# -- budget -----------------------------------------------------------------------------------------
def spent(calls: Any) -> float:
    """USD spent by the LLM calls among ``calls`` (records reused from a replay's source
    cost this execution nothing)."""
    total = 0.0
    for c in calls:
        m = c.meta or {}
        if c.kind == LLM and not m.get("cached_from"):
            total += float(m.get("cost_usd") or 0.0)
    return total


def _budget(ctx: ExecutionContext) -> float | None:
    budget = ctx.execution.options.get("max_cost_usd")
    return None if budget is None else float(budget)


def _usd(amount: float) -> str:
    return "$" + (f"{amount:.8f}".rstrip("0").rstrip(".") or "0")


def _hint(ctx: ExecutionContext, needed: float) -> str:
    return (f"retry with a higher budget: kitaru executions retry {ctx.execution.id} "
            f"--max-cost-usd {_usd(max(needed * 2, 0.01))[1:]}")  # fmt: skip


def _check_budget(
    ctx: ExecutionContext, gateway: LLMGateway, request: LLMRequest, call_id: str
) -> None:
    budget = _budget(ctx)
    if budget is None:
        return
    so_far = spent(ctx.journal.copy().values())  # copy(): parallel calls write the journal
    least = gateway.estimate_cost(request) or 0.0
    if so_far + least > budget:
        raise BudgetExceeded(
            f"LLM call {call_id!r} would exceed the budget of {_usd(budget)}: "
            f"{_usd(so_far)} spent so far, this call costs at least {_usd(least)}",
            hint=_hint(ctx, so_far + least),
        )


def _check_spent(ctx: ExecutionContext, call_id: str) -> None:
    budget = _budget(ctx)
    if budget is None:
        return
    total = spent(ctx.journal.copy().values())
    if total > budget:
        raise BudgetExceeded(
            f"LLM call {call_id!r} took the execution to {_usd(total)}, over its budget of "
            f"{_usd(budget)}", hint=_hint(ctx, total),
        )  # fmt: skip
