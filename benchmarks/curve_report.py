"""Sizes of the cost curves (quick by default, ``--full`` for the recorded figures, ``--size N``
for one size) and the lines ``run.py`` prints for them, Kitaru and DBOS side by side."""

from __future__ import annotations

from typing import Any

#: curve -> system -> (quick params, full params)
SIZES: dict[str, dict[str, tuple[dict[str, Any], dict[str, Any]]]] = {
    "pg_overhead": {
        "kitaru": ({"n": 200, "repeats": 3}, {"n": 1000, "repeats": 5}),
        "dbos": ({"n": 200, "repeats": 3}, {"n": 1000, "repeats": 5}),
    },
    "workers": {
        "kitaru": ({"flows": 100}, {"flows": 1000}),
        "dbos": ({"flows": 100}, {"flows": 1000}),
    },
    "resume_curve": {
        "kitaru": ({"sizes": [1000, 10_000]}, {"sizes": [1000, 10_000, 100_000]}),
        # DBOS records ~2-4 ms per step on PostgreSQL: 100,000 steps would take minutes to write
        "dbos": ({"sizes": [1000]}, {"sizes": [1000, 10_000]}),
    },
    "waiting": {
        "kitaru": ({"executions": 500, "samples": 15}, {"executions": 10_000, "samples": 30}),
        "dbos": ({"executions": 500, "samples": 15}, {"executions": 10_000, "samples": 30}),
    },
    "list": {
        "kitaru": ({"executions": 10_000}, {"executions": 100_000}),
        "dbos": ({"executions": 10_000}, {"executions": 100_000}),
    },
    "schedules": {
        "kitaru": ({"schedules": 20, "fires": 1, "every_s": 10}, {"schedules": 100, "fires": 3}),
        "dbos": ({"schedules": 20, "fires": 1, "every_s": 10}, {"schedules": 100, "fires": 3}),
    },
}
CURVES = tuple(SIZES)
#: the parameter ``--size N`` sets, per curve
SIZE_KEY = {"pg_overhead": "n", "workers": "flows", "resume_curve": "sizes",
            "waiting": "executions", "list": "executions", "schedules": "schedules"}  # fmt: skip


def params_for(curve: str, system: str, full: bool, size: int | None) -> dict[str, Any]:
    quick, big = SIZES[curve][system]
    params = dict(big if full else quick)
    if size is not None:
        key = SIZE_KEY[curve]
        if key == "sizes":  # journal lengths up to N
            params["sizes"] = [s for s in (1000, 10_000, 100_000) if s < size] + [size]
        else:
            params[key] = size
    return params


def _ratio(k: float | None, d: float | None, higher_is_better: bool = False) -> str:
    if not k or not d:
        return ""
    r = k / d if higher_is_better else d / k
    return f"{r:.1f}x better" if r >= 1 else f"{1 / r:.1f}x worse"


def _g(d: Any, *path: Any) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def lines(curve: str, k: dict[str, Any] | None, d: dict[str, Any] | None) -> list[str]:
    """Human lines for one curve (either side may be missing or an error)."""
    out: list[str] = []
    for name, r in (("kitaru", k), ("dbos", d)):
        if r is not None and "error" in r:
            out.append(f"  {name}: error: {r['error']} {' | '.join(r.get('stderr', [])[-3:])}")
    k = k if k and "error" not in k else {}
    d = d if d and "error" not in d else {}
    if curve == "pg_overhead":
        kd, ks = _g(k, "direct", "overhead_ms", "median"), _g(k, "server", "overhead_ms", "median")
        dd = _g(d, "direct", "overhead_ms", "median")
        if kd is not None:
            out.append(f"  overhead per checkpoint on PostgreSQL, direct: kitaru {kd:.3f} ms, "
                       f"dbos {dd if dd is None else f'{dd:.3f}'} ms ({_ratio(kd, dd)})")  # fmt: skip
        if ks is not None:
            out.append(f"  through the kitaru server: {ks:.3f} ms ({_ratio(ks, dd)} than DBOS "
                       "direct)")  # fmt: skip
    elif curve == "workers":
        for w, kr in (_g(k, "by_workers") or {}).items():
            dr = _g(d, "by_workers", w) or {}
            out.append(f"  {w} worker(s): kitaru {kr['flows_per_s']:.0f} flows/s "
                       f"({kr['checkpoints_per_s']:.0f} checkpoints/s), dbos "
                       f"{dr.get('flows_per_s', 0):.0f} flows/s "
                       f"({dr.get('checkpoints_per_s', 0):.0f} steps/s) "
                       f"({_ratio(kr['flows_per_s'], dr.get('flows_per_s'), True)})")  # fmt: skip
    elif curve == "resume_curve":
        for store in ("sqlite", "postgres"):
            for n, kr in (_g(k, store) or {}).items():
                e2e = kr["per_cached_call_ms_e2e"]["median"]
                body = kr["per_cached_call_ms_in_body"]["median"]
                dr = _g(d, store, n, "per_cached_call_ms_in_body")
                dbos = f", dbos in body {dr:.3f} ms ({_ratio(body, dr)})" if dr else ""
                out.append(f"  {store} {int(n):>7,} cached calls: kitaru {e2e:.4f} ms/call "
                           f"end-to-end, {body:.4f} in body, resume "
                           f"{kr['resume_ms']['median']:.0f} ms{dbos}")  # fmt: skip
    elif curve == "waiting":
        kw, dw = _g(k, "with_all_waiting") or {}, _g(d, "with_all_waiting") or {}
        if kw:
            out.append(f"  kitaru: {k['executions']:,} waiting, worker RSS "
                       f"{kw['worker_rss_mib']:.0f} MiB (idle {kw['worker_rss_mib_idle']:.0f}), "
                       f"{kw['worker_threads']} threads, processes {kw['processes']} (harness "
                       f"+ 1 worker); input->continues p50 "
                       f"{_g(k, 'input_to_continues_ms_rest', 'median'):.1f} ms via the "
                       f"worker's API, {_g(k, 'input_to_continues_ms_db_client', 'median'):.0f} "
                       "ms from a database client (starts a process)")  # fmt: skip
        if dw:
            out.append(f"  dbos: {d['executions']:,} waiting, holder RSS "
                       f"{dw['holder_rss_mib']:.0f} MiB (idle {dw['holder_idle']['rss_mib']:.0f}"
                       f"), {dw['holder_threads']} threads; send->continues p50 "
                       f"{_g(d, 'input_to_continues_ms', 'median'):.1f} ms")  # fmt: skip
    elif curve == "list":
        for store in ("sqlite", "postgres"):
            r = _g(k, store)
            if not r:
                continue
            cm = {q: v["median"] for q, v in r["client_ms"].items()}
            out.append(f"  kitaru {store}, {k['executions']:,} executions, client list ms: "
                       + ", ".join(f"{q} {v:.2f}" for q, v in cm.items()))  # fmt: skip
            cli = r["cli_ms"]
            out.append(f"    `kitaru executions list` {cli['executions list'].get('median', 0):.0f}"
                       f" ms wall (--help {cli['--help (baseline)'].get('median', 0):.0f} ms)")  # fmt: skip
            if "rest_ms" in r:
                out.append("    REST " + ", ".join(f"{q} {v['median']:.1f} ms"
                                                   for q, v in r["rest_ms"].items()))  # fmt: skip
        if d:
            out.append(f"  dbos postgres, {d['executions']:,} workflows, list_workflows ms: "
                       + ", ".join(f"{q} {v['median']:.2f}" for q, v in d["client_ms"].items()))  # fmt: skip
    elif curve == "schedules":
        for name, r in (("kitaru", k), ("dbos", d)):
            if r:
                lb, ls = r["lag_body_ms"], r["lag_started_ms"]
                out.append(f"  {name}: {r['schedules']} schedules x {r['fires']} fire(s), "
                           f"{r['executions']} executions; fire -> body starts p50 "
                           f"{lb.get('p50', 0):.0f} ms, p95 {lb.get('p95', 0):.0f}, max "
                           f"{lb.get('max', 0):.0f} (started_at p50 {ls.get('p50', 0):.0f})")  # fmt: skip
    return out
