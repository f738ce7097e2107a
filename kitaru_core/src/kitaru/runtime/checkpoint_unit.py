"""The unit of one ``runtime="isolated"`` checkpoint call: ``python -m
kitaru.runtime.checkpoint_unit EXECUTION_ID CHECKPOINT INPUTS`` (``python -m kitaru.entrypoint
checkpoint ...`` inside an image). It imports the flow's code, runs the body once and writes its
reply to the artifact store (see :mod:`kitaru.runtime.isolated`)."""

from __future__ import annotations

import json
import os
import sys

from kitaru.runtime.isolated import get_value, put_value


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
