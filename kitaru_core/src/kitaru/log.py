"""``kitaru.log(**metadata)``: structured metadata on the current checkpoint or execution."""

from __future__ import annotations

import time
from typing import Any

from kitaru.errors import UsageError
from kitaru.runtime.context import current_execution, current_frame
from kitaru.runtime.serialization import is_json_native
from kitaru.store.records import LOG, Call


def log(**metadata: Any) -> None:
    """Attach JSON-native key/values to the running checkpoint, or to the execution when called
    at flow level. Outside a flow it does nothing."""
    if not is_json_native(metadata):
        raise UsageError("kitaru.log() values must be JSON-native (str, numbers, lists, dicts)")
    frame = current_frame.get()
    if frame is not None:
        frame.metadata.update(metadata)
        return
    ctx = current_execution.get()
    if ctx is None:
        return
    now = time.time()
    ctx.record(Call(ctx.next_call_id("log"), LOG, "completed", ctx.next_seq(), started_at=now,
                    ended_at=now, meta=metadata))  # fmt: skip
