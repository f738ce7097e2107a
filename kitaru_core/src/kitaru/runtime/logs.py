"""Capturing stdout, stderr and ``logging`` per execution and checkpoint.

``sys.stdout``/``sys.stderr`` are wrapped once by a tee that still writes to the terminal and, when
the writing thread is inside an execution, also appends whole lines to that execution's log file
(``KITARU_HOME/logs/<id>.jsonl``) tagged with the checkpoint call id. A process connected to a
server also sends the records there (in batches, at most every half second and at the end), so
``kitaru executions logs`` works from any machine.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from kitaru.redact import scrub
from kitaru.runtime.current import current_execution, current_frame
from kitaru.validation import storable


def log_path(execution_id: str) -> Path:
    from kitaru.config import settings

    return settings().logs_dir / f"{execution_id}.jsonl"


class LogSink:
    """Appends log lines of one execution; partial lines are buffered per stream and call.
    With ``ship`` (the execution's context: its ``store``, ``pk`` and ``epoch``) the records
    also go to that store (a server), in batches, fenced like every write of the runner."""

    def __init__(self, execution_id: str, ship: Any = None) -> None:
        self.path = log_path(execution_id)
        self._file: IO[str] | None = None
        self._lock = threading.Lock()
        self._partial: dict[tuple[str, str | None], str] = {}
        self._ship = ship
        self._outbox: list[dict[str, Any]] = []
        self._unwritable = False
        self._timer: threading.Timer | None = None

    def write(self, stream: str, call_id: str | None, text: str) -> None:
        with self._lock:
            key = (stream, call_id)
            text = self._partial.pop(key, "") + text
            *lines, rest = text.split("\n")
            if rest:
                self._partial[key] = rest
            for line in lines:
                self._emit(stream, call_id, line)

    def _emit(self, stream: str, call_id: str | None, line: str) -> None:
        line = storable(scrub(line))  # no piece of a known secret value, no NUL
        record = {"t": round(time.time(), 6), "call": call_id, "stream": stream, "line": line}
        self._write_file(record)
        if self._ship is not None:
            self._outbox.append(record)
            if self._timer is None:
                self._timer = threading.Timer(0.5, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def _write_file(self, record: dict[str, Any]) -> None:
        """Append to the execution's log file. A file that cannot be written (a read-only
        KITARU_HOME) loses the capture, never the user's print or the checkpoint."""
        if self._unwritable:
            return
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
        except OSError as exc:
            self._unwritable = True
            if sys.__stderr__ is not None:
                sys.__stderr__.write(f"kitaru: output is not captured to {self.path}: {exc}\n")

    def flush(self) -> None:
        """Send what the server has not got yet (a failure keeps them for the next try)."""
        if self._ship is None:
            return
        with self._lock:
            batch, self._outbox, self._timer = self._outbox, [], None
        if not batch:
            return
        from kitaru.errors import LeaseLost

        ctx = self._ship
        try:
            ctx.store.append_logs(ctx.pk, batch, epoch=ctx.epoch)
        except LeaseLost:
            return  # another runner has the execution: this one's output is not recorded
        except Exception:
            with self._lock:
                self._outbox[:0] = batch

    def close(self) -> None:
        with self._lock:
            for (stream, call_id), rest in self._partial.items():
                self._emit(stream, call_id, rest)
            self._partial.clear()
            if self._file is not None:
                self._file.close()
                self._file = None
            timer = self._timer
        if timer is not None:
            timer.cancel()
        self.flush()


def _capture(stream: str, text: str) -> None:
    ctx = current_execution.get()
    if ctx is None or not text:
        return
    frame = current_frame.get()
    ctx.log_sink().write(stream, frame.call_id if frame else None, text)


class _Tee(io.TextIOBase):
    def __init__(self, original: Any, stream: str) -> None:
        self.original = original
        self.stream = stream

    def write(self, text: str) -> int:
        n = self.original.write(text)
        _capture(self.stream, text)
        return int(n) if n is not None else len(text)

    def flush(self) -> None:
        self.original.flush()

    # io.TextIOBase answers these itself (False, an error, None): the terminal's answers are
    # the original stream's, so a script still knows it is attached to one
    def isatty(self) -> bool:
        return bool(self.original.isatty())

    def fileno(self) -> int:
        return int(self.original.fileno())

    @property
    def encoding(self) -> Any:  # type: ignore[override]  # read-only on io.TextIOBase too
        return getattr(self.original, "encoding", None)

    @property
    def errors(self) -> Any:  # type: ignore[override]
        return getattr(self.original, "errors", None)

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if current_execution.get() is None:
            return
        try:
            _capture("log", f"{record.levelname} {record.name}: {record.getMessage()}\n")
        except Exception:
            self.handleError(record)


_handler = _Handler()


def install() -> None:
    """Wrap stdout/stderr and attach the logging handler (idempotent, cheap to call)."""
    if not isinstance(sys.stdout, _Tee) and sys.stdout is not None:
        sys.stdout = _Tee(sys.stdout, "stdout")
    if not isinstance(sys.stderr, _Tee) and sys.stderr is not None:
        sys.stderr = _Tee(sys.stderr, "stderr")
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)


def read_logs(execution_id: str, store: Any = None) -> list[dict[str, Any]]:
    """An execution's records: those sent to the store by a connected process when there are
    any (or when ``store`` is a server's), else this machine's log file."""
    if store is not None:
        pk = store.get_execution(execution_id).pk
        out: list[dict[str, Any]] = []
        while batch := store.read_logs(pk, after=out[-1]["n"] if out else 0):
            out += batch
        if out or getattr(store, "ships_logs", False):
            return [{k: v for k, v in r.items() if k != "n"} for r in out]
    path = log_path(execution_id)
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def follow_logs(
    execution_id: str, *, done: Any, poll: float = 0.2, store: Any = None
) -> Iterator[dict[str, Any]]:
    """Yield records as they are written until ``done()`` is true and all are read."""
    if store is not None and getattr(store, "ships_logs", False):
        pk, seen = store.get_execution(execution_id).pk, 0
        while True:
            finished = done()
            while batch := store.read_logs(pk, after=seen):
                seen = batch[-1]["n"]
                yield from ({k: v for k, v in r.items() if k != "n"} for r in batch)
            if finished:
                return
            time.sleep(poll)
    path = log_path(execution_id)
    position = 0
    while True:
        finished = done()
        if path.exists():
            with open(path, encoding="utf-8") as f:
                f.seek(position)
                while line := f.readline():
                    if not line.endswith("\n"):
                        break
                    position = f.tell()
                    yield json.loads(line)
        if finished:
            return
        time.sleep(poll)
