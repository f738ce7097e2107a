"""Watching an execution this process drives, and printing how it ended.

``follow`` (``kitaru run``) waits for the end, announcing every wait the execution reaches and
holding it until someone answers. ``settle`` (``resume``/``retry``/``replay``) joins the thread
that drives the execution until it completes, fails or suspends, and reports that state.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING, Any

import click

from kitaru.cli.output import result_text, waiting_lines

if TYPE_CHECKING:
    from kitaru.handle import FlowHandle

POLL = 0.05


def _interrupted(handle: FlowHandle[Any]) -> None:
    """Ctrl-C: leave the execution recoverable and exit now (its lease dies with us)."""
    try:
        waiting = handle.status == "waiting"
    except Exception:
        waiting = False
    if waiting:
        then = f"it keeps waiting; answer it with `kitaru executions input {handle.id} --value ...`"
    else:
        then = f"continue it with `kitaru executions resume {handle.id}`"
    click.echo(f"\ninterrupted: execution {handle.id} stops here; {then}", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def announce_wait(handle: FlowHandle[Any], announced: set[str]) -> None:
    """Print the waiting message for the handle's pending wait, once per wait."""
    wait = handle.pending_wait
    if wait is None or wait.name in announced:
        return
    announced.add(wait.name)
    for line in waiting_lines(handle.id, wait.name, wait.question, wait.schema):
        click.echo(line)


def print_result(handle: FlowHandle[Any], value: Any) -> None:
    click.echo(f"execution {handle.id} completed")
    click.echo(result_text(value))


def follow(handle: FlowHandle[Any]) -> None:
    """Block until the execution ends; print waits as they come and the result at the end.

    Raises the handle's ExecutionFailed / ExecutionCancelled (printed as ``error:`` lines).
    """
    box: dict[str, Any] = {}
    handle.announce = False  # the lines below say it
    handle.raise_when_taken_over = True  # this process stopped: say so (exit 4)

    def target() -> None:
        try:
            box["value"] = handle.wait()
        except BaseException as exc:  # re-raised in the calling thread
            box["error"] = exc

    waiter = threading.Thread(target=target, name=f"kitaru-cli-{handle.id}", daemon=True)
    waiter.start()
    announced: set[str] = set()
    try:
        while waiter.is_alive():
            waiter.join(POLL)
            if waiter.is_alive():
                announce_wait(handle, announced)
    except KeyboardInterrupt:
        _interrupted(handle)
    if "error" in box:
        raise box["error"]
    print_result(handle, box.get("value"))


def settle(handle: FlowHandle[Any]) -> None:
    """Join the handle's driving thread, then report: result, waiting message, or error."""
    thread = handle._thread
    try:
        while thread is not None and thread.is_alive():
            thread.join(POLL)
    except KeyboardInterrupt:
        _interrupted(handle)
    handle._raise_if_lost()  # another runner took the execution over: this process stopped
    status = handle.status
    if status == "waiting":
        announce_wait(handle, set())
        return
    if status in ("completed", "failed", "cancelled"):
        print_result(handle, handle.wait())  # raises for failed / cancelled
        return
    click.echo(f"execution {handle.id} is {status}")
