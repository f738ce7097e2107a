"""Kitaru flows of the cost curves (``curves.py``), at module level so that queue workers and
``kitaru serve`` import them by name. Stamps go to files under ``BENCH_TMP`` (inherited by every
process of a measurement)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import kitaru
from kitaru import checkpoint, flow


@checkpoint
def step(i: int) -> int:
    return i + 1


@flow
def work_flow(n: int) -> int:
    """``n`` small checkpoints: the unit of the workers curve."""
    x = 0
    for _ in range(n):
        x = step(x)
    return x


def _mark(name: str, **extra: float | str) -> None:
    """One small file per event (thousands of waiters must not rewrite one shared file)."""
    d = Path(os.environ["BENCH_TMP"]) / "marks"
    d.mkdir(exist_ok=True)
    tmp = d / f".{name}.part"
    tmp.write_text(json.dumps({"wall": time.time(), **extra}))
    os.replace(tmp, d / f"{name}.json")


@flow
def wait_one(tag: str) -> bool:
    """Waits for a bool; its next line marks the time it continued."""
    value = kitaru.wait(name="go", schema=bool)
    _mark(f"cont-{tag}")
    return bool(value)


@flow
def sched_flow() -> str:
    """Started by a schedule: marks the time its body began."""
    name = f"sched-{time.time_ns()}-{os.getpid()}"
    _mark(name)
    return name
