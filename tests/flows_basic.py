"""Flows used by the core tests (importable, so other processes can resume them)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

import kitaru
from kitaru import checkpoint, flow


def counts_dir() -> Path:
    return Path(os.environ["KITARU_HOME"]) / "counts"


def bump(name: str) -> None:
    """Append one line per body run, so tests can count executions of each checkpoint."""
    d = counts_dir()
    d.mkdir(parents=True, exist_ok=True)
    with open(d / name, "a") as f:
        f.write("x\n")


def count(name: str) -> int:
    p = counts_dir() / name
    return len(p.read_text().splitlines()) if p.exists() else 0


@checkpoint
def add_one(x: int) -> int:
    bump(f"add_one-{x}")
    return x + 1


@flow
def chain(n: int) -> int:
    x = 0
    for _ in range(n):
        x = add_one(x)
    return x


@checkpoint
def upper(text: str) -> str:
    bump("upper")
    return text.upper()


@checkpoint
def exclaim(text: str) -> str:
    bump("exclaim")
    return text + "!"


@checkpoint
def length(text: str) -> int:
    bump("length")
    return len(text)


@flow
def three(text: str) -> dict[str, object]:
    a = upper(text)
    b = exclaim(a)
    c = length(text)
    return {"b": b, "c": c}


class Review(BaseModel):
    approved: bool
    comment: str = ""


@dataclass
class Point:
    x: int
    y: int


@checkpoint
def make_point(x: int) -> Point:
    return Point(x, x * 2)


@checkpoint
def make_review(ok: bool) -> Review:
    return Review(approved=ok, comment="fine")


@flow
def typed_values(x: int) -> str:
    p = make_point(x)
    r = make_review(True)
    assert isinstance(p, Point) and isinstance(r, Review)
    return f"{p.y}:{r.comment}"


@flow
def approval(topic: str) -> str:
    text = upper(topic)
    review = kitaru.wait(name="review", schema=Review, question="Review the text")
    return f"{text}:{review.approved}:{review.comment}"


@flow
def two_waits() -> list[object]:
    a = kitaru.wait(name="first", schema=int)
    b = kitaru.wait(name="second", schema=str)
    return [a, b]


@flow
def timed(timeout: float, with_default: bool) -> str:
    try:
        if with_default:
            return str(kitaru.wait(name="w", schema=str, timeout=timeout, default="fallback"))
        return str(kitaru.wait(name="w", schema=str, timeout=timeout))
    except kitaru.WaitTimeout:
        return "timed out"


@checkpoint
async def async_double(x: int) -> int:
    await asyncio.sleep(0.01)
    return x * 2


@flow
async def async_flow(xs: list[int]) -> list[int]:
    first = await async_double(1)
    rest = await async_double.map(xs)
    return [first, *rest]


@checkpoint
def square(x: int) -> int:
    bump(f"square-{x}")
    return x * x


@flow
def parallel(xs: list[int]) -> list[int]:
    futures = [square.submit(x) for x in xs[:2]]
    mapped = square.map(xs[2:])
    return [f.result() for f in futures] + mapped


@checkpoint(retries=3)
def flaky(fail_times: int) -> str:
    bump("flaky")
    if count("flaky") <= fail_times:
        raise RuntimeError(f"attempt {count('flaky')} failed")
    return "ok"


@flow
def retrying(fail_times: int) -> str:
    return flaky(fail_times)


@checkpoint
def fail_if(flag_file: str) -> str:
    if Path(flag_file).exists():
        raise ValueError("flag file present")
    return "fine"


@flow
def may_fail(flag_file: str) -> str:
    a = upper("x")
    return a + fail_if(flag_file)


@flow
def saver(value: str) -> str:
    kitaru.save("report", {"v": value})
    kitaru.save("report", {"v": value + "2"})
    kitaru.log(stage="saved", n=2)
    return value


@flow
def big(size: int) -> int:
    blob = make_blob(size)
    return len(blob)


@checkpoint
def make_blob(size: int) -> bytes:
    return b"a" * size


@checkpoint(cache=True)
def expensive(x: int) -> int:
    bump("expensive")
    return x * 10


@flow
def cached_flow(x: int) -> int:
    return expensive(x)


@checkpoint
def flaky_once(marker: str) -> str:
    bump("flaky_once")
    if count("flaky_once") == 1:
        raise RuntimeError("first run fails")
    return marker


@flow(retries=1)
def flow_with_retries(marker: str) -> str:
    a = upper(marker)
    return a + flaky_once(marker)


@checkpoint
def slow_step(i: int) -> int:
    import time

    time.sleep(0.05)
    bump("slow_step")
    return i


@flow
def slow(n: int) -> int:
    return sum(slow_step(i) for i in range(n))


@checkpoint
def inner(x: int) -> int:
    return x + 100


@checkpoint
def outer_cp(x: int) -> int:
    return inner(x)


@flow
def nesting(x: int) -> int:
    return outer_cp(x)


@checkpoint(runtime="isolated")
def isolated_pid(x: int) -> dict[str, int]:
    bump("isolated")
    return {"pid": os.getpid(), "x": x * 3}


@checkpoint(runtime="isolated")
def isolated_fails(x: int) -> int:
    raise ValueError(f"bad {x}")


@flow
def with_isolated(x: int) -> list[int]:
    a = isolated_pid(x)
    b = isolated_pid(x + 1)
    return [a["pid"], b["pid"], a["x"], b["x"], os.getpid()]


@flow
def with_failing_isolated() -> int:
    return isolated_fails(2)


@flow
async def async_approval(x: int) -> int:
    y = await async_double(x)
    ok = kitaru.wait(name="ok", schema=bool)
    return y if ok else -1
