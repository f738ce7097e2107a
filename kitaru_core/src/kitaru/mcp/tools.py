"""The execution tools: list, get, logs, diff, wait; input, abort, cancel, resume, retry,
replay; run a flow from a file; invoke a deployment.

Each tool is the CLI command of the same name in a function: the same ``KitaruClient`` calls
and ``kitaru.server.actions`` (validated, journaled and fenced the same way as through the CLI,
REST and the dashboard), the same error messages. What runs again is handed to a worker, as
REST does; ``wait=true`` then waits for the execution to end or reach a wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import Field

from kitaru.mcp import schemas
from kitaru.mcp.outcome import MAX_WAIT, outcome, pending

if TYPE_CHECKING:
    from kitaru.client import KitaruClient

F = TypeVar("F", bound=Callable[..., Any])

#: where a tool is offered: everywhere, or only to a local agent (``kitaru mcp``)
Where = Literal["any", "local", "server"]


@dataclass(frozen=True)
class Marks:
    """How a tool is offered: ``writes`` (left out by ``--read-only``), ``where``, and the
    role it needs on the server (every tool but the admin ones: any key, as in REST)."""

    writes: bool
    where: Where = "any"
    admin: bool = False


def tool(*, writes: bool, where: Where = "any", admin: bool = False) -> Callable[[F], F]:
    """Mark a method of a toolbox as a tool (its name, docstring and signature are the tool's)."""

    def mark(fn: F) -> F:
        fn.__kitaru_tool__ = Marks(writes, where, admin)  # type: ignore[attr-defined]
        return fn

    return mark


ExecutionId = Annotated[str, Field(description="an execution id, or a unique prefix of one")]
Wait = Annotated[bool, Field(description="wait until the execution ends or reaches a wait "
                             "for input (at most timeout_s)")]  # fmt: skip
Timeout = Annotated[float, Field(ge=0, le=MAX_WAIT, description="seconds to wait at most")]
Status = Literal["pending", "running", "waiting", "completed", "failed", "cancelled", "crashed"]
Inputs = Annotated[dict[str, Any] | None, Field(description="the flow's parameters")]


class ExecutionTools:
    """Tools over executions; ``runner`` is ``kitaru serve``'s in-process runner (or None)."""

    client: KitaruClient
    runner: Any

    # -- reading ----------------------------------------------------------------------------------
    @tool(writes=False)
    def executions_list(
        self,
        flow: Annotated[str | None, Field(description="only executions of this flow")] = None,
        status: Annotated[Status | None, Field(description="only in this status")] = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 50,
    ) -> schemas.Executions:
        """List executions, newest first (`kitaru executions list`)."""
        infos = self.client.executions.list(flow=flow, status=status, limit=limit)
        return schemas.Executions(executions=[schemas.Execution.of(i.to_dict()) for i in infos])

    @tool(writes=False)
    def executions_get(self, execution_id: ExecutionId) -> schemas.ExecutionDetail:
        """One execution: status, times, error, the wait it is blocked on (with an example
        answer), checkpoints, LLM calls and usage, waits, failed attempts, artifacts
        (`kitaru executions show`)."""
        info = self.client.executions.get(execution_id)
        data = info.to_dict()
        data["pending_wait"] = None
        if info.status == "waiting":
            wait = pending(self.client.executions.handle(info.id))
            data["pending_wait"] = wait.model_dump() if wait else None
        return schemas.ExecutionDetail.of(data)

    @tool(writes=False)
    def executions_logs(
        self,
        execution_id: ExecutionId,
        tail: Annotated[int | None, Field(ge=1, description="only the last N records")] = None,
    ) -> schemas.Logs:
        """An execution's captured output and log records, oldest first
        (`kitaru executions logs`)."""
        full = self.client.executions.handle(execution_id).id
        records = self.client.executions.logs(full)
        if tail is not None:
            records = records[-tail:]
        return schemas.Logs(execution_id=full,
                            records=[schemas.LogRecord.of(r) for r in records])  # fmt: skip

    @tool(writes=False)
    def executions_diff(self, a: ExecutionId, b: ExecutionId) -> schemas.Diff:
        """Compare two executions checkpoint by checkpoint: inputs, each call id (same,
        changed, only in A or B, with a text or structural diff), the result
        (`kitaru executions diff`)."""
        d = self.client.executions.diff(a, b)
        return schemas.Diff.of({**d.to_dict(), "changed": d.changed})

    @tool(writes=False)
    def executions_wait(
        self, execution_id: ExecutionId, timeout_s: Timeout = 30.0
    ) -> schemas.Outcome:
        """Wait until an execution ends, crashes or reaches a wait for input (at most
        timeout_s), then say where it stands. Only watches: it never runs or holds it."""
        handle = self.client.executions.handle(execution_id)
        return outcome(self.client, handle, "", wait=True, timeout=timeout_s)

    # -- acting -----------------------------------------------------------------------------------
    @tool(writes=True)
    def executions_input(
        self,
        execution_id: ExecutionId,
        value: Annotated[
            Any,
            Field(
                description="the answer, validated against the wait's "
                "input_schema (see executions_get)"
            ),
        ],
        name: Annotated[
            str | None, Field(description="the wait to answer (default: the pending one)")
        ] = None,
        wait: Wait = False,
        timeout_s: Timeout = 30.0,
    ) -> schemas.Outcome:
        """Answer an execution's pending wait; it then resumes in a worker
        (`kitaru executions input --value`)."""
        from kitaru.errors import KitaruError
        from kitaru.server import actions

        ex = self.client.executions
        handle = ex.handle(execution_id)
        waiting = handle.pending_wait
        shown = name or (waiting.name if waiting else None)
        since = time.time()
        actions.give_input(self.client, self.runner, handle.id, value, name)
        failed = ex.resume_failure(handle.id, since=since)
        if failed is not None:  # the input is stored; what was to run the execution failed
            raise KitaruError(f"resolved wait {shown!r} of {handle.id}, but the execution could "
                              f"not resume: {failed.message}", hint=failed.hint)  # fmt: skip
        return outcome(self.client, handle, f"resolved wait {shown!r} of {handle.id}; the "
                       "execution resumes", wait=wait, timeout=timeout_s)  # fmt: skip

    @tool(writes=True)
    def executions_abort(
        self,
        execution_id: ExecutionId,
        name: Annotated[
            str | None, Field(description="the wait (default: the pending one)")
        ] = None,
    ) -> schemas.Outcome:
        """Refuse an execution's pending wait: the execution is cancelled
        (`kitaru executions input --abort`)."""
        from kitaru.validation import check_text

        check_text(name, "wait name")
        handle = self.client.executions.handle(execution_id)
        waiting = handle.pending_wait
        shown = name or (waiting.name if waiting else None)
        self.client.executions.abort(handle.id, name=name)
        return outcome(self.client, handle, f"aborted wait {shown!r} of {handle.id}; the "
                       "execution is cancelled")  # fmt: skip

    @tool(writes=True)
    def executions_cancel(self, execution_id: ExecutionId) -> schemas.Outcome:
        """Cancel an execution: in-flight checkpoints finish, nothing new starts
        (`kitaru executions cancel`)."""
        handle = self.client.executions.handle(execution_id)
        self.client.executions.cancel(handle.id)
        return outcome(self.client, handle, f"cancelled execution {handle.id}")

    @tool(writes=True)
    def executions_resume(
        self, execution_id: ExecutionId, wait: Wait = False, timeout_s: Timeout = 30.0
    ) -> schemas.Outcome:
        """Resume a crashed (or waiting) execution in place, in a worker: completed
        checkpoints do not run again (`kitaru executions resume --detach`)."""
        handle = self.client.executions.resume(execution_id, detach=True)
        return outcome(self.client, handle, f"resuming execution {handle.id}", wait=wait,
                       timeout=timeout_s)  # fmt: skip

    @tool(writes=True)
    def executions_retry(
        self,
        execution_id: ExecutionId,
        max_cost_usd: Annotated[
            float | None, Field(ge=0, description="a new LLM budget for the execution")
        ] = None,
        wait: Wait = False,
        timeout_s: Timeout = 30.0,
    ) -> schemas.Outcome:
        """Retry a failed execution in place, in a worker: the failed call runs again,
        completed ones (LLM calls included) do not (`kitaru executions retry --detach`)."""
        handle = self.client.executions.retry(execution_id, detach=True,
                                              max_cost_usd=max_cost_usd)  # fmt: skip
        return outcome(self.client, handle, f"retrying execution {handle.id}", wait=wait,
                       timeout=timeout_s)  # fmt: skip

    @tool(writes=True)
    def executions_replay(
        self,
        execution_id: ExecutionId,
        from_call: Annotated[
            str | None, Field(description="re-execute this call id and every call after it")
        ] = None,
        overrides: Annotated[
            dict[str, Any] | None,
            Field(
                description="`checkpoint.<call id>` -> a replacement output, `flow.<param>` -> a "
                "new input (JSON values of the annotated types)"
            ),
        ] = None,
        wait: Wait = False,
        timeout_s: Timeout = 30.0,
    ) -> schemas.Outcome:
        """Replay an execution as a new one that reuses its journal as a cache, in a worker
        (`kitaru executions replay --detach`). Everything is checked before anything starts."""
        from kitaru.server import actions

        source = self.client.executions.handle(execution_id).id
        new = actions.replay(self.client, source, from_call, overrides or {})
        handle = self.client.executions.handle(new)
        return outcome(self.client, handle, f"execution {new} started (replay of {source})",
                       wait=wait, timeout=timeout_s)  # fmt: skip

    @tool(writes=True, where="local")
    def flows_run(
        self,
        target: Annotated[
            str,
            Field(
                description="FILE.py:FLOW (FILE.py alone when it defines "
                "one flow), relative to the MCP server's directory"
            ),
        ],
        inputs: Inputs = None,
        wait: Wait = False,
        timeout_s: Timeout = 30.0,
    ) -> schemas.Outcome:
        """Run a flow defined in a Python file, in a worker (`kitaru run --detach`)."""
        from kitaru.errors import UsageError
        from kitaru.flow import load_flow as resolve_flow
        from kitaru.runtime.launch import launch, new_execution
        from kitaru.store.sqlite import new_execution_id

        if inputs is not None and not isinstance(inputs, dict):
            raise UsageError("inputs must be an object of the flow's keyword arguments")
        flow_obj = resolve_flow(target)
        execution_id = new_execution_id()
        new = new_execution(flow_obj, flow_obj.bind((), inputs or {}), store=self.client.store,
                            execution_id=execution_id)  # fmt: skip
        launch(new.store, new, "run", detach=True, flow=flow_obj)
        handle = self.client.executions.handle(execution_id)
        return outcome(self.client, handle, f"execution {execution_id} started", wait=wait,
                       timeout=timeout_s)  # fmt: skip

    @tool(writes=True)
    def deployments_invoke(
        self,
        flow: Annotated[str, Field(description="the deployed flow's name")],
        inputs: Inputs = None,
        tag: Annotated[
            str | None, Field(description="which version, by tag (default: `default`)")
        ] = None,
        version: Annotated[int | None, Field(ge=1, description="which version, by number")] = None,
        wait: Wait = False,
        timeout_s: Timeout = 30.0,
    ) -> schemas.Outcome:
        """Run a deployed flow by tag or version; its inputs are checked against the
        deployment's parameters first (`kitaru invoke`)."""
        from kitaru.server import actions

        found, _ = actions.invoke(self.client, self.runner, flow, inputs or {}, tag, version)
        handle = self.client.executions.handle(found)
        return outcome(self.client, handle, f"execution {found} started", wait=wait,
                       timeout=timeout_s)  # fmt: skip
