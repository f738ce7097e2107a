"""Listing a flow's executions (schema 10) and the live ones (schema 11) newest first is an
index walk, not a table scan.

With only ``executions_flow(flow, created_at)``, SQLite answered ``flow = ? ORDER BY pk DESC
LIMIT n`` by scanning the table backwards, which for a rare flow read every row; and
``status IN ('running', 'pending') ORDER BY pk DESC`` (``--status crashed``) always scanned
(benchmarks/README.md, "listing with N executions"). The plans are checked, never timings.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kitaru.store.base import MetadataStore
from kitaru.store.listing import ExecutionFilter
from kitaru.store.rows import EXEC_COLUMNS
from tests.store.conftest import _connect

FLOW_PAGE = f"SELECT {EXEC_COLUMNS} FROM executions WHERE flow = ? ORDER BY pk DESC LIMIT 50"
#: what ``list_executions(status="crashed")`` asks (sql.py)
LIVE_PAGE = (f"SELECT {EXEC_COLUMNS} FROM executions WHERE status IN ('running', 'pending') "
             "ORDER BY pk DESC LIMIT 50")  # fmt: skip


def _seed(store: MetadataStore, flows: list[str]) -> None:
    for i, flow in enumerate(flows):
        store.create_execution(flow=flow, module="m", qualname="q", source_file=None, root=None,
                               inputs={"i": ["json", "int", str(i)]}, status="completed")  # fmt: skip


def test_sqlite_lists_a_flow_through_its_pk_ordered_index(tmp_path: Path) -> None:
    from kitaru.store.sqlite import SQLiteStore

    db = tmp_path / "kitaru.db"
    store = SQLiteStore(db)
    _seed(store, ["common"] * 300 + ["rare"] * 2)
    running = store.create_execution(flow="common", module="m", qualname="q", source_file=None,
                                     root=None, inputs={}, status="running")  # fmt: skip
    conn = sqlite3.connect(db)
    conn.execute("ANALYZE")
    plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + FLOW_PAGE, ("rare",)))
    live = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + LIVE_PAGE))
    conn.close()
    assert "executions_flow_pk" in plan and "TEMP B-TREE" not in plan, plan
    assert "executions_live" in live and "TEMP B-TREE" not in live, live
    # and the store's own queries answer from it, newest first
    assert [e.flow for e in store.list_executions(flow="rare")] == ["rare", "rare"]
    assert [e.pk for e in store.list_executions(status="crashed")] == [running.pk]
    page = store.page_executions(ExecutionFilter(flow="common"), limit=3)
    assert [e.pk for e in page] == sorted((e.pk for e in page), reverse=True)
    # the dashboard's and the REST list's filter on a live status names it in the query
    traced: list[str] = []
    store._conn.set_trace_callback(traced.append)  # type: ignore[attr-defined]
    assert [e.pk for e in store.page_executions(ExecutionFilter(status="crashed"))] == [running.pk]
    store._conn.set_trace_callback(None)  # type: ignore[attr-defined]
    (query,) = [q for q in traced if "FROM executions" in q and "ORDER BY pk DESC" in q][:1]
    assert "status IN ('running', 'pending')" in query, query


def test_postgres_has_the_listing_indexes(pg_url: str) -> None:
    from kitaru.store.postgres import PostgresStore

    PostgresStore(pg_url)  # migrated
    with _connect(pg_url) as conn:
        found = conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'executions' "
                             "AND indexname = 'executions_flow_pk'").fetchall()  # fmt: skip
        assert found and "(flow, pk)" in found[0][0]
        live = conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'executions' "
                            "AND indexname = 'executions_live'").fetchall()  # fmt: skip
        assert live and "WHERE (status = ANY" in live[0][0], live
        # with the index cheaper than a sort, the planner walks it for a flow's newest page
        conn.execute("SET enable_seqscan = off")
        plan = " ".join(r[0] for r in conn.execute(
            "EXPLAIN " + FLOW_PAGE.replace("?", "%s"), ("rare",)))  # fmt: skip
        assert "executions_flow_pk" in plan, plan
