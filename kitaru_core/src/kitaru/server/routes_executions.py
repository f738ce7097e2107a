"""REST routes for what ``KitaruClient`` does: executions, waits, artifacts, memory, stacks.

Each route is a thin call into the client or the memory API over the server's store; results
are the same models the client returns, as JSON. Executions that need to run again (input to a
released wait, resume, retry, replay) are handed to a worker on the server's machine through
the execution's stack, as the CLI does with ``--detach``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, Field

from kitaru.store.base import MetadataStore
from kitaru.validation import check_text, check_unicode

Scope = Literal["namespace", "flow", "execution"]


class WaitInput(BaseModel):
    value: Any = Field(description="the input, validated against the wait's schema")
    name: str | None = Field(default=None, description="the wait to answer (default: pending)")


class AbortInput(BaseModel):
    name: str | None = None


class RetryInput(BaseModel):
    max_cost_usd: float | None = Field(default=None, ge=0)


class ReplayInput(BaseModel):
    from_: str | None = Field(default=None, alias="from")
    overrides: dict[str, Any] = Field(default_factory=dict)


class Invocation(BaseModel):
    inputs: dict[str, Any] = Field(default_factory=dict, description="the flow's parameters")
    tag: str | None = Field(default=None, description="default: the `default` tag")
    version: int | None = Field(default=None, ge=1)


class MemoryValue(BaseModel):
    value: Any
    if_version: int | None = Field(default=None, ge=0)


def add(api: APIRouter, store: MetadataStore, runner: Any = None) -> None:
    from kitaru.client import KitaruClient
    from kitaru.server import actions

    client = KitaruClient(store)
    ex = client.executions

    # -- executions -------------------------------------------------------------------------------
    @api.get("/executions", tags=["executions"])
    def list_executions(
        flow: str | None = None, status: str | None = None, limit: int = Query(50, ge=1, le=1000)
    ) -> list[dict[str, Any]]:
        """Newest first; ``status=crashed`` lists running executions whose worker died."""
        return [i.to_dict() for i in ex.list(flow=flow, status=status, limit=limit)]

    @api.get("/executions/{execution_id}", tags=["executions"])
    def get_execution(execution_id: str) -> dict[str, Any]:
        """One execution with its checkpoints, LLM calls, waits, attempts and artifacts."""
        return ex.get(execution_id).to_dict()

    @api.post("/executions/{execution_id}/input", tags=["waits"])
    def give_input(execution_id: str, body: WaitInput) -> dict[str, Any]:
        """Answer the pending wait; the execution resumes."""
        return {"status": actions.give_input(client, runner, execution_id, body.value, body.name)}

    @api.post("/executions/{execution_id}/abort", tags=["waits"])
    def abort(execution_id: str, body: AbortInput) -> dict[str, Any]:
        """Refuse the pending wait: the execution is cancelled."""
        check_text(body.name, "wait name")
        ex.abort(execution_id, name=body.name)
        return {"status": "cancelled"}

    @api.post("/executions/{execution_id}/cancel", tags=["executions"])
    def cancel(execution_id: str) -> dict[str, Any]:
        ex.cancel(execution_id)
        return {"status": "cancelled"}

    @api.post("/executions/{execution_id}/resume", tags=["executions"])
    def resume(execution_id: str) -> dict[str, Any]:
        """Finish a crashed or waiting execution in place, in a worker on the server."""
        return {"id": ex.resume(execution_id, detach=True).id}

    @api.post("/executions/{execution_id}/retry", tags=["executions"])
    def retry(execution_id: str, body: RetryInput) -> dict[str, Any]:
        """Retry a failed execution in place (optionally with a new LLM budget)."""
        return {"id": ex.retry(execution_id, detach=True, max_cost_usd=body.max_cost_usd).id}

    @api.post("/executions/{execution_id}/replay", tags=["executions"])
    def replay(execution_id: str, body: ReplayInput) -> dict[str, Any]:
        """A new execution reusing this one's journal (``from``, ``overrides`` as in the CLI)."""
        return {"id": actions.replay(client, execution_id, body.from_, body.overrides)}

    @api.get("/executions/{a}/diff/{b}", tags=["executions"])
    def diff(a: str, b: str) -> dict[str, Any]:
        """Compare two executions checkpoint by checkpoint."""
        return ex.diff(a, b).to_dict()

    @api.get("/executions/{execution_id}/logs", tags=["executions"])
    def logs(execution_id: str) -> list[dict[str, Any]]:
        """Captured output of executions that ran on the server's machine."""
        return ex.logs(execution_id)

    # -- artifacts --------------------------------------------------------------------------------
    @api.get("/executions/{execution_id}/artifacts", tags=["artifacts"])
    def artifacts(execution_id: str) -> list[dict[str, Any]]:
        return [a.to_dict() for a in client.artifacts.list(execution_id)]

    @api.get("/executions/{execution_id}/artifacts/{name:path}", tags=["artifacts"])
    def artifact(execution_id: str, name: str) -> dict[str, Any]:
        """An artifact's metadata and a longer preview (values are never unpickled)."""
        return client.artifacts.show(execution_id, name).to_dict()

    # -- memory -----------------------------------------------------------------------------------
    from kitaru import memory

    def where(scope: Scope, name: str) -> dict[str, Any]:
        return {"scope": scope, scope: name}

    @api.get("/memory", tags=["memory"])
    def memory_scopes() -> list[dict[str, Any]]:
        return [{"scope": s, "name": k, "keys": n} for s, k, n in store.memory_scopes()]

    @api.get("/memory/{scope}/{name}", tags=["memory"])
    def memory_list(scope: Scope, name: str) -> list[dict[str, Any]]:
        return [e.to_dict() for e in memory.entries(**where(scope, name))]

    @api.get("/memory/{scope}/{name}/{key}", tags=["memory"])
    def memory_get(scope: Scope, name: str, key: str, version: int | None = None) -> Any:
        from kitaru.errors import NotFound

        missing = object()
        value = memory.get(key, missing, version=version, **where(scope, name))
        if value is missing:
            raise NotFound(f"memory key {key!r} ({scope} {name!r}) does not exist")
        from kitaru.client import to_jsonable

        return {"key": key, "value": to_jsonable(value)}

    @api.put("/memory/{scope}/{name}/{key}", tags=["memory"])
    def memory_set(scope: Scope, name: str, key: str, body: MemoryValue) -> dict[str, Any]:
        check_unicode(body.value, "value")
        version = memory.set(key, body.value, if_version=body.if_version, **where(scope, name))
        return {"key": key, "version": version}

    @api.delete("/memory/{scope}/{name}/{key}", tags=["memory"])
    def memory_delete(scope: Scope, name: str, key: str) -> dict[str, Any]:
        return {"key": key, "version": memory.delete(key, **where(scope, name))}

    @api.get("/memory/{scope}/{name}/{key}/history", tags=["memory"])
    def memory_history(scope: Scope, name: str, key: str) -> list[dict[str, Any]]:
        return [v.to_dict() for v in memory.history(key, **where(scope, name))]

    # -- deployments ----------------------------------------------------------------------------
    @api.get("/deployments", tags=["deployments"])
    def deployments(flow: str | None = None) -> list[dict[str, Any]]:
        import dataclasses

        return [dataclasses.asdict(d) for d in client.deployments.list(flow)]

    @api.post("/deployments/{flow}/invoke", tags=["deployments"])
    def invoke(
        flow: str, body: Invocation, traceparent: str | None = Header(default=None)
    ) -> dict[str, Any]:
        """Start an execution of a deployed version; the inputs are checked first. With a W3C
        `traceparent` header, the execution's spans join the caller's trace (an invalid header
        is ignored)."""
        from kitaru.tracecontext import valid_traceparent

        found, status = actions.invoke(client, runner, flow, body.inputs, body.tag, body.version,
                                       traceparent=valid_traceparent(traceparent))  # fmt: skip
        return {"id": found, "status": status}

    # -- stacks -----------------------------------------------------------------------------------
    @api.get("/stacks", tags=["stacks"])
    def stacks() -> list[dict[str, Any]]:
        from kitaru.stack.registry import list_stacks

        return [s.model_dump() for s in list_stacks()]

    @api.get("/components", tags=["stacks"])
    def components(type: str | None = None) -> list[dict[str, Any]]:
        """Registered components (configs as written: secret references, never values)."""
        from kitaru.stack.registry import list_components

        return [c.to_dict() for c in list_components(type)]
