"""Steering executions from the browser: answer or abort a wait, cancel, resume, retry, replay
(a form: from which call, overrides of checkpoint outputs and flow inputs) and diff two runs.

Each POST calls what ``POST /api/v1/executions/...`` calls, then shows the execution again.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from kitaru.errors import KitaruError, UsageError
from kitaru.server import actions
from kitaru.server.dashboard import schema_form
from kitaru.server.dashboard.pages_executions import detail_context
from kitaru.server.dashboard.session import Session
from kitaru.server.dashboard.web import Dashboard, go


def replay_request(form: dict[str, str]) -> tuple[str | None, dict[str, Any]]:
    """``(from, overrides)`` from the replay form: ``cp:<call id>`` and ``in:<param>`` fields
    hold JSON; an empty one overrides nothing."""
    overrides: dict[str, Any] = {}
    for key, raw in form.items():
        kind, _, target = key.partition(":")
        if kind not in ("cp", "in") or not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise UsageError(f"{target}: not valid JSON ({exc})",
                             hint='strings need quotes: "like this"') from None  # fmt: skip
        overrides[("checkpoint." if kind == "cp" else "flow.") + target] = value
    return form.get("from") or None, overrides


def add(r: APIRouter, dash: Dashboard) -> None:
    actor = Depends(dash.actor)
    viewer = Depends(dash.viewer)
    ex = dash.client.executions

    async def fields(request: Request) -> dict[str, str]:
        return {k: str(v) for k, v in (await request.form()).items()}

    @r.post("/executions/{execution_id}/input")
    async def give_input(request: Request, execution_id: str, session: Session = actor) -> Response:
        """The pending wait's form, read by its schema, validated again by the wait itself."""
        form = await fields(request)
        info = ex.get(execution_id)
        wait = info.pending_wait
        if wait is None:
            raise UsageError(f"execution {info.id} has no pending wait")
        try:
            value = schema_form.read(schema_form.build(wait.schema), form)
            actions.give_input(dash.client, dash.runner, info.id, value, wait.call_id)
        except KitaruError as exc:  # shown on the form, what was typed kept
            ctx = detail_context(dash, info.id)
            return dash.page(session, "execution.html", 422, nav="executions", form_error=exc,
                             posted=form, **ctx)  # fmt: skip
        return go(f"/executions/{info.id}")

    @r.post("/executions/{execution_id}/abort")
    def abort(execution_id: str, session: Session = actor) -> Response:
        ex.abort(execution_id)
        return go(f"/executions/{execution_id}")

    @r.post("/executions/{execution_id}/cancel")
    def cancel(execution_id: str, session: Session = actor) -> Response:
        ex.cancel(execution_id)
        return go(f"/executions/{execution_id}")

    def followed(execution_id: str, status: str) -> Response:
        """The execution's page, following it until its worker takes it (a moment)."""
        dash.follow(execution_id, status)
        return go(f"/executions/{execution_id}")

    @r.post("/executions/{execution_id}/resume")
    def resume(execution_id: str, session: Session = actor) -> Response:
        status = ex.get(execution_id).status  # crashed or waiting
        return followed(ex.resume(execution_id, detach=True).id, status)

    @r.post("/executions/{execution_id}/retry")
    async def retry(request: Request, execution_id: str, session: Session = actor) -> Response:
        budget = (await fields(request)).get("max_cost_usd", "").strip()
        handle = ex.retry(execution_id, detach=True,
                          max_cost_usd=float(budget) if budget else None)  # fmt: skip
        return followed(handle.id, "failed")

    @r.get("/executions/{execution_id}/replay")
    def replay_form(execution_id: str, session: Session = viewer) -> Response:
        info = ex.get(execution_id)
        source = dash.client.store.get_execution(info.id)
        # current inputs as JSON, shown as placeholders (an empty field keeps the input)
        inputs = {k: json.dumps(v[2]) if v[0] == "str" else v[2] if v[0] == "json" else
                  f"<{v[0]} value>" for k, v in source.inputs.items()}  # fmt: skip
        return dash.page(session, "replay.html", nav="executions", ex=info, inputs=inputs)

    @r.post("/executions/{execution_id}/replay")
    async def replay(request: Request, execution_id: str, session: Session = actor) -> Response:
        from_, overrides = replay_request(await fields(request))
        return go(f"/executions/{actions.replay(dash.client, execution_id, from_, overrides)}")

    @r.get("/diff")
    def diff(a: str = "", b: str = "", session: Session = viewer) -> Response:
        d = ex.diff(a.strip(), b.strip()) if a.strip() and b.strip() else None
        return dash.page(session, "diff.html", nav="executions", d=d, a=a, b=b)
