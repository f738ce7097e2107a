"""``kitaru.wait()``: pause the flow until a person or agent gives typed input."""

from __future__ import annotations

from typing import Any

from kitaru.errors import UsageError
from kitaru.runtime.context import current_execution, current_frame
from kitaru.validation import check_text

MISSING: Any = ...


def wait(
    name: str | None = None,
    *,
    schema: Any = str,
    question: str | None = None,
    timeout: float | None = None,
    default: Any = MISSING,
) -> Any:
    """Return input validated against ``schema``; until it arrives the execution is ``waiting``
    and nothing executes. With ``timeout`` (seconds), return ``default`` when it expires, or
    raise :class:`~kitaru.errors.WaitTimeout` inside the flow if there is none.

    Only at flow level (not inside a checkpoint).
    """
    ctx = current_execution.get()
    if ctx is None:
        raise UsageError("kitaru.wait() must be called inside a @flow",
                         hint="call it from the flow body, between checkpoints")  # fmt: skip
    if current_frame.get() is not None:
        raise UsageError("kitaru.wait() cannot be called inside a @checkpoint",
                         hint="call it from the flow body, between checkpoints")  # fmt: skip
    check_text(name, "wait name")
    if name is not None and ("#" in name or "/" in name):
        raise UsageError(f"wait name {name!r} may not contain '#' or '/'")
    from kitaru.runtime import waits

    return waits.wait(ctx, name or "wait", schema, question, timeout, default)
