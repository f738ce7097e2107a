"""``@checkpoint(runtime="isolated")``: the call runs as its own unit on the orchestrator.

Inputs and output travel through the stack's artifact store as content-addressed blobs; the
unit is ``python -m kitaru.entrypoint checkpoint EXECUTION_ID CHECKPOINT -`` (or
``python -m kitaru.runtime.isolated ...``), which imports the flow's code (so the checkpoint is
defined), runs the body once and writes its reply
(:class:`~kitaru.components.job_orchestrator.UnitReply`) to the artifact store under
``KITARU_REPLY_KEY``: one channel for every orchestrator.
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
    from kitaru.runtime.launch import orchestrator_of

    orchestrator = orchestrator_of(ctx.execution)
    if not orchestrator.capabilities.isolated_checkpoints:
        from kitaru.errors import ConfigError

        raise ConfigError(
            f"orchestrator {orchestrator.name!r} cannot run isolated checkpoints",
            hint=f'use runtime="inline" for {cp.name!r} or a stack whose orchestrator can',
        )
    artifacts = ctx.values.artifacts
    inputs = list(put_value(artifacts, {"args": list(args), "kwargs": kwargs}))
    reply = orchestrator.run_checkpoint(ctx.execution, cp.name, inputs, artifacts)
    if reply.error is not None:
        kind, message = reply.error
        raise IsolatedCheckpointError(f"{kind}: {message}")
    from kitaru.runtime.context import current_frame

    frame = current_frame.get()
    if frame is not None:
        frame.metadata.update(reply.unit)
    assert reply.output is not None
    return get_value(artifacts, *reply.output)


def main(argv: list[str]) -> int:
    """The isolated unit: run one checkpoint body and write its :class:`UnitReply` to the
    artifact store (``KITARU_REPLY_KEY``); inputs from the argument, or from
    ``KITARU_CHECKPOINT_INPUT`` when the argument is ``-``."""
    from kitaru.components.job_orchestrator import INPUT_ENV, REPLY_KEY_ENV, UnitReply
    from kitaru.runtime.checkpoints import registry
    from kitaru.runtime.runner import load_flow, value_io
    from kitaru.store import default_store

    execution_id, name, input_json = argv
    if input_json == "-":
        input_json = os.environ.get(INPUT_ENV, "")
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
        reply = UnitReply(output=put_value(artifacts, value))
    except Exception as exc:
        reply = UnitReply(error=(type(exc).__name__, str(exc)))
    print(reply.to_json().decode(), flush=True)
    if key := os.environ.get(REPLY_KEY_ENV):
        artifacts.put(key, reply.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
