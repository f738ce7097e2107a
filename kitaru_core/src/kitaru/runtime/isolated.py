"""``@checkpoint(runtime="isolated")``: the call runs as its own unit on the orchestrator.

Inputs and output travel through the stack's artifact store as content-addressed blobs; the
unit is ``python -m kitaru.runtime.isolated EXECUTION_ID CHECKPOINT INPUT_URI``, which imports
the flow's code (so the checkpoint is defined), runs the body once and prints one JSON line:
``{"output": [serializer, type, uri]}`` or ``{"error": [type, message]}``.

Where an orchestrator cannot read a unit's output (a cloud job's stdout goes to the cloud's log
service), it sets ``KITARU_REPLY_KEY`` (:func:`reply_key` of the unit's name) and reads the same
JSON from the artifact store with :func:`read_reply` once the unit ended.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from kitaru.errors import KitaruError

if TYPE_CHECKING:
    from kitaru.checkpoint import Checkpoint
    from kitaru.runtime.context import ExecutionContext


class IsolatedCheckpointError(KitaruError):
    """The isolated body raised; the message names the original exception type."""


def put_value(artifacts: Any, value: Any) -> tuple[str, str | None, str]:
    from kitaru.runtime.serialization import serialize

    s = serialize(value)
    uri = artifacts.put(hashlib.sha256(s.data).hexdigest(), s.data)
    return s.serializer, s.type_name, uri


def get_value(artifacts: Any, serializer: str, type_name: str | None, uri: str) -> Any:
    from kitaru.runtime.serialization import deserialize

    return deserialize(serializer, type_name, artifacts.get(uri))


def run_isolated(
    ctx: ExecutionContext, cp: Checkpoint[Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Run one call of ``cp`` through the execution's orchestrator; return its value."""
    from kitaru.runtime.stacks import stack_of

    stack = stack_of(ctx.execution.options.get("stack"))
    orchestrator = stack.orchestrator
    if not orchestrator.capabilities.isolated_checkpoints:
        from kitaru.errors import ConfigError

        raise ConfigError(
            f"orchestrator {orchestrator.name!r} cannot run isolated checkpoints",
            hint=f'use runtime="inline" for {cp.name!r} or a stack whose orchestrator can',
        )
    artifacts = ctx.values.artifacts
    serializer, type_name, uri = put_value(artifacts, {"args": list(args), "kwargs": kwargs})
    reply = orchestrator.run_checkpoint(ctx.execution.id, cp.name, [serializer, type_name, uri])
    if "error" in reply:
        kind, message = reply["error"]
        raise IsolatedCheckpointError(f"{kind}: {message}")
    from kitaru.runtime.context import current_frame

    frame = current_frame.get()
    if frame is not None:
        frame.metadata.update(reply.get("unit", {}))
    return get_value(artifacts, *reply["output"])


REPLY_KEY_ENV = "KITARU_REPLY_KEY"


def reply_key(unit: str) -> str:
    """The artifact-store key a unit named ``unit`` (a job name) writes its reply under."""
    return hashlib.sha256(f"kitaru-reply:{unit}".encode()).hexdigest()


def read_reply(artifacts: Any, key: str) -> dict[str, Any] | None:
    """The reply a unit wrote under ``key``; None if it wrote none."""
    uri = artifacts.uri_for(key)
    if not artifacts.exists(uri):
        return None
    reply: dict[str, Any] = json.loads(artifacts.get(uri))
    return reply


def main(argv: list[str]) -> int:
    """The isolated unit: run one checkpoint body and report through the artifact store."""
    from kitaru.checkpoint import registry
    from kitaru.runtime.runner import load_flow, value_io
    from kitaru.store import default_store

    execution_id, name, input_json = argv
    store = default_store()
    execution = store.get_execution(execution_id)
    artifacts = value_io(store, execution.options.get("stack")).artifacts
    try:
        load_flow(execution)  # defines the checkpoint in this process
        cp = registry[name]
        payload = get_value(artifacts, *json.loads(input_json))
        value = cp.fn(*payload["args"], **payload["kwargs"])
        if cp.is_async:
            import asyncio

            value = asyncio.run(value)
        reply: dict[str, Any] = {"output": list(put_value(artifacts, value))}
    except Exception as exc:
        reply = {"error": [type(exc).__name__, str(exc)]}
    print(json.dumps(reply), flush=True)
    if key := os.environ.get(REPLY_KEY_ENV):
        artifacts.put(key, json.dumps(reply).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
