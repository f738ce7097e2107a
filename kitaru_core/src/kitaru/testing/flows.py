"""Tiny flows the orchestrator contract runs. An installed module, so that whatever runs an
execution (a thread, a worker process, a remote job with kitaru installed) can import them."""

from __future__ import annotations

import kitaru
from kitaru import checkpoint, flow


@checkpoint
def double(x: int) -> int:
    return 2 * x


@flow
def tiny(x: int) -> int:
    print(f"tiny flow got {x}")
    return double(x) + 1


@checkpoint
def explode(message: str) -> None:
    raise ValueError(message)


@flow
def failing(message: str) -> None:
    explode(message)


@flow
def waiting(question: str) -> str:
    answer: str = kitaru.wait(name="answer", question=question, schema=str)
    return f"answered: {answer}"


@checkpoint(runtime="isolated")
def triple_apart(x: int) -> int:
    return 3 * x


@flow
def apart(x: int) -> int:
    return triple_apart(x) + 1


@checkpoint
def fails_first(x: int) -> int:
    """Fails unless an earlier attempt of this call failed: its execution's first run fails,
    a retry succeeds (read through the store, so wherever the unit runs)."""
    from kitaru.client import KitaruClient
    from kitaru.runtime.current import current_execution

    ctx = current_execution.get()
    assert ctx is not None
    tried = [a for a in KitaruClient().executions.get(ctx.execution.id).attempts
             if a.call_id == "fails_first"]  # fmt: skip
    if not tried:
        raise ValueError("the first attempt fails")
    return x


@flow
def fails_once(x: int) -> int:
    return fails_first(x)
