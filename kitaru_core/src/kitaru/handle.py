"""``FlowHandle``: a started execution, to wait on, give input to, cancel or read logs of."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from kitaru.errors import ExecutionCancelled, ExecutionFailed
from kitaru.store.base import MetadataStore
from kitaru.store.changes import Waker
from kitaru.store.records import TERMINAL_STATUSES, Execution, display_status, lease_is_live

if TYPE_CHECKING:
    from kitaru.flow import Flow
    from kitaru.runtime.engine import Outcome
    from kitaru.runtime.launch import Launch

R = TypeVar("R")


@dataclass(frozen=True)
class PendingWait:
    """A wait that needs input."""

    name: str
    question: str | None
    schema: dict[str, Any] | None
    deadline: float | None = None


class FlowHandle(Generic[R]):
    """A started execution. ``wait()`` for its result; ``input()`` to answer its wait."""

    def __init__(
        self, store: MetadataStore, execution_id: str, *, flow: Flow[Any] | None = None
    ) -> None:
        self._store = store
        self.id = execution_id
        self._flow = flow
        #: the latest launch of the execution by this handle (it may drive it in this process)
        self._launch: Launch | None = None
        #: when the execution had ended before it was launched again (a retry): that end is
        #: not this launch's, until a runner elsewhere takes the execution
        self._ended_before: float | None = None
        #: in a terminal, ``wait()`` says once per wait what it waits for and how to answer it
        #: (the CLI, which prints its own lines, turns this off)
        self.announce = True
        self._announced: set[str] = set()
        #: ``wait()`` raises LeaseLost when this process's runner was taken over, instead of
        #: waiting for the taker (``kitaru run`` says so and exits 4)
        self.raise_when_taken_over = False

    @classmethod
    def _launched(cls, launch: Launch) -> FlowHandle[Any]:
        """The handle of an execution just handed to its orchestrator."""
        handle: FlowHandle[Any] = cls(launch.store, launch.execution.id, flow=launch.flow)
        handle._launch = launch
        if launch.execution.status in TERMINAL_STATUSES and not launch.took_it:
            handle._ended_before = launch.execution.ended_at
        return handle

    @property
    def _thread(self) -> threading.Thread | None:
        """The thread of this process driving the execution, if any."""
        return self._launch.thread if self._launch is not None else None

    @property
    def _outcome(self) -> Outcome | None:
        """How this process's last drive of the execution ended, if it drove it."""
        return self._launch.outcome if self._launch is not None else None

    def __repr__(self) -> str:
        return f"<FlowHandle {self.id} {self.status}>"

    def _execution(self) -> Execution:
        return self._store.get_execution(self.id)

    def _ended(self, ex: Execution) -> bool:
        """The execution ended, and not before this handle launched it again."""
        if ex.status not in TERMINAL_STATUSES:
            return False
        if self._ended_before is not None and ex.ended_at == self._ended_before:
            return False
        self._ended_before = None
        return True

    @property
    def status(self) -> str:
        """pending, running, waiting, completed, failed, cancelled — or crashed."""
        ex = self._execution()
        if ex.status in TERMINAL_STATUSES and not self._ended(ex):
            return "pending"  # launched again; no runner has taken it yet
        return display_status(ex, time.time())

    @property
    def pending_wait(self) -> PendingWait | None:
        """The wait this execution is blocked on, if any."""
        rec = self._store.pending_wait(self._execution().pk)
        if rec is None:
            return None
        meta = rec.meta or {}
        return PendingWait(rec.call_id, meta.get("question"), meta.get("schema"),
                           meta.get("deadline"))  # fmt: skip

    def input(self, value: Any, name: str | None = None) -> None:
        """Answer the pending wait (validated against its schema) and let the flow go on."""
        from kitaru.runtime.control import resolve_input

        resume_here = resolve_input(self._store, self.id, value, name=name)
        if resume_here:
            self._resume_in_thread()

    def _resume_in_thread(self) -> None:
        from kitaru.runtime.launch import launch

        ex = self._execution()
        if ex.status != "waiting" or lease_is_live(ex.lease_owner, ex.lease_expires, time.time()):
            return
        self._launch = launch(self._store, ex, "input", flow=self._flow)

    def cancel(self) -> None:
        """Cancel the execution (in-flight checkpoints finish; nothing new starts)."""
        from kitaru.runtime.control import cancel_execution

        cancel_execution(self._store, self.id)

    def logs(self) -> list[dict[str, Any]]:
        """Captured output and log records, oldest first."""
        from kitaru.runtime.logs import read_logs

        return read_logs(self.id, self._store)

    def wait(self, timeout: float | None = None) -> R:
        """Block until the execution ends: its result, or ExecutionFailed / ExecutionCancelled.

        While the execution waits for input, this process holds it and resumes it the moment
        input is stored, wherever it comes from.
        """
        stop_at = None if timeout is None else time.time() + timeout
        waker: Waker | None = None  # woken by the store's change notifications, or polling
        try:
            while True:
                if self._thread is not None and self._thread.is_alive():
                    self._thread.join(None if stop_at is None else max(0.0, stop_at - time.time()))
                if self._outcome is not None and self._outcome.kind == "lost":
                    # this process's runner was taken over (its lease lapsed): the runner that
                    # took it finishes the execution, and its end is what this waits for
                    if self.raise_when_taken_over:
                        self._raise_if_lost()
                    self._launch = None
                ex = self._execution()
                if self._ended(ex):
                    return self._result(ex)
                if ex.status == "waiting":
                    self._announce_wait()
                    if self._hold(ex, stop_at):
                        continue
                if stop_at is not None and time.time() >= stop_at:
                    raise TimeoutError(f"execution {self.id} is still {self.status}")
                if waker is None:  # watched from before the next read: no change slips by
                    waker = Waker(self._store, ex.id, cap=0.02)
                    continue
                waker.sleep(until=stop_at)
        finally:
            if waker is not None:
                waker.close()

    def _announce_wait(self) -> None:
        """A person running a script sees why it blocks and how to go on; library use (no
        terminal on stderr) prints nothing."""
        import sys

        if not self.announce or not sys.stderr.isatty():
            return
        wait = self.pending_wait
        if wait is None or wait.name in self._announced:
            return
        from kitaru.answers import answer_command

        self._announced.add(wait.name)
        asked = f": {wait.question}" if wait.question else ""
        print(f"kitaru: execution {self.id} is waiting on {wait.name!r}{asked}\n"
              f"kitaru: answer with: {answer_command(self.id, wait.schema)}",
              file=sys.stderr, flush=True)  # fmt: skip

    def _hold(self, ex: Execution, stop_at: float | None) -> bool:
        """Offer the execution's orchestrator to hold it here through its wait (``wait``
        launch: the local one accepts and resumes it in this process the moment input
        arrives). True if this process drove it on."""
        from kitaru.runtime.launch import launch

        if lease_is_live(ex.lease_owner, ex.lease_expires, time.time()):
            return False
        held = launch(self._store, ex, "wait", flow=self._flow, stop_at=stop_at)
        if held.outcome is None:
            return False
        self._launch = held
        return True

    def _raise_if_lost(self) -> None:
        """This process stopped running the execution: another runner took it over (``kitaru
        run`` says so and exits 4; ``wait()`` waits for that runner instead)."""
        if self._outcome is not None and self._outcome.kind == "lost":
            assert self._outcome.error is not None
            raise self._outcome.error

    def _result(self, ex: Execution) -> R:
        if ex.status == "completed":
            from kitaru.runtime.runner import value_io

            assert ex.result is not None
            return value_io(self._store, ex.options.get("stack")).load(*ex.result)
        if ex.status == "cancelled":
            raise ExecutionCancelled(f"execution {ex.id} was cancelled")
        err = ex.error or {}
        cause = self._outcome.error if self._outcome is not None else None
        raise ExecutionFailed(
            f"execution {ex.id} failed: {err.get('type', 'Error')}: {err.get('message', '')}",
            origin=err.get("origin", "user_code"),
            error_type=err.get("type"),
            execution_id=ex.id,
            hint=f"see `kitaru executions show {ex.id}`; fix and `kitaru executions retry {ex.id}`",
        ) from cause
