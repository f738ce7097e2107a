"""Deployments (versions, tags, move a tag, invoke from a form with the equivalent curl and
CLI lines) and memory (scopes, keys, values, history)."""

from __future__ import annotations

import json
import shlex
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from kitaru.errors import KitaruError, NotFound
from kitaru.server import actions
from kitaru.server.dashboard import schema_form
from kitaru.server.dashboard.session import Session
from kitaru.server.dashboard.web import Dashboard, go


def commands(base_url: str, flow: str, inputs: dict[str, Any], tag: str) -> dict[str, str]:
    """The CLI line and the curl line that invoke the same thing as the form."""
    body = json.dumps({"inputs": inputs, "tag": tag})
    return {
        "cli": f"kitaru invoke {shlex.quote(flow)} --tag {shlex.quote(tag)} "
               f"--input {shlex.quote(json.dumps(inputs))}",
        "curl": f"curl -s -X POST {base_url}/api/v1/deployments/{flow}/invoke \\\n"
                f'  -H "Authorization: Bearer $KITARU_API_KEY" '
                f"-H 'Content-Type: application/json' \\\n  -d {shlex.quote(body)}",
    }  # fmt: skip


def add(r: APIRouter, dash: Dashboard) -> None:
    viewer, actor = Depends(dash.viewer), Depends(dash.actor)
    deployments = dash.client.deployments

    @r.get("/deployments")
    def deployment_list(session: Session = viewer) -> Response:
        flows: dict[str, list[Any]] = {}
        for d in deployments.list():
            flows.setdefault(d.flow, []).append(d)
        return dash.page(session, "deployments.html", nav="deployments", flows=flows)

    def flow_page(request: Request, session: Session, flow: str, status: int = 200,
                  error: KitaruError | None = None, posted: dict[str, str] | None = None,
                  ) -> Response:  # fmt: skip
        versions = deployments.list(flow)
        if not versions:
            raise NotFound(f"flow {flow!r} has no deployments",
                           hint=f"deploy it first: kitaru deploy FILE.py:{flow}")  # fmt: skip
        current = next((d for d in versions if "default" in d.tags), versions[-1])
        form = schema_form.build(current.parameters, "inputs", "inputs")
        example = {f.name.partition(".")[2]: f"<{f.kind}>" for f in schema_form.flatten(form)}
        base = str(request.base_url).rstrip("/")
        return dash.page(session, "deployment.html", status, nav="deployments", flow=flow,
                         versions=list(reversed(versions)), current=current, form=form,
                         lines=commands(base, flow, example, "default"), form_error=error,
                         posted=posted or {})  # fmt: skip

    @r.get("/deployments/{flow}")
    def deployment(request: Request, flow: str, session: Session = viewer) -> Response:
        return flow_page(request, session, flow)

    @r.post("/deployments/{flow}/tag")
    async def move_tag(request: Request, flow: str, session: Session = actor) -> Response:
        form = await request.form()
        deployments.tag(flow, str(form.get("tag", "")).strip(), int(str(form.get("version"))))
        return go(f"/deployments/{flow}")

    @r.post("/deployments/{flow}/invoke")
    async def invoke(request: Request, flow: str, session: Session = actor) -> Response:
        posted = {k: str(v) for k, v in (await request.form()).items()}
        tag = posted.get("tag") or None
        version = int(posted["version"]) if posted.get("version", "").isdigit() else None
        try:
            current = deployments.get(flow, tag=None if version else tag, version=version)
            inputs = schema_form.read(schema_form.build(current.parameters, "inputs"), posted)
            found, _ = actions.invoke(dash.client, dash.runner, flow, inputs or {},
                                      None if version else tag, version)  # fmt: skip
        except KitaruError as exc:
            return flow_page(request, session, flow, 422, exc, posted)
        return go(f"/executions/{found}")

    # -- memory -----------------------------------------------------------------------------------
    from kitaru import memory

    def where(scope: str, name: str) -> dict[str, Any]:
        if scope not in ("namespace", "flow", "execution"):
            raise NotFound(f"no memory scope {scope!r}", hint="namespace, flow or execution")
        return {"scope": scope, scope: name}

    @r.get("/memory")
    def memory_scopes(session: Session = viewer) -> Response:
        scopes = dash.client.store.memory_scopes()
        return dash.page(session, "memory.html", nav="memory", scopes=scopes)

    @r.get("/memory/{scope}/{name}")
    def memory_scope(scope: str, name: str, session: Session = viewer) -> Response:
        entries = memory.entries(**where(scope, name))
        return dash.page(session, "memory_scope.html", nav="memory", scope=scope, name=name,
                         entries=entries)  # fmt: skip

    @r.get("/memory/{scope}/{name}/{key}")
    def memory_key(scope: str, name: str, key: str, session: Session = viewer) -> Response:
        history = memory.history(key, **where(scope, name))
        return dash.page(session, "memory_key.html", nav="memory", scope=scope, name=name,
                         key=key, history=list(reversed(history)))  # fmt: skip
