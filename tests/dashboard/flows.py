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


@checkpoint(retries=2)
def wobbly(marker: str) -> str:
    """Fails its first attempt (no marker file yet), then succeeds."""
    from pathlib import Path

    path = Path(marker)
    if not path.exists():
        path.write_text("failed once")
        raise RuntimeError("first attempt wobbles")
    return "steady"


@checkpoint
def ask(topic: str) -> str:
    return kitaru.llm(prompt=f"Summarize {topic}.", model="fast")


#: what ``inspected`` saves as the artifact ``blob`` (raw bytes: stored as they are)
BLOB = b"\x00\x01 raw bytes \xff\n"


@flow
def inspected(topic: str, marker: str) -> str:
    """Prints, saves artifacts, calls an LLM and retries a checkpoint: the execution page's
    logs, artifacts, LLM calls and failed attempts."""
    print(f"starting {topic}")
    kitaru.save("blob", BLOB)
    kitaru.save("report", {"topic": topic, "pages": 3})
    answer = ask(topic)
    title = kitaru.llm(prompt=f"A title for {topic}.", model="fast", name="title")  # in the body
    print("asked the model")
    state = wobbly(marker)
    print("done")
    return f"{state}: {title[:20]}: {answer}"


@checkpoint
def prepare(x: int) -> int:
    return x * 2


@checkpoint
def fail_first_time(marker: str) -> str:
    """Raises the first time (no marker file yet): the execution fails; a retry succeeds."""
    from pathlib import Path

    if not Path(marker).exists():
        Path(marker).write_text("failed")
        raise ValueError("failing the first time")
    return "second time lucky"


@flow
def fails_once(x: int, marker: str) -> str:
    return f"{prepare(x)} {fail_first_time(marker)}"


@checkpoint
def die_first_time(marker: str) -> str:
    """Kills its process the first time (no marker file yet): the execution crashed, as when
    a worker is killed; resumed, it goes on."""
    import os
    from pathlib import Path

    if not Path(marker).exists():
        Path(marker).write_text("died")
        os._exit(3)
    return "survived"


@flow
def crashes_once(x: int, marker: str) -> str:
    return f"{prepare(x)} {die_first_time(marker)}"


@checkpoint
def label(note: str) -> str:
    return note.upper()


@flow
def tuned(x: int, note: str) -> str:
    """Two inputs: overriding ``note`` in a replay re-runs ``label`` only."""
    v = source(x)
    first = label(note)
    return f"{first}: {consumer(v)}"
