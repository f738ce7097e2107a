"""The flow the ``subprocess-job`` tests run: its units import this module from this folder."""

from __future__ import annotations

import os

from kitaru import checkpoint, flow


@checkpoint(runtime="isolated")
def heavy(x: int) -> dict[str, int]:
    """Runs as a unit of its own."""
    print(f"heavy got {x}")
    return {"value": x * x, "pid": os.getpid()}


@flow
def with_isolated(x: int) -> dict[str, int]:
    out = heavy(x + 1)
    return {"value": out["value"], "checkpoint_pid": out["pid"], "flow_pid": os.getpid()}
