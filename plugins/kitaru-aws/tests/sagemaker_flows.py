"""Flows the SageMaker tests run: the job processes import this module from the same path
(a host process, or a container with the checkout mounted)."""

from __future__ import annotations

import os

from kitaru import checkpoint, flow


@checkpoint(runtime="isolated")
def heavy(x: int) -> dict[str, int]:
    """Runs in a training job of its own."""
    print(f"heavy got {x}")
    return {"value": x * x, "pid": os.getpid()}


@checkpoint
def light(x: int) -> int:
    return x + 1


@flow
def with_isolated(x: int) -> dict[str, int]:
    out = heavy(light(x))
    return {"value": out["value"], "checkpoint_pid": out["pid"], "flow_pid": os.getpid()}
