"""Reading executions: the list (filters, counts, keyset pages, live), one execution (timeline,
calls, LLM cost, waits, error, artifacts, logs with live tail) and artifact downloads."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from kitaru.models import ExecutionInfo
from kitaru.server.dashboard import charts, schema_form, timeline
from kitaru.server.dashboard.session import Session
from kitaru.server.dashboard.web import Dashboard
from kitaru.store.listing import ExecutionFilter, count_by_status, page_executions

STATUSES = ("queued", "pending", "running", "waiting", "completed", "failed", "cancelled",
            "crashed")  # fmt: skip
LIVE = ("queued", "pending", "running", "waiting")
PAGE = 50


def _time(value: str | None) -> float | None:
    """A ``datetime-local`` or date input as epoch seconds (local time); None when empty."""
    if not value:
        return None
    return dt.datetime.fromisoformat(value).timestamp()


def list_filter(q: dict[str, str]) -> ExecutionFilter:
    status = q.get("status") or None
    return ExecutionFilter(flow=q.get("flow") or None,
                           status=status if status in STATUSES else None,
                           stack=q.get("stack") or None, text=(q.get("q") or "").strip() or None,
                           since=_time(q.get("since")), until=_time(q.get("until")))  # fmt: skip


def list_context(dash: Dashboard, q: dict[str, str]) -> dict[str, Any]:
    """Rows of one page, counts per status, and the cursor of the next page."""
    f = list_filter(q)
    before = int(q["before"]) if q.get("before", "").isdigit() else None
    store = dash.client.store
    rows = page_executions(store, f, before_pk=before, limit=PAGE + 1)
    now = time.time()
    summaries = [dash.client.executions._summary(e, now) for e in rows[:PAGE]]
    query = {k: v for k, v in q.items() if v and k != "before"}
    return {
        "rows": summaries, "counts": count_by_status(store, f), "filters": q,
        "next_before": rows[PAGE - 1].pk if len(rows) > PAGE else None, "query": query,
        "live": any(s.status in LIVE for s in summaries), "first_page": before is None,
        "statuses": STATUSES, "stacks": {e.id: e.options.get("stack") or "" for e in rows},
    }  # fmt: skip


def detail_context(dash: Dashboard, execution_id: str) -> dict[str, Any]:
    info: ExecutionInfo = dash.client.executions.get(execution_id)
    wait = info.pending_wait
    return {
        "ex": info, "timeline": timeline.svg(info),
        "cost_chart": charts.bars(charts.per_checkpoint(info), "cost and tokens per checkpoint"),
        "wait_form": schema_form.build(wait.schema) if wait is not None else None,
        "live": info.status in LIVE or dash.follows(info.id, info.status),
        "fingerprint": fingerprint(info),
        "stack": dash.client.store.get_execution(info.id).options.get("stack") or "",
    }  # fmt: skip


def fingerprint(info: ExecutionInfo) -> str:
    """Changes whenever the page would: status and the journal's length and last record."""
    last = info.calls[-1] if info.calls else None
    return f"{info.status}:{len(info.calls)}:{last.status if last else ''}"


def add(r: APIRouter, dash: Dashboard) -> None:
    viewer = Depends(dash.viewer)

    @r.get("/")
    def executions(request: Request, session: Session = viewer) -> Response:
        q = dict(request.query_params)
        return dash.page(session, "executions.html", nav="executions", **list_context(dash, q))

    @r.get("/executions/rows")
    def rows(request: Request, session: Session = viewer) -> Response:
        """The list's results alone (htmx: filters, live refresh)."""
        q = dict(request.query_params)
        return dash.page(session, "_rows.html", **list_context(dash, q))

    @r.get("/executions/{execution_id}")
    def execution(execution_id: str, session: Session = viewer) -> Response:
        ctx = detail_context(dash, execution_id)
        return dash.page(session, "execution.html", nav="executions", **ctx)

    @r.get("/executions/{execution_id}/changed")
    def changed(execution_id: str, seen: str = "", session: Session = viewer) -> Response:
        """204 while nothing changed; else htmx reloads the page (the page follows the run)."""
        info = dash.client.executions.get(execution_id)
        if fingerprint(info) == seen:
            return Response(status_code=204)
        return Response(status_code=200, headers={"HX-Refresh": "true"})

    @r.get("/executions/{execution_id}/logs")
    def logs(execution_id: str, offset: int = 0, session: Session = viewer) -> Response:
        """Log lines from ``offset`` on, and the poller that asks for the next ones."""
        lines = dash.client.executions.logs(execution_id)
        status = dash.client.executions.get(execution_id).status
        return dash.page(session, "_logs.html", lines=lines[offset:], offset=len(lines),
                         execution_id=execution_id, live=status in LIVE,
                         printed_nothing=not lines)  # fmt: skip

    @r.get("/executions/{execution_id}/artifacts/{name:path}")
    def artifact(execution_id: str, name: str, session: Session = viewer) -> Response:
        detail = dash.client.artifacts.show(execution_id, name, limit=20_000)
        return dash.page(session, "artifact.html", nav="executions", a=detail,
                         execution_id=execution_id)  # fmt: skip

    @r.get("/executions/{execution_id}/download/{name:path}")
    def download(execution_id: str, name: str, session: Session = viewer) -> Response:
        """The artifact's stored bytes (as serialized: never unpickled on the server)."""
        from kitaru.artifacts import find_artifact
        from kitaru.runtime.runner import value_io

        store = dash.client.store
        ex = store.get_execution(execution_id)
        c = find_artifact(store, ex.id, name)
        data = value_io(store, ex.options.get("stack")).raw(c.value, c.ref)
        suffix = {"json": "json", "str": "txt", "pydantic": "json", "dataclass": "json"}
        filename = f"{name.replace('/', '_')}.{suffix.get(c.serializer or '', 'bin')}"
        return Response(bytes(data), media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip
