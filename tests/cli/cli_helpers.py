"""Helpers shared by the CLI tests: subprocess runners, line readers, assertions."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from click.testing import Result

#: The ``invoke`` fixture: run the CLI in-process, returning click's Result.
Invoke = Callable[..., Result]


@dataclass
class Flows:
    """The test flow file: its path (for ``kitaru run``) and the module imported in-process."""

    path: Path
    module: ModuleType

    @property
    def dir(self) -> Path:
        return self.path.parent

    def target(self, flow: str) -> str:
        return f"{self.path}:{flow}"

    def runs(self, checkpoint: str) -> int:
        """How many times ``checkpoint`` executed (across processes)."""
        f = self.dir / f"ran-{checkpoint}.txt"
        return len(f.read_text()) if f.exists() else 0

    def fail(self, on: bool = True) -> None:
        marker = self.dir / "FAIL"
        if on:
            marker.write_text("1")
        else:
            marker.unlink(missing_ok=True)


def kitaru_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "kitaru.cli", *args]


def kitaru(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a real subprocess (inherits KITARU_HOME from the test's environment)."""
    return subprocess.run(
        kitaru_argv(*args),
        cwd=cwd,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class LineReader:
    """Reads a subprocess's stdout line by line in a thread, so tests can wait with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, predicate: Callable[[str], bool], timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching line within {timeout}s; got {self.lines}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"process ended before a matching line; got {self.lines}")
            self.lines.append(line)
            if predicate(line):
                return line

    def rest(self, timeout: float = 30) -> list[str]:
        """All remaining lines until the process closes stdout."""
        deadline = time.monotonic() + timeout
        out: list[str] = []
        while True:
            line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            if line is None:
                return out
            self.lines.append(line)
            out.append(line)


def spawn(*args: str, cwd: Path | None = None) -> tuple[subprocess.Popen[str], LineReader]:
    proc = subprocess.Popen(
        kitaru_argv(*args),
        cwd=cwd,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, LineReader(proc)


def executions() -> list[Any]:
    """Every execution in the test's store (fresh store handle each time)."""
    from kitaru.client import KitaruClient

    return KitaruClient().executions.list(limit=10_000)


def wait_for(predicate: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def assert_one_line_error(result: Any, *, code: int | None = None, contains: str = "") -> str:
    """The CLI failed with one ``error:`` line (+ optional ``hint:``) and no traceback."""
    stderr = result.stderr
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: "), stderr
    assert len(lines) <= 2, stderr
    if len(lines) == 2:
        assert lines[1].startswith("hint: "), stderr
    exit_code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    assert exit_code != 0
    if code is not None:
        assert exit_code == code, (exit_code, stderr)
    assert contains in lines[0], lines[0]
    return lines[0]
