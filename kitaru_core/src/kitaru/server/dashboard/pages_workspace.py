"""The workspace, read-only: stacks, components, flavors and plugins (with load failures), the
cost overview (LLM tokens and cost per flow per day) and access (who am I, API keys)."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from kitaru.server.dashboard.session import Session
from kitaru.server.dashboard.web import Dashboard, admin_only
from kitaru.store.listing import ExecutionFilter, page_executions

#: the cost overview reads at most this many executions' journals (newest first)
COST_SCAN = 2000


def cost_table(store: Any, days: int) -> tuple[list[dict[str, Any]], bool]:
    """``[{day, flow, executions, calls, tokens_in, tokens_out, cost_usd}]`` over the last
    ``days`` days, newest day first; True when more executions than :data:`COST_SCAN` exist."""
    from kitaru.store.records import LLM

    since = time.time() - days * 86400
    rows = page_executions(store, ExecutionFilter(since=since), limit=COST_SCAN + 1)
    table: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"executions": 0, "calls": 0, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0}
    )
    for ex in rows[:COST_SCAN]:
        day = dt.date.fromtimestamp(ex.created_at).isoformat()
        cell = table[(day, ex.flow)]
        cell["executions"] += 1
        for c in store.load_journal(ex.pk).values():
            meta = c.meta or {}
            if c.kind != LLM or meta.get("cached_from"):  # reused calls cost nothing again
                continue
            cell["calls"] += 1
            cell["tokens_in"] += int(meta.get("tokens_in") or 0)
            cell["tokens_out"] += int(meta.get("tokens_out") or 0)
            cell["cost_usd"] += float(meta.get("cost_usd") or 0.0)
    out = [{"day": d, "flow": f, **v} for (d, f), v in table.items()]
    out.sort(key=lambda r: (r["day"], r["flow"]), reverse=True)
    return out, len(rows) > COST_SCAN


def add(r: APIRouter, dash: Dashboard) -> None:
    viewer = Depends(dash.viewer)

    @r.get("/stacks")
    def stacks(session: Session = viewer) -> Response:
        from kitaru.plugins.manager import plugin_manager
        from kitaru.stack.registry import list_components, list_stacks

        manager = plugin_manager()
        return dash.page(session, "stacks.html", nav="stacks",
                         stacks=[s.to_dict() for s in list_stacks()],
                         components=[c.to_dict() for c in list_components()],
                         flavors=[f.to_dict() for f in manager.flavors()],
                         plugins=manager.plugins())  # fmt: skip

    @r.get("/costs")
    def costs(days: int = 30, session: Session = viewer) -> Response:
        from kitaru.server.dashboard.charts import Row, bars

        days = max(1, min(days, 366))
        table, truncated = cost_table(dash.client.store, days)
        per_day: dict[str, Row] = {}
        for row in table:
            day = per_day.setdefault(row["day"], Row(row["day"], 0.0, 0))
            day.cost += row["cost_usd"]
            day.tokens += row["tokens_in"] + row["tokens_out"]
        chart = bars(list(per_day.values()), "LLM cost and tokens per day")
        return dash.page(session, "costs.html", nav="costs", table=table, chart=chart,
                         days=days, truncated=truncated, scan=COST_SCAN)  # fmt: skip

    @r.get("/access")
    def access(session: Session = viewer) -> Response:
        """Keys as ``GET /api/v1/auth/api-keys`` lists them: all for admins, one's own else."""
        from kitaru.store.access import AccessStore

        store, me = dash.client.store, session.principal
        keys = []
        if isinstance(store, AccessStore):
            keys = store.list_api_keys(None if me.role == "admin" else me.name)
        return dash.page(session, "access.html", nav="access", keys=keys)

    @r.get("/access/accounts")
    def accounts(session: Session = viewer) -> Response:
        """Users and service accounts: admins only, as in the REST API."""
        from kitaru.store.access import AccessStore

        admin_only(session)
        store = dash.client.store
        principals = store.list_principals() if isinstance(store, AccessStore) else []
        return dash.page(session, "accounts.html", nav="access", principals=principals)
