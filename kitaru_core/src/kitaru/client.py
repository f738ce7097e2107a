"""``KitaruClient``: executions and artifacts, the same interface over any metadata store."""

from __future__ import annotations

import builtins
import json
import time
from typing import TYPE_CHECKING, Any

from kitaru.errors import Conflict, KitaruError, NotFound, UsageError
from kitaru.execution_info import (
    attempt_info,
    backend_status,
    call_info,
    call_version,
    crash_reason,
    resume_error,
    roll_up_usage,
    wait_info,
)
from kitaru.handle import FlowHandle
from kitaru.models import (
    ArtifactInfo,
    ExecutionInfo,
    ResumeError,
)
from kitaru.runtime.control import _pending, cancel_execution, resolve_input
from kitaru.runtime.control import to_jsonable as to_jsonable  # re-exported: part of the API
from kitaru.runtime.runner import RESUME_ERROR
from kitaru.runtime.serialization import preview
from kitaru.store.base import MetadataStore
from kitaru.store.records import (
    CHECKPOINT,
    LLM,
    LOG,
    SAVE,
    WAIT,
    Call,
    Execution,
    display_status,
)

if TYPE_CHECKING:
    from kitaru.diff import StoredValue
    from kitaru.models import ArtifactDetail, ExecutionDiff


class Executions:
    """``KitaruClient().executions``."""

    def __init__(self, store: MetadataStore) -> None:
        self._store = store

    # -- reading --------------------------------------------------------------------------------
    def _size(self, c: Call) -> int | None:
        if c.ref is not None:
            try:
                return self._store.get_blob(c.ref).size
            except NotFound:
                return None
        return None if c.value is None else len(c.value)

    def _summary(self, ex: Execution, now: float) -> ExecutionInfo:
        result_preview = None
        if ex.result is not None:
            ser, _, value, ref = ex.result
            result_preview = f"<stored as {ref[:12]}>" if ref else preview(ser, value or b"")
        duration = None
        if ex.started_at is not None:
            duration = (ex.ended_at or now) - ex.started_at
        metadata = dict(ex.metadata)
        return ExecutionInfo(
            id=ex.id, flow=ex.flow, status=display_status(ex, now), created_at=ex.created_at,
            started_at=ex.started_at, ended_at=ex.ended_at, duration=duration, error=ex.error,
            replay_of=ex.replay_of, replay_from=ex.replay_from, result_preview=result_preview,
            metadata=metadata, source_file=ex.source_file,
            resume_error=resume_error(ex.id, metadata.pop(RESUME_ERROR, None)),
        )  # fmt: skip

    def get(self, execution_id: str) -> ExecutionInfo:
        """An execution with its checkpoints, waits, attempts, metadata and artifacts."""
        ex = self._store.get_execution(execution_id)
        info = self._summary(ex, time.time())
        if info.status in ("pending", "running"):  # the backend may know its unit is gone
            info.status = backend_status(ex, info.status)
        if info.status == "crashed":
            info.crash_reason = crash_reason(ex)
        calls = sorted(self._store.load_journal(ex.pk).values(), key=lambda c: c.seq)
        for c in calls:
            size = self._size(c)
            call = call_info(c, size)
            info.calls.append(call)
            if c.kind == CHECKPOINT:
                info.checkpoints.append(call)
            elif c.kind == WAIT:
                info.waits.append(wait_info(c))
                if c.status == "pending":
                    info.pending_wait = info.waits[-1]
            elif c.kind == LOG:
                info.metadata.update(c.meta or {})
            elif c.kind == LLM:
                info.llm_calls.append(call)
            if c.kind in (SAVE, CHECKPOINT, LLM) and c.status == "completed":
                info.artifacts.append(self._artifact(ex.id, c, size or 0))
        roll_up_usage(info)
        info.attempts = [attempt_info(a) for a in self._store.attempts(ex.pk)]
        return info

    def _artifact(self, execution_id: str, c: Call, size: int) -> ArtifactInfo:
        return ArtifactInfo(
            execution_id=execution_id, name=c.call_id if c.kind == LLM else c.name,
            call_id=c.call_id, kind=c.kind,
            version=call_version(c.call_id), serializer=c.serializer, type_name=c.type_name,
            size=size, sha256=c.ref, inline=c.ref is None,
            preview=call_info(c, size).preview,
        )  # fmt: skip

    def list(
        self, *, flow: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[ExecutionInfo]:
        """Newest first; ``status="crashed"`` lists running executions whose worker died."""
        now = time.time()
        # running/crashed/pending are told apart by the lease, after the query: fetch them all
        derived = status in ("running", "crashed", "pending")
        rows = self._store.list_executions(
            flow=flow, status=status, limit=1_000_000 if derived else limit
        )
        infos = [self._summary(ex, now) for ex in rows]
        return [i for i in infos if status is None or i.status == status][:limit]

    def handle(self, execution_id: str) -> FlowHandle[Any]:
        return FlowHandle(self._store, self._store.get_execution(execution_id).id)

    def logs(self, execution_id: str) -> builtins.list[dict[str, Any]]:
        """Captured output and log records, oldest first. When none reached the store and the
        execution ran elsewhere (a container, a job), its orchestrator's own record of the
        unit's output (e.g. what a job printed before Kitaru started)."""
        from kitaru.runtime.logs import read_logs

        ex = self._store.get_execution(execution_id)
        records = read_logs(ex.id, self._store)
        if records or not ex.options.get("stack"):
            return records
        from kitaru.runtime.stacks import orchestrator_of_stack

        try:
            orchestrator = orchestrator_of_stack(str(ex.options["stack"]))
        except KitaruError:  # the stack is gone or its plugin missing: nothing more to read
            return records
        return [dict(line) for line in orchestrator.logs(ex.id)]

    # -- acting ---------------------------------------------------------------------------------
    def input(self, execution_id: str, value: Any, *, name: str | None = None) -> None:
        """Answer the pending wait; the execution resumes (a worker starts if none holds it)."""
        from kitaru.runtime.launch import ensure_progress

        if resolve_input(self._store, execution_id, value, name=name):
            ensure_progress(self._store, execution_id)

    def resume_failure(
        self, execution_id: str, *, since: float, timeout: float = 1.0
    ) -> ResumeError | None:
        """Watch an execution that was just handed to a worker (after ``input``): the
        worker's failure if it failed within ``timeout`` seconds, None once it holds the
        execution, moved on, or the time is up."""
        from kitaru.store.records import lease_is_live

        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            ex = self._store.get_execution(execution_id)
            failed = resume_error(ex.id, ex.metadata.get(RESUME_ERROR))
            if failed is not None and failed.at >= since:
                return failed
            if ex.status != "waiting" or lease_is_live(ex.lease_owner, ex.lease_expires,
                                                       time.time()):  # fmt: skip
                return None
            if time.monotonic() + delay > deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def abort(self, execution_id: str, *, name: str | None = None) -> None:
        """Refuse the pending wait: the execution is cancelled."""
        ex = self._store.get_execution(execution_id)
        rec = _pending(self._store, ex, name)
        if not self._store.resolve_wait(ex.pk, rec.call_id, serializer=None, type_name=None,
                                        value=None, meta={"aborted": True}, status="failed"):  # fmt: skip
            raise Conflict(f"wait {rec.call_id!r} of execution {ex.id} was already resolved",
                           hint=f"see `kitaru executions show {ex.id}`")  # fmt: skip
        cancel_execution(self._store, ex.id)

    def cancel(self, execution_id: str) -> None:
        cancel_execution(self._store, execution_id)

    def resume(self, execution_id: str, *, detach: bool = False) -> FlowHandle[Any]:
        """Finish a crashed or waiting execution in place (completed calls are not re-run)."""
        return self._continue(execution_id, "resume", detach)

    def retry(
        self, execution_id: str, *, detach: bool = False, max_cost_usd: float | None = None
    ) -> FlowHandle[Any]:
        """Resume a failed execution in place: the failed call runs again, completed calls
        (LLM calls included) do not. ``max_cost_usd`` replaces the execution's LLM budget."""
        ex = self._store.get_execution(execution_id)
        if ex.status != "failed":
            shown = display_status(ex, time.time())
            hint = (f"a {shown} execution continues where it stopped: "
                    f"`kitaru executions resume {ex.id}`" if shown in ("crashed", "waiting")
                    else "only failed executions can be retried")  # fmt: skip
            raise Conflict(f"execution {ex.id} is {shown}, not failed", hint=hint)
        if max_cost_usd is not None:
            if max_cost_usd < 0:
                raise UsageError(f"max_cost_usd must be >= 0, not {max_cost_usd}")
            self._store.update_options(ex.pk, {"max_cost_usd": float(max_cost_usd)})
        return self._continue(ex.id, "retry", detach)

    def _continue(self, execution_id: str, reason: str, detach: bool) -> FlowHandle[Any]:
        from kitaru.runtime.launch import STATUSES, launch
        from kitaru.runtime.runner import check_resumable

        ex = check_resumable(self._store, execution_id, STATUSES[reason])
        return FlowHandle._launched(launch(self._store, ex, reason, detach=detach))

    def replay(
        self,
        execution_id: str,
        *,
        from_: str | None = None,
        overrides: dict[str, Any] | None = None,
        detach: bool = False,
    ) -> FlowHandle[Any]:
        """A new execution of the same flow reusing this one's journal as a cache.

        ``from_`` forces that call and all after it to re-execute; ``overrides`` maps
        ``checkpoint.<call id>`` to a replacement output and ``flow.<param>`` to a new input.
        """
        from kitaru.replay import start_replay

        return start_replay(self._store, execution_id, from_=from_, overrides=overrides or {},
                            detach=detach)  # fmt: skip

    def diff(self, a: str, b: str) -> ExecutionDiff:
        """Compare two executions checkpoint by checkpoint (see :mod:`kitaru.diff`)."""
        from kitaru.diff import diff_call, diff_calls, diff_inputs, merge_order
        from kitaru.models import ExecutionDiff

        now = time.time()
        ea, eb = self._store.get_execution(a), self._store.get_execution(b)
        order_a, calls_a = _checkpoint_values(self._store, ea)
        order_b, calls_b = _checkpoint_values(self._store, eb)
        result = diff_call(
            "result", _result_value(self._store, ea), _result_value(self._store, eb), preview
        )
        return ExecutionDiff(
            a=ea.id, b=eb.id, flow_a=ea.flow, flow_b=eb.flow,
            status_a=display_status(ea, now), status_b=display_status(eb, now),
            inputs=diff_inputs(_inputs_data(ea), _inputs_data(eb)),
            checkpoints=diff_calls(merge_order(order_a, order_b), calls_a, calls_b, preview),
            result=result,
        )  # fmt: skip


class Artifacts:
    """``KitaruClient().artifacts``."""

    def __init__(self, store: MetadataStore, executions: Executions) -> None:
        self._store = store
        self._executions = executions

    def list(self, execution_id: str) -> list[ArtifactInfo]:
        return self._executions.get(execution_id).artifacts

    def load(self, execution_id: str, name: str) -> Any:
        """An artifact's value, as its type. A type defined in the script the execution ran
        (``__main__``) is found by loading that script, as a worker does."""
        from kitaru.artifacts import find_artifact
        from kitaru.runtime.runner import load_flow, value_io

        c = find_artifact(self._store, execution_id, name)
        ex = self._store.get_execution(execution_id)
        io = value_io(self._store, ex.options.get("stack"))
        try:
            return io.load(c.serializer or "json", c.type_name, c.value, c.ref)
        except (AttributeError, ImportError):
            if not (c.type_name or "").startswith("__main__"):
                raise
        load_flow(ex)  # the script, up to its first flow invocation; ConfigError if it is gone
        return io.load(c.serializer or "json", c.type_name, c.value, c.ref)

    def data(self, execution_id: str, name: str) -> Any:
        """An artifact's value as plain data, without its type: a pydantic model or a
        dataclass as the JSON it was stored as (nothing is imported or unpickled)."""
        import json

        from kitaru.artifacts import find_artifact
        from kitaru.runtime.runner import value_io

        c = find_artifact(self._store, execution_id, name)
        if c.serializer not in ("json", "pydantic", "dataclass"):
            raise UsageError(f"artifact {c.call_id!r} of execution {execution_id} is stored as "
                             f"{c.serializer}, not JSON",
                             hint=f"kitaru artifacts load {execution_id} {c.call_id}")  # fmt: skip
        stack = self._store.get_execution(execution_id).options.get("stack")
        return json.loads(value_io(self._store, stack).raw(c.value, c.ref))

    def show(self, execution_id: str, name: str, *, limit: int = 2000) -> ArtifactDetail:
        """An artifact's metadata with a longer preview (never unpickles); a large one's
        preview names its sha256 and ``location`` is its blob URI."""
        from kitaru.artifacts import find_artifact
        from kitaru.models import ArtifactDetail

        ex = self._store.get_execution(execution_id)
        c = find_artifact(self._store, ex.id, name)
        size = self._executions._size(c) or 0
        info = self._executions._artifact(ex.id, c, size)
        location = None
        long_preview = info.preview
        if c.ref is not None:
            try:
                location = self._store.get_blob(c.ref).uri
            except NotFound:
                location = None
        elif c.serializer is not None:
            long_preview = preview(c.serializer, c.value or b"", limit=limit)
        return ArtifactDetail(info, c.status, c.ended_at, long_preview, location)


class Deployments:
    """``KitaruClient().deployments``: versions, tags, invocation."""

    def __init__(self, store: MetadataStore) -> None:
        self._store = store

    def list(self, flow: str | None = None) -> builtins.list[Any]:
        return self._store.list_deployments(flow)  # type: ignore[attr-defined]

    def get(self, flow: str, *, tag: str | None = None, version: int | None = None) -> Any:
        from kitaru.deployments import resolve

        return resolve(flow, tag=tag, version=version, store=self._store)

    def tag(self, flow: str, tag: str, version: int) -> None:
        from kitaru.deployments import set_tag

        set_tag(flow, tag, version, store=self._store)

    def invoke(
        self, flow: str, inputs: dict[str, Any] | None = None, *, tag: str | None = None,
        version: int | None = None,
    ) -> FlowHandle[Any]:  # fmt: skip
        """Start an execution of a deployed version (default tag ``default``)."""
        from kitaru.deployments import invoke

        return invoke(flow, inputs, tag=tag, version=version, store=self._store)


class KitaruClient:
    """Programmatic access to executions, artifacts and memory."""

    def __init__(self, store: MetadataStore | None = None) -> None:
        from kitaru.store import default_store

        self._store = store or default_store()
        self.executions = Executions(self._store)
        self.artifacts = Artifacts(self._store, self.executions)
        self.deployments = Deployments(self._store)

    @property
    def store(self) -> MetadataStore:
        """The metadata store this client reads (embedded, PostgreSQL, or a server's)."""
        return self._store

    @property
    def memory(self) -> Any:
        """``kitaru.memory`` (``set/get/list/history/delete``) on the process's store (a client of
        another store, e.g. a server's, will get its own when the server lands)."""
        from kitaru import memory

        return memory


# -- values for diffs (stored form: nothing is unpickled) ----------------------------------------
def _stored_value(
    store: MetadataStore, stack: str | None, serializer: str | None, type_name: str | None,
    value: bytes | None, ref: str | None,
) -> StoredValue | None:  # fmt: skip
    from kitaru.diff import StoredValue
    from kitaru.runtime.runner import value_io

    if serializer is None:
        return None
    try:
        data = value_io(store, stack).raw(value, ref)
    except NotFound:  # missing or corrupted blob: compare by its recorded hash
        try:
            size: int | None = store.get_blob(ref).size if ref else None
        except NotFound:
            size = None
        return StoredValue(serializer, type_name, None, ref, size)
    return StoredValue.of(serializer, type_name, data)


def _checkpoint_values(
    store: MetadataStore, ex: Execution
) -> tuple[list[str], dict[str, tuple[str, StoredValue | None]]]:
    stack = ex.options.get("stack")
    calls = sorted(store.load_journal(ex.pk).values(), key=lambda c: c.seq)
    out = {
        _diff_key(c): (c.status, _stored_value(store, stack, c.serializer, c.type_name, c.value,
                                               c.ref))
        for c in calls if c.kind in (CHECKPOINT, WAIT, SAVE, LLM)
    }  # fmt: skip
    return list(out), out


def _diff_key(c: Call) -> str:
    """Checkpoints by call id; the rest by kind too (``wait:approve``, ``save:report``,
    ``llm:research/llm``: the answer and its prompt), so names never collide."""
    return c.call_id if c.kind == CHECKPOINT else f"{c.kind}:{c.call_id}"


def _result_value(store: MetadataStore, ex: Execution) -> tuple[str, StoredValue | None]:
    status = display_status(ex, time.time())
    if ex.result is None:
        return (status, None)
    ser, type_name, value, ref = ex.result
    return (status, _stored_value(store, ex.options.get("stack"), ser, type_name, value, ref))


def _inputs_data(ex: Execution) -> dict[str, Any]:
    """Flow inputs as JSON-like data; opaque ones (bytes, pickle, ...) by serializer and hash."""
    import hashlib

    out: dict[str, Any] = {}
    for key, (ser, type_name, data) in ex.inputs.items():
        if ser == "str":
            out[key] = data
        elif ser in ("json", "pydantic", "dataclass"):
            out[key] = json.loads(data)
        else:
            out[key] = {"serializer": ser, "type": type_name,
                        "sha256": hashlib.sha256(str(data).encode()).hexdigest()}  # fmt: skip
    return out
