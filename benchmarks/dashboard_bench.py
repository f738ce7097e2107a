"""The dashboard's executions list over 10,000 executions: server time of the first page.

Budget (docs/dashboard.md, issue 17): <= 300 ms for the first page on this machine. Measured
in-process through the ASGI app (FastAPI's TestClient: routing, session, query, templates), on
the embedded SQLite store, signed in as the bootstrap admin. Also: a filtered first page and a
deep page (keyset: ``before=``), which must cost the same as the first.

    .venv/bin/python -m benchmarks.dashboard_bench [--executions 10000] [--samples 30]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from typing import Any

STATUSES = ("completed",) * 8 + ("failed", "cancelled")


def seed(store: Any, n: int) -> None:
    """``n`` finished executions of 5 flows (one insert each, as a run's create does)."""
    for i in range(n):
        ex = store.create_execution(flow=f"flow_{i % 5}", module="bench", qualname="f",
                                    source_file=None, root=None, inputs={"i": ["json", "int", str(i)]},
                                    status="running", options={"stack": "local"})  # fmt: skip
        store.set_status(ex.pk, STATUSES[i % len(STATUSES)])


def timed(client: Any, path: str, samples: int) -> dict[str, float]:
    client.get(path)  # warm: templates compiled, caches filled
    ms = []
    for _ in range(samples):
        t0 = time.perf_counter()
        r = client.get(path)
        ms.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text[:300]
    ms.sort()
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 2),
    }


def measure(executions: int = 10_000, samples: int = 30) -> dict[str, Any]:
    home = tempfile.mkdtemp(prefix="kitaru-dash-bench-")
    os.environ["KITARU_HOME"] = home
    from fastapi.testclient import TestClient

    from kitaru.server import auth
    from kitaru.server.app import create_app
    from kitaru.store import default_store

    store = default_store()
    t0 = time.perf_counter()
    seed(store, executions)
    seeded_s = time.perf_counter() - t0
    key = auth.bootstrap(store) or ""
    client = TestClient(create_app(store))
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"credential": key, "csrf": token})
    deep = store.list_executions(limit=executions // 2)[-1].pk
    return {
        "executions": executions, "seed_s": round(seeded_s, 1),
        "first_page": timed(client, "/", samples),
        "first_page_rows_fragment": timed(client, "/executions/rows", samples),
        "filtered_failed_flow_3": timed(client, "/?status=failed&flow=flow_3", samples),
        "deep_page": timed(client, f"/?before={deep}", samples),
        "budget_ms": 300,
    }  # fmt: skip


def line(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"dashboard: error: {r['error']}"
    return (f"dashboard list over {r['executions']:,} executions (server time, p50/p95): first "
            f"page {r['first_page']['p50_ms']:.1f}/{r['first_page']['p95_ms']:.1f} ms, filtered "
            f"{r['filtered_failed_flow_3']['p50_ms']:.1f} ms, deep page "
            f"{r['deep_page']['p50_ms']:.1f} ms (budget {r['budget_ms']} ms)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.dashboard_bench", description=__doc__)
    ap.add_argument("--executions", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=30)
    args = ap.parse_args()
    r = measure(args.executions, args.samples)
    print(json.dumps(r, indent=1))
    print(line(r))


if __name__ == "__main__":
    main()
