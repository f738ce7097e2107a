"""Flows the SageMaker tests run: the job processes import this module from the same path
(a host process, or a container with the checkout mounted)."""

from __future__ import annotations

import os

from kitaru import checkpoint, flow, wait


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


@flow
def approved_square(x: int) -> dict[str, object]:
    """A deployable flow with a wait: one job up to the wait, another after the answer."""
    squared = light(x) ** 2
    ok = wait(name="approve", question=f"ship {squared}?", schema=bool)
    return {
        "squared": squared,
        "approved": ok,
        "in_container": os.path.exists("/run/.containerenv"),
    }
