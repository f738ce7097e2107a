"""Flows the dashboard tests run (from the CLI, through a real server)."""

from __future__ import annotations

import kitaru
from kitaru import checkpoint, flow


@checkpoint
def square(n: int) -> int:
    import time

    time.sleep(0.3)  # long enough that the calls visibly overlap
    return n * n


@flow
def fan_out(n: int) -> int:
    return sum(square.map(list(range(n))))


@checkpoint
def explode(x: int) -> int:
    raise ValueError(f"user code refused {x}")


@flow
def failing(x: int) -> int:
    return explode(x)


@checkpoint
def source(x: int) -> int:
    return x + 1


@checkpoint
def consumer(v: int) -> int:
    return v * 10


@checkpoint
def bystander(x: int) -> str:
    return f"unchanged {x}"


@flow
def replayable(x: int) -> int:
    v = source(x)
    bystander(x)
    return consumer(v)


@flow
def asks(topic: str) -> str:
    level = kitaru.wait(
        name="settings",
        question=f"How should {topic} be handled?",
        schema={"type": "object", "required": ["mode", "retries"],
                "properties": {"mode": {"enum": ["fast", "careful"]},
                               "retries": {"type": "integer", "minimum": 0, "maximum": 5},
                               "notify": {"type": "boolean"}}},
    )  # fmt: skip
    return f"{topic}: {level}"
