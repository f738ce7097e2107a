"""How an execution is described to users (CLI, REST, dashboard, MCP): the parts of
:class:`~kitaru.models.ExecutionInfo` built from store records, and what the orchestrator adds
(a crash seen by the backend, its reason)."""

from __future__ import annotations

import json
from typing import Any

from kitaru.errors import KitaruError
from kitaru.models import AttemptInfo, CallInfo, ExecutionInfo, LLMUsage, ResumeError, WaitInfo
from kitaru.runtime.serialization import preview
from kitaru.store.records import LLM, Call, Execution


def attempt_info(attempt: Any) -> AttemptInfo:
    """A failed attempt as shown: its error's first line, the user's traceback apart."""
    from kitaru.errors import TRACEBACK_HEADER

    error, found, rest = attempt.error.partition("\n" + TRACEBACK_HEADER)
    return AttemptInfo(call_id=attempt.call_id, attempt=attempt.attempt,
                       started_at=attempt.started_at, ended_at=attempt.ended_at, error=error,
                       traceback=TRACEBACK_HEADER + rest if found else None)  # fmt: skip


def resume_error(execution_id: str, stored: Any) -> ResumeError | None:
    """The stored failure of the last resume attempt, with the hint that gets past it."""
    if not isinstance(stored, dict) or not stored.get("message"):
        return None
    return ResumeError(
        message=str(stored["message"]), at=float(stored.get("at") or 0.0),
        hint=f"fix the code or its environment, then `kitaru executions resume {execution_id}`",
    )  # fmt: skip


def backend_status(ex: Execution, shown: str) -> str:
    """The orchestrator's view of a pending or running execution (a job orchestrator asks
    its backend: a unit that died before taking the lease is crashed at once, not after the
    pending grace); the store's when it cannot be asked."""
    from kitaru.runtime.stacks import orchestrator_of

    try:
        seen = orchestrator_of(ex).status(ex.id)
    except KitaruError:
        return shown
    # only a crash is taken from it: anything else the store (read a moment ago, with the
    # result and the calls shown beside the status) says better
    return "crashed" if seen == "crashed" else shown


def crash_reason(ex: Execution) -> str | None:
    """What the execution's orchestrator knows of why its unit ended (a job that failed
    before Kitaru started in it); None when it knows nothing more, or cannot be asked."""
    from kitaru.runtime.stacks import orchestrator_of

    try:
        return orchestrator_of(ex).failure(ex.id)
    except KitaruError as exc:  # the stack is gone, the backend unreachable: say so, briefly
        return f"(its orchestrator could not be asked: {exc})"


def call_info(c: Call, size: int | None) -> CallInfo:
    prev = None if c.serializer is None else preview(c.serializer, c.value or b"")
    if c.ref is not None:
        prev = f"<{size} bytes, stored as {c.ref[:12]}>"
    elif c.kind == LLM and c.value:
        prev = llm_preview(c.value)
    return CallInfo(
        call_id=c.call_id, name=c.name, kind=c.kind, status=c.status, seq=c.seq,
        started_at=c.started_at, ended_at=c.ended_at, duration=c.duration, attempts=c.attempts,
        serializer=c.serializer, type_name=c.type_name, size=size, preview=prev,
        metadata=c.meta or {},
    )  # fmt: skip


def llm_preview(value: bytes) -> str:
    """An LLM call's answer (its stored value also holds the prompt)."""
    try:
        response = json.loads(value).get("response") or {}
    except (ValueError, AttributeError):
        return f"<{len(value)} bytes>"
    if response.get("tool_calls"):
        names = [(t.get("function") or {}).get("name") for t in response["tool_calls"]]
        text = "tool calls: " + ", ".join(str(n) for n in names)
    else:
        text = " ".join(str(response.get("content") or "").split())
    return text if len(text) <= 80 else text[:79] + "…"


def roll_up_usage(info: ExecutionInfo) -> None:
    """LLM usage onto each call, its checkpoint and the execution."""
    by_call = {c.call_id: c for c in info.calls}
    for c in info.llm_calls:
        meta = c.metadata
        own = c.usage = LLMUsage()
        own.add(meta)
        total = info.usage = info.usage or LLMUsage()
        total.add(meta)
        parent = by_call.get(meta.get("parent") or "")
        if parent is not None:
            parent.usage = parent.usage or LLMUsage()
            parent.usage.add(meta)


def wait_info(c: Call) -> WaitInfo:
    meta = c.meta or {}
    prev = None if c.serializer is None else preview(c.serializer, c.value or b"")
    return WaitInfo(c.call_id, c.status, meta.get("question"), meta.get("schema"),
                    meta.get("deadline"), bool(meta.get("timed_out")), prev)  # fmt: skip


def call_version(call_id: str) -> int:
    _, _, n = call_id.rpartition("/")[2].partition("#")
    return int(n) if n else 1
