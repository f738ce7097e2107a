"""Where an execution stands after a tool acted on it, optionally after waiting for it to settle.

An agent cannot hold an execution the way ``kitaru run`` does (its process blocked on the
result), so every action hands the execution to a worker (``detach``, as REST does) and, asked
to ``wait``, polls the store until the execution ends or reaches a wait that needs input.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from kitaru.answers import example_value
from kitaru.mcp import schemas

if TYPE_CHECKING:
    from kitaru.client import KitaruClient
    from kitaru.handle import FlowHandle

#: statuses an execution stays in until someone acts: the end, or a crash to resume
AT_REST = ("completed", "failed", "cancelled", "crashed")
#: how long a tool may wait at most (a client's own request timeout is usually shorter)
MAX_WAIT = 600.0


def pending(handle: FlowHandle[Any]) -> schemas.PendingWait | None:
    """The wait the execution is blocked on, with an example answer of its schema's shape."""
    wait = handle.pending_wait
    if wait is None:
        return None
    return schemas.PendingWait.of({
        "name": wait.name, "question": wait.question, "input_schema": wait.schema,
        "deadline": wait.deadline, "example": example_value(wait.schema),
    })  # fmt: skip


def settled(handle: FlowHandle[Any]) -> tuple[str, schemas.PendingWait | None, bool]:
    """``(status, pending wait, at rest)``: at rest is ended, crashed, or waiting for input (a
    waiting execution whose input just arrived is still on its way)."""
    status = handle.status
    if status in AT_REST:
        return status, None, True
    if status == "waiting":
        wait = pending(handle)
        return status, wait, wait is not None
    return status, None, False


def result_data(client: KitaruClient, execution_id: str) -> Any:
    """A completed execution's result as JSON data; None when it is not JSON or text (its
    preview is in ``executions_get``): nothing is unpickled or imported to read it."""
    from kitaru.runtime.runner import value_io

    ex = client.store.get_execution(execution_id)
    if ex.status != "completed" or ex.result is None:
        return None
    serializer, _, value, ref = ex.result
    if serializer not in ("str", "json", "pydantic", "dataclass"):
        return None
    raw = value_io(client.store, ex.options.get("stack")).raw(value, ref)
    return raw.decode() if serializer == "str" else json.loads(raw)


def outcome(
    client: KitaruClient, handle: FlowHandle[Any], message: str, *, wait: bool = False,
    timeout: float = 30.0,
) -> schemas.Outcome:  # fmt: skip
    """The execution's state now or, with ``wait``, once it is at rest (or ``timeout`` s)."""
    deadline = time.monotonic() + min(max(timeout, 0.0), MAX_WAIT)
    delay = 0.02
    status, wait_now, at_rest = settled(handle)
    while wait and not at_rest and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
        status, wait_now, at_rest = settled(handle)
    error = None
    if status in ("failed", "crashed"):
        error = client.store.get_execution(handle.id).error
    return schemas.Outcome(
        execution_id=handle.id, status=status, message=message, pending_wait=wait_now,
        result=result_data(client, handle.id) if status == "completed" else None,
        error=error, settled=at_rest,
    )  # fmt: skip
