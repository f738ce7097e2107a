"""``@checkpoint(runtime="isolated")``: the call runs as its own unit on the orchestrator.

Inputs and output travel through the stack's artifact store as content-addressed blobs; the
unit is ``python -m kitaru.entrypoint checkpoint EXECUTION_ID CHECKPOINT -`` (or
``python -m kitaru.runtime.checkpoint_unit ...``), which imports the flow's code (so the checkpoint is
defined), runs the body once and writes its reply
(:class:`~kitaru.components.job_orchestrator.UnitReply`) to the artifact store under
``KITARU_REPLY_KEY``: one channel for every orchestrator.
"""

from __future__ import annotations

import hashlib
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
    from kitaru.runtime.stacks import orchestrator_of

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
