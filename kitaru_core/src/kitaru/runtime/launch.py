"""The one seam between the core and orchestrators: every execution starts running here.

Whatever the reason — a new run, a resume, a retry, a replay, a deployment's invocation, the
input a wait was waiting for, a recovery — the core creates (or finds) the execution and hands
it to its stack's orchestrator as a :class:`Launch`. The orchestrator decides where it runs: a
local one calls :meth:`Launch.here` (this process drives it) or :meth:`Launch.in_worker` (a
detached worker process of this machine); a job orchestrator submits a unit that runs
``python -m kitaru.entrypoint`` elsewhere and touches neither.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kitaru.errors import Conflict
from kitaru.runtime.engine import Outcome
from kitaru.store.base import MetadataStore
from kitaru.store.records import Execution

if TYPE_CHECKING:
    from kitaru.components.orchestrator import Orchestrator
    from kitaru.flow import Flow

#: the statuses an execution may be in to be launched for each reason
STATUSES: dict[str, tuple[str, ...]] = {
    "run": ("pending",),
    "replay": ("pending",),
    "invoke": ("pending",),
    "dequeue": ("pending",),
    "resume": ("pending", "running", "waiting"),
    "input": ("pending", "running", "waiting"),
    "recover": ("pending", "running", "waiting"),
    "retry": ("failed",),
    "wait": ("waiting",),
}


@dataclass
class NewExecution:
    """An execution to create for a launch (``run``, ``replay``): created by the launch, as
    the orchestrator needs it — pending for a unit elsewhere, or already running and leased
    to this process when it drives it here (one write either way)."""

    store: MetadataStore
    flow: Flow[Any]
    stack: str
    options: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)

    def create(
        self, *, status: str = "pending", lease: tuple[str, float] | None = None
    ) -> Execution:
        loc = self.flow.location
        return self.store.create_execution(
            flow=self.flow.name, module=loc.module, qualname=loc.qualname,
            source_file=loc.source_file, root=loc.root, status=status, options=self.options,
            lease=lease, **self.fields,
        )  # fmt: skip


class Launch:
    """One execution handed to an orchestrator (see :class:`kitaru.components.orchestrator.
    Launch` for what an orchestrator may do with it).

    ``detach``: the caller will not wait in this process (``--detach``, input from another
    process, a recovery). ``flow``: the flow object, when the caller has it (a ``__main__``
    script's flow is not importable elsewhere). ``in_caller``: :meth:`here` drives in the
    calling thread (a direct ``flow(...)`` call, ``kitaru serve``'s workers) instead of a new
    one; ``hold``: and keeps the execution through its waits (the caller wants the result).
    """

    def __init__(
        self, store: MetadataStore, execution: Execution | NewExecution, reason: str, *,
        detach: bool = False, flow: Flow[Any] | None = None, in_caller: bool = False,
        hold: bool = False, stop_at: float | None = None,
    ) -> None:  # fmt: skip
        if reason not in STATUSES:
            raise ValueError(f"unknown launch reason {reason!r}")
        self.store = store
        self._new = execution if isinstance(execution, NewExecution) else None
        self._execution = execution if isinstance(execution, Execution) else None
        self.reason = reason
        self.detach = detach
        self.flow = flow
        self.in_caller = in_caller
        self.hold = hold
        self.stop_at = stop_at
        #: set by :meth:`here`: the thread driving it, and how its last drive ended
        self.thread: threading.Thread | None = None
        self.outcome: Outcome | None = None
        self.took_it = False

    @property
    def statuses(self) -> tuple[str, ...]:
        return STATUSES[self.reason]

    @property
    def execution(self) -> Execution:
        """The execution (a new one is created pending the first time it is asked for)."""
        if self._execution is None:
            assert self._new is not None
            self._execution = self._new.create()
        return self._execution

    def here(self) -> None:
        """Drive the execution in this process: in a new thread, or in the calling one with
        ``in_caller``. Does nothing if another live process holds it (it is being run)."""
        from kitaru.runtime.runner import drive
        from kitaru.runtime.telemetry import resolve

        resolve()  # what it needs to trace (KITARU_OTEL=1: kitaru[otel]) fails here, not later
        ctx = self._take()
        if ctx is None:
            return
        self.took_it = True
        if self.reason == "wait":  # the caller waits for the result: hold it through its waits
            self.outcome = self._hold(ctx)
        elif self.in_caller:
            self.outcome = drive(ctx, hold=self.hold, stop_at=self.stop_at)
        else:

            def target() -> None:
                self.outcome = drive(ctx, hold=False)

            self.thread = threading.Thread(target=target, name=f"kitaru-{self.execution.id}")
            self.thread.start()

    def in_worker(self) -> None:
        """Drive the execution in a detached worker process of this machine."""
        from kitaru.runtime.runner import launch_worker, prepare

        if self.reason in ("resume", "retry"):  # a person asked: a flow that cannot be
            prepare(self.store, self.execution)  # imported fails here, before any change
        launch_worker(self.execution, self.statuses)

    # -- taking the execution for this process ------------------------------------------------
    def _take(self) -> Any:
        from kitaru.runtime.runner import acquire, check_resumable, claim, prepare

        if self.reason == "wait":
            ctx = prepare(self.store, self.execution, self.flow)
            return ctx if acquire(ctx, ("waiting",), None) else None
        if self._execution is None:  # new: created running and leased to this process at once
            return self._create_here()
        if self.reason == "dequeue":  # this process took it off its queue, leased to itself
            ctx = prepare(self.store, self.execution, self.flow)
            return ctx if acquire(ctx, ("pending",), "running") else None
        if self.reason == "run":  # created pending a moment ago: nothing to check
            ctx = prepare(self.store, self.execution, self.flow, journal={})
            if not acquire(ctx, ("pending",), "running"):
                raise Conflict(f"execution {self.execution.id} was taken by another process")
            return ctx
        if self.reason in ("input", "recover", "invoke"):  # nobody asked to watch: quietly
            try:
                check_resumable(self.store, self.execution.id, self.statuses)
            except Conflict:
                return None
        return claim(self.store, self.execution.id, self.statuses, self.flow)

    def _create_here(self) -> Any:
        import time

        from kitaru.config import settings
        from kitaru.runtime.leases import keeper
        from kitaru.runtime.runner import prepare

        assert self._new is not None
        taken_at = time.monotonic()
        self._execution = self._new.create(
            status="running", lease=(keeper().owner, settings().lease_ttl)
        )
        fresh = not self._execution.replay_of  # a replay reads its source's journal
        ctx = prepare(self.store, self._execution, self.flow, journal={} if fresh else None)
        keeper().adopt(self.store, ctx.pk, ctx.cancelled.set, ctx.taken_over.set,
                       taken_at=taken_at)  # fmt: skip
        return ctx

    def _hold(self, ctx: Any) -> Outcome | None:
        from kitaru.runtime.runner import drive, hold_until_resolved

        pending = self.store.pending_wait(ctx.pk)
        if pending is not None and not hold_until_resolved(ctx, pending.call_id, self.stop_at):
            return None
        if pending is None:
            self.store.set_status(ctx.pk, "running", only_if=("waiting",), epoch=ctx.epoch)
        return drive(ctx, hold=True, stop_at=self.stop_at)


def launch(
    store: MetadataStore, execution: Execution | NewExecution, reason: str, *,
    detach: bool = False,
    flow: Flow[Any] | None = None, in_caller: bool = False, hold: bool = False,
    stop_at: float | None = None, orchestrator: Orchestrator | None = None,
) -> Launch:  # fmt: skip
    """Hand ``execution`` to its stack's orchestrator (or ``orchestrator``) for ``reason``."""
    request = Launch(store, execution, reason, detach=detach, flow=flow, in_caller=in_caller,
                     hold=hold, stop_at=stop_at)  # fmt: skip
    if orchestrator is None:
        from kitaru.runtime.stacks import orchestrator_of, orchestrator_of_stack

        orchestrator = (orchestrator_of_stack(execution.stack)
                        if isinstance(execution, NewExecution) else orchestrator_of(execution))  # fmt: skip
    orchestrator.launch(request)
    return request


def new_execution(
    flow: Flow[Any],
    arguments: dict[str, Any],
    *,
    store: MetadataStore | None = None,
    stack: str | None = None,
    orchestrator: Orchestrator | None = None,
    **fields: Any,
) -> NewExecution:
    """A new execution of ``flow`` on ``stack`` (default: the flow's), to be created by its
    launch, with what its orchestrator (default: the stack's) keeps of it
    (``execution_options``, which also checks it can run it before anything is created)."""
    from kitaru.runtime.runner import run_options
    from kitaru.runtime.stacks import orchestrator_of_stack, stack_name_for
    from kitaru.store import default_store

    stack = stack or stack_name_for(flow.stack)
    orchestrator = orchestrator or orchestrator_of_stack(stack)
    options = {**run_options(flow, stack), **orchestrator.execution_options(flow)}
    return NewExecution(store or default_store(), flow, stack, options,
                        {"inputs": flow.inputs_record(arguments), **fields})  # fmt: skip


def ensure_progress(store: MetadataStore, execution_id: str) -> None:
    """After input was stored: if no live process holds the execution, launch it (``input``)."""
    import time

    from kitaru.store.records import lease_is_live

    ex = store.get_execution(execution_id)
    if ex.status == "waiting" and not lease_is_live(ex.lease_owner, ex.lease_expires, time.time()):
        launch(store, ex, "input", detach=True)
