"""Acting on an execution from outside its runner: giving a wait its input, cancelling it.
What the client, a handle, the REST API and the CLI share."""

from __future__ import annotations

import json
import time
from typing import Any

from kitaru.errors import Conflict, NotFound, UsageError
from kitaru.runtime.serialization import serialize
from kitaru.store.base import MetadataStore
from kitaru.store.records import TERMINAL_STATUSES, WAIT, Call, Execution, display_status


def to_jsonable(value: Any) -> Any:
    """Plain JSON data for a wait input or override given as Python objects."""
    import sys

    pyd = sys.modules.get("pydantic")
    if pyd is not None and isinstance(value, pyd.BaseModel):
        return value.model_dump(mode="json")
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"input must be JSON data: {exc}") from None


def resolve_input(store: MetadataStore, execution_id: str, value: Any, *, name: str | None) -> bool:
    """Validate and store input for the pending wait. Returns True when no live process holds
    the execution (the caller should see that it resumes)."""
    from kitaru.runtime.waits import validate_input
    from kitaru.store.records import lease_is_live

    ex = store.get_execution(execution_id)
    rec = _pending(store, ex, name)
    data = to_jsonable(value)
    validate_input(data, (rec.meta or {}).get("schema"), rec.call_id)
    s = serialize(data)
    if not store.resolve_wait(ex.pk, rec.call_id, serializer=s.serializer, type_name=s.type_name,
                              value=s.data, meta={"resolved_at": time.time()}):  # fmt: skip
        raise Conflict(f"wait {rec.call_id!r} of execution {ex.id} was already resolved",
                       hint=f"see `kitaru executions show {ex.id}`")  # fmt: skip
    ex = store.get_execution(ex.id)
    return not lease_is_live(ex.lease_owner, ex.lease_expires, time.time())


def _pending(store: MetadataStore, ex: Execution, name: str | None) -> Call:
    status = display_status(ex, time.time())
    if ex.status in TERMINAL_STATUSES:
        raise Conflict(f"execution {ex.id} is {status}; it is not waiting for input")
    rec = store.pending_wait(ex.pk)
    if rec is None and ex.status == "waiting":
        # another resolver won the race: its input is stored, the worker has not resumed yet
        done = [c for c in store.load_journal(ex.pk).values()
                if c.kind == WAIT and c.status != "pending"]  # fmt: skip
        named = [c for c in done if c.call_id == name]
        if named or done:
            last = max(named or done, key=lambda c: c.seq)
            raise Conflict(f"wait {last.call_id!r} of execution {ex.id} was just resolved by "
                           "another input", hint=f"see `kitaru executions show {ex.id}`")  # fmt: skip
    if rec is None:
        raise Conflict(f"execution {ex.id} is {status} and has no pending wait",
                       hint="input can only be given while it is waiting")  # fmt: skip
    if name is not None and name != rec.call_id:
        raise NotFound(f"execution {ex.id} is waiting on {rec.call_id!r}, not {name!r}",
                       hint=f"use --name {rec.call_id}")  # fmt: skip
    return rec


def cancel_execution(store: MetadataStore, execution_id: str) -> None:
    """Mark the execution cancelled (its runner stops at its next step), then have its
    orchestrator stop the backend's work (containers, jobs)."""
    from kitaru.runtime.stacks import orchestrator_of

    ex = store.get_execution(execution_id)
    if ex.status in TERMINAL_STATUSES or not store.set_status(
        ex.pk, "cancelled", only_if=("queued", "pending", "running", "waiting")
    ):
        ex = store.get_execution(execution_id)
        raise Conflict(f"execution {ex.id} is already {ex.status}")
    orchestrator_of(ex).cancel(ex.id)
