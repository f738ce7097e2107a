"""Flows the dashboard tests run (from the CLI, through a real server)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

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


class Settings(BaseModel):
    mode: Literal["fast", "careful"]
    retries: int = Field(ge=0, le=5)
    notify: bool = False


@flow
def asks(topic: str) -> str:
    settings = kitaru.wait(name="settings", question=f"How should {topic} be handled?",
                           schema=Settings)  # fmt: skip
    return f"{topic}: {settings}"
