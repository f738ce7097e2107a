"""Flows the queue tests enqueue; each records what it did in files under $QTEST_OUT."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from kitaru import checkpoint, flow


def _append(name: str, record: dict[str, object]) -> None:
    with open(Path(os.environ["QTEST_OUT"]) / name, "a") as f:
        f.write(json.dumps(record) + "\n")  # one short write: lines never interleave


@checkpoint
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@flow
def job(n: int, seconds: float = 0.3) -> int:
    start = time.time()
    nap(seconds)
    _append("intervals", {"n": n, "start": start, "end": time.time(), "pid": os.getpid()})
    return n


@checkpoint
def step(i: int, seconds: float) -> int:
    _append("starts", {"step": i, "pid": os.getpid()})
    time.sleep(seconds)
    _append("ends", {"step": i, "pid": os.getpid()})
    return i


@flow
def long(steps: int = 6, seconds: float = 0.4) -> int:
    return sum(step(i, seconds) for i in range(steps))
