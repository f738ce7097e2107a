"""Waits: typed pauses for input from a person or another agent.

Reaching a wait with no input records it as pending, marks the execution ``waiting`` and unwinds
the flow body (:class:`~kitaru.runtime.engine.Suspended`): nothing executes until input arrives.
Input is validated against the wait's JSON schema by whoever submits it, and by the schema's type
again when the flow reads it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kitaru.errors import UsageError, WaitInputError, WaitTimeout
from kitaru.runtime.context import ExecutionContext
from kitaru.runtime.engine import Suspended
from kitaru.runtime.serialization import serialize, validate_as
from kitaru.store.records import WAIT, Call

MISSING: Any = ...


def json_schema(schema: Any) -> dict[str, Any]:
    from pydantic import TypeAdapter

    return TypeAdapter(schema).json_schema()


def validate_input(value: Any, schema: dict[str, Any] | None, wait_name: str) -> None:
    """Check a JSON value against a wait's JSON schema; raises WaitInputError with the detail."""
    if not schema:
        return
    from kitaru.runtime.schema_check import Unsupported, check

    try:
        error = check(value, schema)
    except Unsupported:
        error = _check_fully(value, schema)
    if error is not None:
        path, message = error
        where = "/".join(str(p) for p in path) or "input"
        raise WaitInputError(
            f"invalid input for wait {wait_name!r}: {where}: {message}",
            detail={"path": path, "message": message},
            hint="expected JSON matching: " + json.dumps(schema, separators=(",", ":"))[:300],
        )


def _check_fully(value: Any, schema: dict[str, Any]) -> tuple[list[Any], str] | None:
    import jsonschema

    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as exc:
        return list(exc.absolute_path), exc.message
    return None


def _typed(ctx: ExecutionContext, rec: Call, schema: Any) -> Any:
    raw = ctx.values.load(rec.serializer or "json", rec.type_name, rec.value, rec.ref)
    try:
        return validate_as(raw, schema)
    except Exception as exc:
        raise WaitInputError(
            f"input for wait {rec.call_id!r} does not match its schema: {exc}"
        ) from exc


def wait(
    ctx: ExecutionContext,
    name: str,
    schema: Any,
    question: str | None,
    timeout: float | None,
    default: Any,
) -> Any:
    call_id = ctx.next_call_id(name)
    rec = ctx.journal.get(call_id)
    if rec is None or rec.status == "pending":
        rec = ctx.store.get_call(ctx.pk, call_id) or rec
    if rec is None and ctx.replay is not None and call_id not in ctx.replay.forced:
        src = ctx.replay.journal.get(call_id)
        if src is not None and src.kind == WAIT and src.status == "completed":
            rec = Call(**{**src.__dict__, "seq": ctx.next_seq()})
            ctx.record(rec)
    if rec is not None and rec.kind != WAIT:
        raise UsageError(f"call id {call_id!r} is already used by a {rec.kind} in this flow")
    if rec is not None and rec.status == "completed":
        ctx.journal[call_id] = rec
        if ctx.telemetry is not None:
            ctx.telemetry.wait_resolved(ctx, rec)
        return _typed(ctx, rec, schema)
    if rec is not None and rec.status == "failed":
        raise WaitTimeout(f"wait {call_id!r} timed out with no input")
    now = time.time()
    if rec is None:
        deadline = None if timeout is None else now + timeout
        rec = Call(call_id, WAIT, "pending", ctx.next_seq(), started_at=now, meta={
            "question": question, "schema": json_schema(schema), "deadline": deadline,
            "has_default": default is not MISSING,
        })  # fmt: skip
    deadline = (rec.meta or {}).get("deadline")
    if deadline is not None and now >= deadline:
        return _expire(ctx, rec, default, schema)
    ctx.store.suspend_on_wait(ctx.pk, rec, epoch=ctx.epoch)
    ctx.journal[call_id] = rec
    raise Suspended(call_id)


def _expire(ctx: ExecutionContext, rec: Call, default: Any, schema: Any) -> Any:
    """The deadline passed: take the default, or raise WaitTimeout into the flow."""
    ctx.store.suspend_on_wait(ctx.pk, rec, epoch=ctx.epoch)  # make sure the record exists
    ctx.store.set_status(ctx.pk, "running", only_if=("waiting",), epoch=ctx.epoch)
    if default is MISSING:
        won = ctx.store.resolve_wait(ctx.pk, rec.call_id, serializer=None, type_name=None,
                                     value=None, meta={"timed_out": True}, status="failed",
                                     epoch=ctx.epoch)  # fmt: skip
    else:
        s = serialize(default)
        won = ctx.store.resolve_wait(ctx.pk, rec.call_id, serializer=s.serializer,
                                     type_name=s.type_name, value=s.data,
                                     meta={"timed_out": True}, epoch=ctx.epoch)  # fmt: skip
    if not won:  # input arrived at the last moment: it wins over the timeout
        fresh = ctx.store.get_call(ctx.pk, rec.call_id)
        if fresh is not None and fresh.status == "completed":
            ctx.journal[rec.call_id] = fresh
            return _typed(ctx, fresh, schema)
    if default is MISSING:
        raise WaitTimeout(f"wait {rec.call_id!r} timed out with no input")
    return default
