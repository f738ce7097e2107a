"""Run the benchmark suite: ``python -m benchmarks.run`` from the repo root (``make bench``).

Every measurement runs in its own child process (``--child SYSTEM METRIC OUT PARAMS``) with a
fresh temporary directory (``BENCH_TMP``; ``KITARU_HOME`` inside it), Kitaru and DBOS side by side,
one metric after the other. Prints a table and writes ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, child_cmd, machine_info, min_wall, write_result
from benchmarks.curve_report import CURVES, params_for
from benchmarks.curve_report import lines as curve_lines

RESULTS = REPO / "benchmarks" / "results" / "latest.json"
SYSTEMS = ("kitaru", "dbos")
METRICS = (
    "overhead",
    "throughput",
    "resume",
    "wait_same_process",
    "wait_other_process",
    "wait_cold",
    "storage",
)


# -- child side -----------------------------------------------------------------------------------
def child(system: str, metric: str, out: str, params_json: str) -> None:
    try:
        _child(system, metric, out, params_json)
    except BaseException:  # print it and end now: DBOS's threads would keep the process alive
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)


def _child(system: str, metric: str, out: str, params_json: str) -> None:
    params: dict[str, Any] = json.loads(params_json or "{}")
    params["_out"] = out
    if system == "sqlite":
        from benchmarks.common import sqlite_floor

        result = sqlite_floor()
    elif system == "kitaru":
        from benchmarks import curves, kitaru_bench

        result = {**kitaru_bench.MEASUREMENTS, **curves.MEASUREMENTS}[metric](params)
    elif system == "dbos":
        from benchmarks import dbos_bench, dbos_curves

        result = {**dbos_bench.MEASUREMENTS, **dbos_curves.MEASUREMENTS}[metric](params)
    else:
        raise SystemExit(f"unknown system {system!r}")
    write_result(Path(out), result)
    sys.stdout.flush()
    sys.stderr.flush()
    # The result is written; skip interpreter teardown (DBOS's executor threads, heartbeats).
    os._exit(0)


# -- parent side ----------------------------------------------------------------------------------
def run_child(
    system: str, metric: str, params: dict[str, Any] | None = None, timeout: float = 170
) -> dict[str, Any]:
    """One measurement in a fresh temp dir and child process: its result, or ``{"error": ...}``."""
    tmp = Path(tempfile.mkdtemp(prefix=f"kitaru-bench-{system}-{metric}-"))
    env = {**os.environ, "BENCH_TMP": str(tmp), "KITARU_HOME": str(tmp / "home")}
    env.pop("KITARU_INLINE_LIMIT", None)
    out = tmp / "result.json"
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            child_cmd(system, metric, params or {}, out), cwd=REPO, env=env,
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if proc.returncode == 0 and out.exists():
            result: dict[str, Any] = json.loads(out.read_text())
        elif "No module named 'dbos'" in proc.stderr:
            result = {"error": "dbos vanished from the venv mid-run (a concurrent `uv sync`?)"}
        else:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-12:]
            result = {"error": f"exit code {proc.returncode}", "stderr": tail}
    except subprocess.TimeoutExpired:
        result = {"error": "timed out"}
    result["_seconds"] = round(time.perf_counter() - t0, 2)
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def startup_times(have_dbos: bool) -> dict[str, Any]:
    """Interpreter start + import, and CLI --help, as wall time of whole subprocesses."""
    tmp = Path(tempfile.mkdtemp(prefix="kitaru-bench-startup-"))
    env = {**os.environ, "KITARU_HOME": str(tmp / "home")}
    py, bindir = sys.executable, Path(sys.executable).parent
    out: dict[str, Any] = {}
    out["python_pass"] = min_wall([py, "-c", "pass"], 10, env, tmp)
    out["import_kitaru"] = min_wall([py, "-c", "import kitaru"], 10, env, tmp)
    if have_dbos:
        out["import_dbos"] = min_wall([py, "-c", "import dbos"], 10, env, tmp)
    kitaru_bin = bindir / "kitaru"
    if kitaru_bin.exists():
        out["kitaru_help"] = min_wall([str(kitaru_bin), "--help"], 10, env, tmp)
    else:
        out["kitaru_help"] = {"error": f"{kitaru_bin} does not exist"}
    dbos_bin = bindir / "dbos"
    if have_dbos and dbos_bin.exists():
        out["dbos_help"] = min_wall([str(dbos_bin), "--help"], 10, env, tmp)
    base = out["python_pass"].get("min_ms")
    for key in ("import_kitaru", "import_dbos"):
        if key in out and "min_ms" in out[key] and base is not None:
            out[key]["minus_python_ms"] = out[key]["min_ms"] - base
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def server_mode() -> dict[str, Any]:
    """8 client processes against `kitaru server start --db postgresql://` (server_bench.py)."""
    from benchmarks.server_bench import measure

    try:
        return measure(clients=8, seconds=10.0)
    except Exception as exc:  # PostgreSQL down, psycopg missing...: report, do not abort
        return {"error": f"{type(exc).__name__}: {exc}"}


def dashboard_mode() -> dict[str, Any]:
    """The dashboard's first page over 10,000 executions (dashboard_bench.py), in a child."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.dashboard_bench"], cwd=REPO,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.rsplit("\n", 2)[0])  # type: ignore[no-any-return]


def server_line(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"server mode: error: {r['error']}"
    return (f"server mode (kitaru server + PostgreSQL, {r['clients']} client processes, "
            f"{r['seconds']:.0f} s): {r['checkpoints_per_s']:,.0f} checkpoints/s, "
            f"checkpoint call p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms")  # fmt: skip


# -- the table ------------------------------------------------------------------------------------
def _get(d: dict[str, Any], *path: str) -> float | None:
    cur: Any = d
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return float(cur) if isinstance(cur, int | float) else None


@dataclass
class Row:
    label: str
    unit: str  # "ms", "/s", "B"
    kitaru: float | None
    dbos: float | None
    higher_is_better: bool
    budget: str
    meets: Callable[[float, float | None], bool] | None
    note_k: str = ""
    note_d: str = ""

    def verdict(self) -> str:
        if self.meets is None or self.kitaru is None:
            return ""
        return "yes" if self.meets(self.kitaru, self.dbos) else "NO"

    def ratio(self) -> str:
        k, d = self.kitaru, self.dbos
        if k is None or d is None or k <= 0 or d <= 0:
            return ""
        r = k / d if self.higher_is_better else d / k
        return f"{r:.1f}x better" if r >= 1 else f"{1 / r:.1f}x worse"


def fmt(value: float | None, unit: str, note: str = "") -> str:
    if value is None:
        return note or "n/a"
    if unit == "ms":
        text = f"{value:.4f}" if value < 0.1 else f"{value:.3f}" if value < 1 else f"{value:.1f}"
        return f"{text} ms"
    if unit == "/s":
        return f"{value:,.0f} /s"
    return f"{value:,.0f} B"


def build_rows(res: dict[str, dict[str, Any]], startup: dict[str, Any]) -> list[Row]:
    k, d = res.get("kitaru", {}), res.get("dbos", {})

    def both(metric: str, *path: str) -> tuple[float | None, float | None]:
        return _get(k.get(metric, {}), *path), _get(d.get(metric, {}), *path)

    def note(system: dict[str, Any], metric: str) -> str:
        r = system.get(metric)
        if r is None:
            return "not run"
        return f"error: {r['error']}" if "error" in r else ""

    rows: list[Row] = []

    def add(label: str, unit: str, metric: str, path: tuple[str, ...], hib: bool, budget: str,
            meets: Callable[[float, float | None], bool] | None) -> None:  # fmt: skip
        kv, dv = both(metric, *path)
        rows.append(Row(label, unit, kv, dv, hib, budget, meets, note(k, metric), note(d, metric)))

    add("1. overhead per small checkpoint (median)", "ms", "overhead", ("overhead_ms", "median"),
        False, "<= 0.15 ms and >= 10x DBOS",
        lambda kv, dv: kv <= 0.15 and (dv is None or dv / kv >= 10))  # fmt: skip
    add("2. sequential 1-checkpoint flows", "/s", "throughput", ("flows_per_s",), True,
        ">= 2,000 /s", lambda kv, dv: kv >= 2000)  # fmt: skip
    add("3. resume fast-forward per cached call (in body)", "ms", "resume",
        ("per_cached_call_ms_in_body", "median"), False, "<= 0.05 ms",
        lambda kv, dv: kv <= 0.05)  # fmt: skip
    add(
        "3'. resume per cached call (end-to-end diff)",
        "ms",
        "resume",
        ("per_cached_call_ms_e2e", "median"),
        False,
        "<= 0.05 ms",
        lambda kv, dv: kv <= 0.05,
    )
    rows[-1].note_d = "n/a (see README)"
    add(
        "4a. wait input -> continues, same process",
        "ms",
        "wait_same_process",
        ("latency_ms", "median"),
        False,
        "<= 50 ms (warm)",
        lambda kv, dv: kv <= 50,
    )
    add(
        "4b. wait input -> continues, other process",
        "ms",
        "wait_other_process",
        ("latency_ms", "median"),
        False,
        "<= 50 ms (warm)",
        lambda kv, dv: kv <= 50,
    )
    add("4c. wait input -> continues, cold", "ms", "wait_cold", ("continue_ms", "median"),
        False, "<= 1 s (cold)", lambda kv, dv: kv <= 1000)  # fmt: skip
    add("5. storage per small checkpoint", "B", "storage", ("bytes_per_checkpoint",), False,
        "<= 300 B", lambda kv, dv: kv <= 300)  # fmt: skip

    ik = _get(startup, "import_kitaru", "minus_python_ms")
    idb = _get(startup, "import_dbos", "minus_python_ms")
    rows.append(Row("6. import time (minus bare python)", "ms", ik, idb, False, "<= 150 ms",
                    lambda kv, dv: kv <= 150,
                    startup.get("import_kitaru", {}).get("error", ""),
                    startup.get("import_dbos", {}).get("error", "not installed")))  # fmt: skip
    hk, hd = _get(startup, "kitaru_help", "min_ms"), _get(startup, "dbos_help", "min_ms")
    err = startup.get("kitaru_help", {}).get("error", "")
    rows.append(Row("7. `kitaru --help` (vs `dbos --help`)", "ms", hk, hd, False, "<= 300 ms",
                    lambda kv, dv: kv <= 300, f"n/a: {err}"[:60] if err else "",
                    startup.get("dbos_help", {}).get("error", "")))  # fmt: skip
    floor = _get(res.get("sqlite", {}).get("floor", {}), "insert_commit_ms", "median")
    rows.append(Row("8. SQLite floor: INSERT+COMMIT, WAL, sync=NORMAL", "ms", floor, None, False,
                    "(reference)", None))  # fmt: skip
    return rows


def render(rows: list[Row]) -> str:
    header = ["metric", "kitaru", "dbos 3.4 (SQLite)", "kitaru vs dbos", "budget (docs/architecture.md)",
              "meets"]  # fmt: skip
    body = [
        [r.label, fmt(r.kitaru, r.unit, r.note_k), fmt(r.dbos, r.unit, r.note_d or "—"),
         r.ratio(), r.budget, r.verdict()]
        for r in rows
    ]  # fmt: skip
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=True)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    out = [line, sep]
    for b in body:
        out.append(
            "| " + " | ".join(str(x).ljust(w) for x, w in zip(b, widths, strict=True)) + " |"
        )
    return "\n".join(out)


# -- main -----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    ap.add_argument("--only", help="comma-separated metrics and curves (default: all): "
                    f"{', '.join(METRICS + CURVES)}")  # fmt: skip
    ap.add_argument("--systems", default="kitaru,dbos", help="default: kitaru,dbos")
    ap.add_argument("--no-startup", action="store_true", help="skip import/--help timings")
    ap.add_argument("--no-server", action="store_true",
                    help="skip the server-mode run (8 clients, PostgreSQL)")  # fmt: skip
    ap.add_argument("--out", help=f"JSON results file (default: {RESULTS.relative_to(REPO)}; "
                    "not written with --only unless given)")  # fmt: skip
    ap.add_argument("--no-curves", action="store_true",
                    help="skip the cost curves (PostgreSQL, workers, journal length, ...)")  # fmt: skip
    ap.add_argument("--full", action="store_true",
                    help="the curves at their full sizes (minutes; see benchmarks/README.md)")  # fmt: skip
    ap.add_argument("--size", type=int, help="the selected curves' main size (calls, flows, "
                    "longest journal, executions, schedules)")  # fmt: skip
    args = ap.parse_args(argv)

    chosen = args.only.split(",") if args.only else list(METRICS + CURVES)
    unknown = sorted(set(chosen) - set(METRICS + CURVES))
    if unknown:
        ap.error(f"unknown metric(s): {', '.join(unknown)}; known: {', '.join(METRICS + CURVES)}")
    metrics = [m for m in chosen if m in METRICS]
    curves = [c for c in chosen if c in CURVES and not args.no_curves]
    if args.only and not metrics:  # curves only: no table, startup or server-mode runs
        args.no_startup = args.no_server = True
    have_dbos = importlib.util.find_spec("dbos") is not None
    systems = [s for s in args.systems.split(",") if s]
    if "dbos" in systems and not have_dbos:
        print("dbos is not installed: DBOS columns are n/a (`make bench` installs it)")
        systems.remove("dbos")

    load = os.getloadavg()[0]
    if load > 0.5 * (os.cpu_count() or 1):
        print(f"note: load average is {load:.2f} on {os.cpu_count()} cores: expect noisy numbers")
    started = time.time()
    machine = machine_info()
    t0 = time.perf_counter()
    results: dict[str, dict[str, Any]] = {s: {} for s in systems}
    if metrics:
        results["sqlite"] = {"floor": run_child("sqlite", "floor")}
    for metric in metrics:
        for system in systems:
            r = run_child(system, metric)
            results[system][metric] = r
            status = f"error: {r['error']}" if "error" in r else "ok"
            print(f"  {system:<6} {metric:<20} {r['_seconds']:6.1f}s  {status}", flush=True)
            for line in r.get("stderr", []):
                print(f"      {line}")
    curve_results: dict[str, dict[str, Any]] = {}
    for curve in curves:
        curve_results[curve] = {}
        for system in systems:
            params = params_for(curve, system, args.full, args.size)
            r = run_child(system, curve, params, timeout=3600)
            r["_params"] = params
            curve_results[curve][system] = r
            status = f"error: {r['error']}" if "error" in r else "ok"
            print(f"  {system:<6} {curve:<20} {r['_seconds']:6.1f}s  {status}  "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    startup: dict[str, Any] = {} if args.no_startup else startup_times(have_dbos)
    server: dict[str, Any] = {}
    dashboard: dict[str, Any] = {}
    if not args.no_server and "kitaru" in systems:
        server = server_mode()
        dashboard = dashboard_mode()
    elapsed = time.perf_counter() - t0

    rows = build_rows(results, startup) if metrics else []
    table = render(rows) if rows else ""
    print()
    print(table)
    for curve, sides in curve_results.items():
        print(f"\ncurve {curve} ({'full' if args.full else 'quick'} sizes):")
        for line in curve_lines(curve, sides.get("kitaru"), sides.get("dbos")):
            print(line)
    if server:
        print("\n" + server_line(server))
    if dashboard:
        from benchmarks.dashboard_bench import line

        print(line(dashboard))
    print(f"\n{elapsed:.0f} s in all. Method: benchmarks/README.md")

    out = Path(args.out) if args.out else (None if args.only else RESULTS)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "duration_s": round(elapsed, 1),
            "machine": machine,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "results": results,
            "startup": startup,
            "server_mode": server,
            "dashboard": dashboard,
            "curves": curve_results,
            "table": [
                {
                    "metric": r.label,
                    "unit": r.unit,
                    "kitaru": r.kitaru,
                    "dbos": r.dbos,
                    "kitaru_vs_dbos": r.ratio(),
                    "budget": r.budget,
                    "meets": r.verdict(),
                }
                for r in rows
            ],
            "table_text": table,
        }
        out.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        child(*sys.argv[2:5], sys.argv[5] if len(sys.argv) > 5 else "{}")
    sys.exit(main())
