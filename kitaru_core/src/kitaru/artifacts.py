"""Named artifacts: ``kitaru.save(name, value)`` and ``kitaru.load(execution_id, name)``."""

from __future__ import annotations

import time
from typing import Any

from kitaru.errors import NotFound, UsageError
from kitaru.runtime.context import current_execution
from kitaru.store.records import CHECKPOINT, LLM, SAVE, Call
from kitaru.validation import check_text


def save(name: str, value: Any) -> None:
    """Store ``value`` as a named artifact of the current execution (``name#2`` for a second
    save under the same name: each save is a new version)."""
    ctx = current_execution.get()
    if ctx is None:
        raise UsageError("kitaru.save() must be called inside a @flow or @checkpoint")
    check_text(name, "artifact name")
    if not name or "#" in name or "/" in name:
        raise UsageError(f"artifact name {name!r} must be non-empty without '#' or '/'")
    call_id = ctx.next_call_id(name)
    now = time.time()
    ctx.record(Call(call_id, SAVE, "completed", ctx.next_seq(), None, *ctx.values.dump(value),
                    started_at=now, ended_at=now))  # fmt: skip


def find_artifact(store: Any, execution_id: str, name: str) -> Call:
    """The latest save named ``name`` (or exactly ``name#n``), else the checkpoint output
    with that call id."""
    ex = store.get_execution(execution_id)
    base = name.partition("#")[0]
    candidates = [c for c in store.find_calls(ex.pk, base) if c.status == "completed"]
    exact = [c for c in candidates if c.call_id == name and c.kind in (SAVE, CHECKPOINT, LLM)]
    if "#" in name and exact:
        return exact[0]
    saves = [c for c in candidates if c.kind == SAVE]
    if saves:
        return saves[-1]
    if exact:
        return exact[0]
    outputs = [c for c in candidates if c.kind == CHECKPOINT]
    if outputs:
        return outputs[0]
    raise NotFound(
        f"execution {ex.id} has no artifact or checkpoint output named {name!r}",
        hint=f"list them with `kitaru artifacts list {ex.id}`",
    )


def load(execution_id: str, name: str) -> Any:
    """Read a named artifact (or a checkpoint output by call id) of any execution."""
    from kitaru.runtime.runner import value_io
    from kitaru.store import default_store

    ctx = current_execution.get()
    store = ctx.store if ctx is not None else default_store()
    call = find_artifact(store, execution_id, name)
    stack = store.get_execution(execution_id).options.get("stack")
    return value_io(store, stack).load(
        call.serializer or "json", call.type_name, call.value, call.ref
    )
