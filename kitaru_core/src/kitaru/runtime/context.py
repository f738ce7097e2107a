"""The execution context: the only global state of the runtime, held in context variables.

``current_execution`` is set while a flow body runs (and copied into threads that ``.submit()``
starts); ``current_frame`` is set while a checkpoint body runs.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kitaru.errors import ExecutionCancelled, LeaseLost
from kitaru.runtime.current import current_execution, current_frame
from kitaru.runtime.values import ValueIO
from kitaru.store.base import MetadataStore
from kitaru.store.records import Call, Execution

if TYPE_CHECKING:
    from kitaru.flow import Flow


@dataclass
class CallFrame:
    """A checkpoint body in progress."""

    call_id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    children: dict[str, int] = field(default_factory=dict)

    def child_id(self, name: str) -> str:
        """``<call id>/llm``, ``<call id>/llm#2``: records made inside this checkpoint body.
        One body runs in one thread, so the counter needs no lock."""
        n = self.children[name] = self.children.get(name, 0) + 1
        return f"{self.call_id}/{name}" if n == 1 else f"{self.call_id}/{name}#{n}"


@dataclass
class ReplaySource:
    """The journal a replay reuses, what it must re-execute and what it overrides."""

    source_id: str
    journal: dict[str, Call]
    forced: frozenset[str]
    overrides: dict[str, Any]


class ExecutionContext:
    """Everything a running flow body needs; one per (execution, attempt to run it)."""

    def __init__(
        self,
        store: MetadataStore,
        execution: Execution,
        flow: Flow,
        values: ValueIO,
        replay: ReplaySource | None = None,
        journal: dict[str, Call] | None = None,
    ) -> None:
        self.store = store
        self.execution = execution
        self.pk = execution.pk
        self.flow = flow
        self.values = values
        self.replay = replay
        self.cancelled = threading.Event()
        #: the fencing token this runner writes under (set when its lease is taken)
        self.epoch = execution.epoch
        #: set once a write was refused or the lease was seen taken over: nothing more runs
        self.lost: LeaseLost | None = None
        self.taken_over = threading.Event()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Future[Any]] = []
        self._sink: Any = None
        self.journal: dict[str, Call] = {}
        self._counts: dict[str, int] = {}
        self._seq = 0
        #: the instrumentation of this pass (kitaru.runtime.telemetry), None when nothing traces
        self.telemetry: Any = None
        if journal is None:
            self.reload()
        else:  # a brand-new execution: nothing to load
            self.journal = journal

    def log_sink(self) -> Any:
        if self._sink is None:
            from kitaru.runtime.logs import LogSink

            with self._lock:
                if self._sink is None:
                    ship = self if getattr(self.store, "ships_logs", False) else None
                    self._sink = LogSink(self.execution.id, ship)
        return self._sink

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()

    def reload(self) -> None:
        """Start a fresh pass over the flow body: journal loaded once, call counters reset."""
        self.journal = self.store.load_journal(self.pk)
        self._seq = max((c.seq for c in self.journal.values()), default=0)
        self._counts = {}

    def next_call_id(self, name: str) -> str:
        with self._lock:
            n = self._counts.get(name, 0) + 1
            self._counts[name] = n
        return name if n == 1 else f"{name}#{n}"

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def record(self, call: Call) -> None:
        """Write one journal record (one transaction, fenced by this runner's epoch) before
        the flow goes on."""
        try:
            self.store.put_call(self.pk, call, epoch=self.epoch)
        except LeaseLost as exc:
            self.lost = exc
            raise
        self.journal[call.call_id] = call

    def check_runnable(self) -> None:
        """Before a checkpoint body, an LLM call or a memory write starts: the execution was
        not cancelled and this process still holds it (free while its last lease renewal is
        younger than the TTL; see :mod:`kitaru.runtime.leases`)."""
        if self.cancelled.is_set():
            raise ExecutionCancelled(f"execution {self.execution.id} was cancelled")
        if self.lost is None:
            from kitaru.runtime.leases import keeper

            if self.taken_over.is_set() or not keeper().confirm(self.store, self.pk):
                from kitaru.store.base import lease_lost

                current = self.store.get_execution(self.execution.id).epoch
                self.lost = lease_lost(self.execution.id, self.epoch, current)
        if self.lost is not None:
            raise self.lost

    # -- parallel checkpoint calls --------------------------------------------------------------
    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        import contextvars

        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="kitaru-cp")
            future = self._pool.submit(contextvars.copy_context().run, fn, *args)
            self._futures.append(future)
        return future

    def join(self) -> None:
        """Let in-flight parallel calls finish (so their results are journaled) before leaving."""
        with self._lock:
            futures, self._futures = self._futures, []
            pool, self._pool = self._pool, None
        for f in futures:
            try:
                f.result()
            except BaseException:
                pass
        if pool is not None:
            pool.shutdown(wait=True)


__all__ = ["CallFrame", "ExecutionContext", "ReplaySource", "current_execution", "current_frame"]
