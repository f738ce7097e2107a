"""Journaling a framework's unit of work as a Kitaru call: lookup, override, record.

An adapter gives each unit a call id (``ctx.next_call_id``, so ids are stable across resume and
replay) and a fingerprint of what it was asked; this module answers it the way the engine answers
a checkpoint call: from this execution's journal (resume), from a replay override, from the replay
source (unless forced by ``from_``), or not at all (the unit runs and its result is recorded).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from kitaru.redact import scrub
from kitaru.runtime.context import ExecutionContext
from kitaru.store.records import CHECKPOINT, Call

#: what :func:`lookup` returns when nothing recorded answers the call
MISS: Any = object()


def lookup(ctx: ExecutionContext, call_id: str, kind: str, fp: bytes) -> Any:
    """The recorded value of this call, an override's ``("override", value)``, or ``MISS``."""
    rec = ctx.journal.get(call_id)
    if rec is not None and rec.kind == kind and rec.status == "completed" and rec.fingerprint == fp:
        return stored(ctx, rec)
    replay = ctx.replay
    if replay is None:
        return MISS
    if kind == CHECKPOINT and call_id in replay.overrides:
        return Override(replay.overrides[call_id])
    src = replay.journal.get(call_id)
    if (
        src is None
        or call_id in replay.forced
        or src.kind != kind
        or src.status != "completed"
        or src.fingerprint != fp
    ):
        return MISS
    meta = {**(src.meta or {}), "cached_from": replay.source_id}
    ctx.record(replace(src, seq=ctx.next_seq(), meta=meta))
    return stored(ctx, src)


class Override:
    """A replay override's value for a call (the caller records it, shaped as its result)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def stored(ctx: ExecutionContext, rec: Call) -> tuple[Any, dict[str, Any]]:
    """A record's value and metadata."""
    value = ctx.values.load(rec.serializer or "json", rec.type_name, rec.value, rec.ref)
    return value, dict(rec.meta or {})


def record(
    ctx: ExecutionContext, call_id: str, kind: str, fp: bytes, value: Any, *, started: float,
    meta: dict[str, Any], status: str = "completed", error: BaseException | None = None,
) -> None:  # fmt: skip
    """Write the call's record (one fenced write) before the agent goes on."""
    if error is not None:
        meta = {**meta, "error": {"type": type(error).__name__, "message": scrub(str(error))}}
    serializer = type_name = data = ref = None
    if status == "completed":
        serializer, type_name, data, ref = ctx.values.dump(value)
    ctx.record(Call(call_id, kind, status, ctx.next_seq(), fp, serializer, type_name, data, ref,
                    started_at=started, ended_at=time.time(), meta=meta or None))  # fmt: skip
