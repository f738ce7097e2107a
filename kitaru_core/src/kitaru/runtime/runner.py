"""Driving executions in this process: start, resume, hold a waiting execution, hand off.

``drive`` runs a flow body pass after pass until the execution completes, fails, is cancelled or
suspends on a wait. With ``hold=True`` it keeps the lease while waiting and continues as soon as
the input is stored (the warm path); with ``hold=False`` it releases the execution, and whoever
resolves the wait starts a worker (:func:`launch_worker`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from kitaru.config import settings
from kitaru.errors import Conflict, LeaseLost, UsageError
from kitaru.runtime import codeloc
from kitaru.runtime.context import ExecutionContext, ReplaySource
from kitaru.runtime.engine import Outcome, error_record, run_body
from kitaru.runtime.leases import keeper
from kitaru.runtime.values import ValueIO
from kitaru.store.base import MetadataStore
from kitaru.store.changes import Waker
from kitaru.store.records import Call, Execution, display_status

if TYPE_CHECKING:
    from kitaru.flow import Flow

RESUMABLE = ("pending", "running", "waiting")
#: seconds between a held wait's looks at the store while its changes are announced
HOLD_FALLBACK = 5.0
#: the execution metadata key that keeps why the last attempt to resume it failed (written by
#: the worker, cleared by the next resume that gets past it, shown by the client)
RESUME_ERROR = "resume_error"


def value_io(store: MetadataStore, stack: str | None = None) -> ValueIO:
    """Values of executions on ``stack``: large ones go to that stack's artifact store."""
    return ValueIO(store, None, settings().inline_limit, stack=stack)


def load_flow(execution: Execution) -> Flow[Any]:
    obj = codeloc.load(
        codeloc.CodeLocation(
            execution.module, execution.qualname, execution.source_file, execution.root
        )
    )
    if not getattr(obj, "is_kitaru_flow", False):  # the runtime does not import the surface
        raise UsageError(f"{execution.qualname} in {execution.source_file} is not a @flow")
    return obj


def replay_source(store: MetadataStore, execution: Execution) -> ReplaySource | None:
    if not execution.replay_of:
        return None
    source = store.get_execution(execution.replay_of)
    journal = store.load_journal(source.pk)
    forced: frozenset[str] = frozenset()
    if execution.replay_from:
        start = journal[execution.replay_from].seq
        forced = frozenset(cid for cid, c in journal.items() if c.seq >= start)
    overrides = {
        k.split(".", 1)[1]: v
        for k, v in (execution.overrides or {}).items()
        if k.startswith("checkpoint.")
    }
    return ReplaySource(source.id, journal, forced, overrides)


def prepare(
    store: MetadataStore,
    execution: Execution,
    flow: Flow[Any] | None = None,
    journal: dict[str, Call] | None = None,
) -> ExecutionContext:
    """A context to run ``execution`` in this process (its flow imported unless given;
    ``journal``: its journal when the caller knows it, e.g. ``{}`` for a new one)."""
    flow = flow or load_flow(execution)
    return ExecutionContext(
        store,
        execution,
        flow,
        value_io(store, execution.options.get("stack")),
        replay_source(store, execution),
        journal=journal,
    )


# -- starting ---------------------------------------------------------------------------------
def run_options(flow: Flow[Any], stack: str) -> dict[str, Any]:
    """What an execution keeps of its flow's settings (a retry may change them)."""
    options: dict[str, Any] = {"retries": flow.retries, "cwd": os.getcwd(), "stack": stack}
    if flow.max_cost_usd is not None:
        options["max_cost_usd"] = flow.max_cost_usd
    return options


# -- driving ----------------------------------------------------------------------------------
def drive(ctx: ExecutionContext, *, hold: bool, stop_at: float | None = None) -> Outcome:
    """Run the execution (whose lease this process holds) until it stops; see module doc.

    Every write is fenced by the runner's epoch: once another runner has taken the execution
    over, the next write is refused and the outcome is ``lost`` (nothing more is recorded)."""
    try:
        outcome = _drive(ctx, hold, stop_at)
    except LeaseLost as exc:
        keeper().forget(ctx.store, ctx.pk)  # the lease is someone else's now: leave it alone
        outcome = Outcome("lost", error=ctx.lost or exc)
    if ctx.telemetry is not None:
        ctx.telemetry.execution_left(ctx, outcome)
    return outcome


def _drive(ctx: ExecutionContext, hold: bool, stop_at: float | None) -> Outcome:
    store, pk, k = ctx.store, ctx.pk, keeper()
    retries_left = int(ctx.execution.options.get("retries", 0))
    first = True
    while True:
        if not first:
            ctx.reload()
        first = False
        outcome = run_body(ctx)
        if outcome.kind == "lost" or ctx.lost is not None:
            raise ctx.lost or outcome.error or LeaseLost(f"execution {ctx.execution.id} lost")
        if outcome.kind == "completed":
            try:
                stored = ctx.values.dump(outcome.value)
            except Exception as exc:
                outcome = Outcome("failed", error=exc)
                err = error_record(exc, origin="runtime")
                store.set_status(pk, "failed", only_if=("running",), error=err,
                                 release_owner=k.owner, epoch=ctx.epoch)  # fmt: skip
            else:
                store.set_status(pk, "completed", only_if=("running",), result=stored,
                                 release_owner=k.owner, epoch=ctx.epoch)  # fmt: skip
            k.forget(store, pk)
            return outcome
        if outcome.kind == "failed":
            if retries_left > 0 and getattr(outcome.error, "retryable", True):
                retries_left -= 1
                continue
            assert outcome.error is not None
            store.set_status(pk, "failed", only_if=("running",), error=error_record(outcome.error),
                             release_owner=k.owner, epoch=ctx.epoch)  # fmt: skip
            k.forget(store, pk)
            return outcome
        if outcome.kind == "cancelled":
            k.release(store, pk)
            return outcome
        assert outcome.wait_call_id is not None
        if hold:
            if hold_until_resolved(ctx, outcome.wait_call_id, stop_at):
                continue
            return outcome
        k.release(store, pk)
        # Input may have arrived while we were unwinding; if so nobody else will resume it.
        rec = store.get_call(pk, outcome.wait_call_id)
        if rec is not None and rec.status != "pending" and acquire(ctx, ("waiting",), "running"):
            continue
        return outcome


def acquire(ctx: ExecutionContext, statuses: tuple[str, ...], set_status: str | None) -> bool:
    """Take the execution's lease for ``ctx`` (its writes then carry the new epoch)."""
    epoch = keeper().acquire(
        ctx.store, ctx.pk, statuses=statuses, set_status=set_status,
        on_cancel=ctx.cancelled.set, on_lost=ctx.taken_over.set,
    )  # fmt: skip
    if epoch is None:
        return False
    ctx.epoch = epoch
    return True


def hold_until_resolved(ctx: ExecutionContext, call_id: str, stop_at: float | None) -> bool:
    """Keep a waiting execution's lease until its wait is resolved (True) or we stop (False).

    Woken by the store's change notifications where it has them (PostgreSQL, directly or
    through a server), else polling (:class:`~kitaru.store.changes.Waker`)."""
    store, pk = ctx.store, ctx.pk
    # the input a hold waits for is always announced: its fallback look only covers a writer
    # that announces nothing (an older client), so it can be rare with thousands held
    with Waker(store, ctx.execution.id, cap=0.01, fallback=HOLD_FALLBACK) as waker:
        while True:
            rec = store.get_call(pk, call_id)
            deadline = ((rec.meta if rec else None) or {}).get("deadline")
            if rec is None or rec.status != "pending" or (deadline and time.time() >= deadline):
                if store.set_status(pk, "running", only_if=("waiting", "running"),
                                    epoch=ctx.epoch):  # fmt: skip
                    return True
                keeper().release(store, pk)  # cancelled (e.g. the wait was aborted)
                return False
            if ctx.taken_over.is_set():
                ctx.check_runnable()  # raises LeaseLost
            # a cancel is announced before the heartbeat notices it
            if (ctx.cancelled.is_set() or waker.seen("cancelled")
                    or (stop_at is not None and time.time() >= stop_at)):  # fmt: skip
                keeper().release(store, pk)
                return False
            waker.sleep(until=min((t for t in (deadline, stop_at) if t), default=None))


# -- resuming elsewhere -----------------------------------------------------------------------
def launch_worker(execution: Execution, statuses: tuple[str, ...] = RESUMABLE) -> int:
    """Start a detached worker process that takes ``execution`` over if it is in one of
    ``statuses`` (add ``failed`` for a retry); returns its pid."""
    s = settings()
    s.logs_dir.mkdir(parents=True, exist_ok=True)
    log = open(s.logs_dir / f"worker-{execution.id}.log", "ab")  # noqa: SIM115 - handed to child
    cwd = execution.options.get("cwd")
    env = s.child_env()
    from kitaru.tracecontext import TRACEPARENT_ENV, traceparent_for

    if parent := traceparent_for(execution.metadata):  # the worker joins the execution's trace
        env[TRACEPARENT_ENV] = parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "kitaru.runtime.worker", execution.id, ",".join(statuses)],
        cwd=cwd if cwd and os.path.isdir(cwd) else None,
        env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    log.close()
    return proc.pid


def check_resumable(
    store: MetadataStore, execution_id: str, statuses: tuple[str, ...]
) -> Execution:
    """The execution, if it is in one of ``statuses`` and no live process holds it."""
    from kitaru.store.records import lease_is_live

    ex = store.get_execution(execution_id)
    status = display_status(ex, time.time())
    if ex.status not in statuses:
        hint = "retry it with `kitaru executions retry`" if status == "failed" else None
        raise Conflict(f"execution {ex.id} is {status}; nothing to resume", hint=hint)
    if lease_is_live(ex.lease_owner, ex.lease_expires, time.time()):
        raise Conflict(
            f"execution {ex.id} is being run by another live process ({ex.lease_owner})",
            hint="wait for it, or cancel it with `kitaru executions cancel`",
        )
    return ex


def claim(
    store: MetadataStore, execution_id: str, statuses: tuple[str, ...],
    flow: Flow[Any] | None = None,
) -> ExecutionContext:  # fmt: skip
    """Take an execution over for this process: checked, its flow imported (failing before any
    change), its lease acquired and its status set to running."""
    ex = check_resumable(store, execution_id, statuses)
    ctx = prepare(store, ex, flow)
    if not acquire(ctx, statuses, "running"):
        raise Conflict(f"execution {ex.id} was taken by another process just now",
                       hint="wait for it, or cancel it with `kitaru executions cancel`")  # fmt: skip
    if ex.metadata.get(RESUME_ERROR):  # this resume got past it: no longer true
        store.update_metadata(ex.pk, {RESUME_ERROR: None}, epoch=ctx.epoch)
    return ctx
