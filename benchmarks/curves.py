"""Kitaru's cost curves (issue 20 item 4), each in its own child of ``run.py`` with a fresh
``BENCH_TMP``, on throwaway PostgreSQL databases (``benchmarks/pg.py``). DBOS's side is
``dbos_curves.py``; method and figures in benchmarks/README.md.

Every ``measure_*`` takes the size parameters ``run.py`` gives it (small by default, the full
sizes with ``--full``).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    bench_tmp,
    paired_overhead,
    spawn_child,
    summary,
    wait_until,
)
from benchmarks.pg import query, scratch_db, server_version


def _use_db(url: str | None) -> None:
    """Point this process's default store at ``url`` (None: the SQLite store in KITARU_HOME)."""
    from kitaru.store import reset_default_store

    for name in ("KITARU_SERVER_URL", "KITARU_API_KEY", "KITARU_DB_URL"):
        os.environ.pop(name, None)
    if url:
        os.environ["KITARU_DB_URL"] = url
    reset_default_store()


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra}
    return env


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def processes_of_this_measurement() -> list[tuple[int, str]]:
    """Processes (pid, command) whose environment has this measurement's BENCH_TMP: the
    harness, the workers and anything they started (detached or not)."""
    me = f"BENCH_TMP={bench_tmp()}".encode()
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if me in (d / "environ").read_bytes().split(b"\0"):
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append((int(d.name), cmd.strip()[:160]))
        except OSError:
            continue
    return found


# -- processes: server, workers -------------------------------------------------------------------
@contextmanager
def kitaru_process(args: list[str], name: str, env: dict[str, str], ready: str) -> Iterator[
    tuple[subprocess.Popen[bytes], Path]
]:  # fmt: skip
    """``python -m kitaru.cli ARGS`` until its log shows ``ready``; stopped (SIGTERM) after."""
    log = bench_tmp() / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kitaru.cli", *args], env=env, cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_until(lambda: ready in log.read_text(errors="replace") or proc.poll() is not None,
                   timeout=90, interval=0.05)  # fmt: skip
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def admin_key(log: Path) -> str:
    return re.findall(r"kitaru_[0-9a-f]+_\S+", log.read_text())[0]


@contextmanager
def kitaru_server(url: str, name: str = "server") -> Iterator[tuple[str, str]]:
    """``kitaru server start --db URL`` on a free port: (base URL, admin API key)."""
    from kitaru.testing.services import free_port, wait_until_serving

    port = free_port()
    env = _env(KITARU_HOME=str(bench_tmp() / f"{name}-home"))
    for k in ("KITARU_SERVER_URL", "KITARU_API_KEY", "KITARU_DB_URL"):
        env.pop(k, None)
    args = ["server", "start", "--db", url, "--port", str(port)]
    with kitaru_process(args, name, env, "API key") as (proc, log):
        base = f"http://127.0.0.1:{port}"
        if not wait_until_serving(base + "/health", proc, 60, interval=0.05):
            raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
        yield base, admin_key(log)


# -- 1. per-checkpoint overhead on PostgreSQL: direct and through the server ----------------------
def measure_pg_overhead(params: dict[str, Any]) -> dict[str, Any]:
    n, repeats = int(params.get("n", 200)), int(params.get("repeats", 3))
    out: dict[str, Any] = {"n": n, "repeats": repeats, "postgres": server_version()}
    with scratch_db("kitaru_bench_ovh") as url:
        _use_db(url)
        from benchmarks.kitaru_bench import cp_flow, plain_flow

        cp_flow(20)
        plain_flow(20)
        out["direct"] = paired_overhead(cp_flow, plain_flow, n, repeats)
        _use_db(None)
    with scratch_db("kitaru_bench_ovh_srv") as url, kitaru_server(url) as (base, key):
        saved = dict(os.environ)
        os.environ.update(KITARU_SERVER_URL=base, KITARU_API_KEY=key,
                          KITARU_HOME=str(bench_tmp() / "client-home"))  # fmt: skip
        try:
            out["server"] = spawn_child("kitaru", "pg_overhead_client", {"n": n, "repeats": repeats},
                                        bench_tmp() / "client.json", timeout=900)  # fmt: skip
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return out


def pg_overhead_client(params: dict[str, Any]) -> dict[str, Any]:
    """Child: the same paired flows, connected to the server (KITARU_SERVER_URL)."""
    from benchmarks.kitaru_bench import cp_flow, plain_flow

    cp_flow(20)
    plain_flow(20)
    return paired_overhead(cp_flow, plain_flow, int(params["n"]), int(params["repeats"]))


# -- 2. throughput with 1, 2, 4, 8 worker processes on one queue ---------------------------------
def _count(url: str, sql: str, args: Any = None) -> int:
    return int(query(url, sql, args)[0][0])


def until_count(url: str, sql: str, args: Any, n: int, timeout: float = 1800) -> None:
    """Poll a ``SELECT count(*)`` until it reaches ``n``."""
    stop = time.monotonic() + timeout
    while _count(url, sql, args) < n:
        if time.monotonic() > stop:
            raise TimeoutError(f"{sql} did not reach {n} within {timeout}s")
        time.sleep(0.1)


def measure_workers(params: dict[str, Any]) -> dict[str, Any]:
    flows = int(params.get("flows", 200))
    cps = int(params.get("checkpoints", 5))
    conc = int(params.get("concurrency", 4))
    counts = [int(x) for x in params.get("workers", [1, 2, 4, 8])]
    out: dict[str, Any] = {"flows": flows, "checkpoints_per_flow": cps,
                           "concurrency_per_worker": conc, "by_workers": {}}  # fmt: skip
    with scratch_db("kitaru_bench_workers") as url:
        _use_db(url)
        from benchmarks.curve_flows import work_flow

        for w in counts:
            stage, q = f"stage{w}", f"q{w}"
            t0 = time.perf_counter()
            for _ in range(flows):  # parked on a queue no worker serves
                work_flow.enqueue(cps, queue=stage)
            enqueue_s = time.perf_counter() - t0
            env = _env(KITARU_DB_URL=url, KITARU_HOME=str(bench_tmp() / "worker-home"))
            with _workers(w, q, conc, env):
                released = time.time()  # all workers are up: hand them the parked flows at once
                query(url, "UPDATE executions SET queue = %s WHERE queue = %s", (q, stage))
                until_count(url, "SELECT count(*) FROM executions WHERE queue = %s AND "
                            "status = 'completed'", (q,), flows)  # fmt: skip
                (first, last), = query(url, "SELECT min(started_at), max(ended_at) FROM "
                                       "executions WHERE queue = %s", (q,))  # fmt: skip
                by = query(url, "SELECT lease_owner IS NULL, count(*) FROM executions WHERE "
                           "queue = %s GROUP BY 1", (q,))  # fmt: skip
                # stragglers: taken but started late, or taken over (epoch > 1) by another worker
                (slow, over, gap), = query(url, "SELECT count(*) FILTER (WHERE started_at - "
                                           "dequeued_at > 2), count(*) FILTER (WHERE epoch > 1), "
                                           "max(started_at - dequeued_at) FROM executions WHERE "
                                           "queue = %s", (q,))  # fmt: skip
            span = last - released
            out["by_workers"][str(w)] = {
                "flows_per_s": flows / span, "checkpoints_per_s": flows * cps / span,
                "seconds": span, "first_start_after_release_s": first - released,
                "enqueue_per_s": flows / enqueue_s, "lease_rows": by,
                "started_over_2s_after_taken": slow, "taken_over": over,
                "max_taken_to_started_s": gap,
            }  # fmt: skip
        _use_db(None)
    return out


@contextmanager
def _workers(n: int, queue: str, conc: int, env: dict[str, str]) -> Iterator[None]:
    from contextlib import ExitStack

    with ExitStack() as stack:
        for i in range(n):
            stack.enter_context(kitaru_process(
                ["serve", "--queue", queue, "--concurrency", str(conc), "--no-api"],
                f"worker-{queue}-{i}", env, "working until stopped"))  # fmt: skip
        yield


# -- 3. resume time vs journal length -------------------------------------------------------------
def measure_resume_curve(params: dict[str, Any]) -> dict[str, Any]:
    sizes = [int(x) for x in params.get("sizes", [1000, 10_000])]
    out: dict[str, Any] = {"sizes": sizes, "sqlite": {}, "postgres": {}}
    stores = params.get("stores", ["sqlite", "postgres"])
    for where in stores:
        with _maybe_pg(where == "postgres", "kitaru_bench_resume") as url:
            _use_db(url)
            _resume_once(10)
            _resume_once(0)
            for n in sizes:
                reps = 3 if n <= 10_000 else 1
                e2e, body, full = [], [], []
                for _ in range(reps):
                    dt_n, ns = _resume_once(n)
                    dt_0, _ = _resume_once(0)
                    full.append(dt_n * 1000)
                    e2e.append((dt_n - dt_0) * 1000 / n)
                    body.append(ns / 1e6)
                out[where][str(n)] = {"per_cached_call_ms_e2e": summary(e2e),
                                      "per_cached_call_ms_in_body": summary(body),
                                      "resume_ms": summary(full)}  # fmt: skip
            _use_db(None)
    return out


def _resume_once(n: int) -> tuple[float, float]:
    """As ``kitaru_bench._resume_once``, with timeouts for long journals on a loaded machine:
    run to the wait and let go; then input + wait: (seconds for that resume, in-body ns/call)."""
    from benchmarks.kitaru_bench import _marks as marks
    from benchmarks.kitaru_bench import _released_waiting, resume_flow

    limit = 120 + n * 0.01
    h = resume_flow.run(n)
    wait_until(partial(_released_waiting, h.id), timeout=limit)
    time.sleep(0.005)
    t0 = time.perf_counter()
    h.input(True)
    assert h.wait(timeout=limit) == n
    dt = time.perf_counter() - t0
    m = marks[-1]
    assert m[0] == n
    return dt, (m[2] - m[1]) / max(n, 1)


@contextmanager
def _maybe_pg(use: bool, prefix: str) -> Iterator[str | None]:
    if not use:
        yield None
        return
    with scratch_db(prefix) as url:
        yield url


# -- 4. N executions waiting at once ---------------------------------------------------------------
def _marks() -> Path:
    return bench_tmp() / "marks"


def _mark_of(name: str) -> dict[str, Any] | None:
    p = _marks() / f"{name}.json"
    try:
        return json.loads(p.read_text())  # type: ignore[no-any-return,unused-ignore]
    except (OSError, ValueError):
        return None


def measure_waiting(params: dict[str, Any]) -> dict[str, Any]:
    import httpx

    n, samples = int(params.get("executions", 1000)), int(params.get("samples", 20))
    conc = int(params.get("concurrency", 8))
    out: dict[str, Any] = {"executions": n, "worker_concurrency": conc}
    with scratch_db("kitaru_bench_wait") as url:
        _use_db(url)
        from benchmarks.curve_flows import wait_one
        from kitaru.testing.services import free_port, wait_until_serving

        port = free_port()
        env = _env(KITARU_DB_URL=url, KITARU_HOME=str(bench_tmp() / "worker-home"))
        args = ["serve", "--queue", "waits", "--concurrency", str(conc), "--port", str(port)]
        with kitaru_process(args, "worker", env, "kitaru server") as (proc, log):
            base = f"http://127.0.0.1:{port}"
            assert wait_until_serving(base + "/health", proc, 60, interval=0.05)
            key = admin_key(log)
            time.sleep(1.0)
            idle_rss, idle_threads = rss_kib(proc.pid), threads_of(proc.pid)
            t0 = time.perf_counter()
            ids = [wait_one.enqueue(str(i), queue="waits").id for i in range(n)]
            out["enqueue_per_s"] = n / (time.perf_counter() - t0)
            wait_until(lambda: _count(url, "SELECT count(*) FROM executions WHERE status = "
                                      "'waiting' AND lease_owner IS NULL") == n,
                       timeout=3600, interval=0.5)  # fmt: skip
            out["all_waiting_after_s"] = time.perf_counter() - t0
            time.sleep(2.0)  # settle: a sweep or two with n waiting executions
            procs = processes_of_this_measurement()
            out["with_all_waiting"] = {
                "worker_rss_mib": rss_kib(proc.pid) / 1024, "worker_threads": threads_of(proc.pid),
                "worker_rss_mib_idle": idle_rss / 1024, "worker_threads_idle": idle_threads,
                "processes": len(procs), "process_list": procs,
                "harness_rss_mib": rss_kib(os.getpid()) / 1024,
            }  # fmt: skip
            # wait input -> continues: through the worker's REST API (it continues it warm)
            rng = random.Random(4)
            picks = rng.sample(range(n), samples + 3)
            lat = []
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base + "/api/v1", headers=headers, timeout=60) as http:
                for i in picks[:samples]:
                    time.sleep(rng.uniform(0.02, 0.25))  # a random phase of the sweep loop
                    t_in = time.time()
                    r = http.post(f"/executions/{ids[i]}/input", json={"value": True})
                    assert r.status_code == 200, r.text
                    rec = wait_until(partial(_mark_of, f"cont-{i}"), timeout=60, interval=0.002)
                    lat.append((rec["wall"] - t_in) * 1000)
            out["input_to_continues_ms_rest"] = summary(lat)
            # the same from a client on the database (KITARU_DB_URL): no live holder, so the
            # input launches a worker process for it (the cold path)
            from kitaru import KitaruClient

            cold, extra = [], []
            for i in picks[samples:]:
                t_in = time.time()
                KitaruClient().executions.input(ids[i], True)
                extra.append(len(processes_of_this_measurement()) - len(procs))
                rec = wait_until(partial(_mark_of, f"cont-{i}"), timeout=60, interval=0.002)
                cold.append((rec["wall"] - t_in) * 1000)
            out["input_to_continues_ms_db_client"] = summary(cold)
            out["extra_processes_during_db_client_input"] = extra
            out["worker_rss_mib_end"] = rss_kib(proc.pid) / 1024
        _use_db(None)
    return out


# -- 5. listing with N executions in the store -----------------------------------------------------
LIST_QUERIES: dict[str, tuple[str, str]] = {
    # name: (WHERE clause or "", what issues it)
    "newest 50": ("", "executions list; GET /executions"),
    "status = failed": ("WHERE status = 'failed'", "--status failed; ?status=failed"),
    "flow = flow_3": ("WHERE flow = 'flow_3'", "--flow flow_3; ?flow=flow_3"),
    "flow = rare (1 in 10,000)": ("WHERE flow = 'rare'", "--flow rare; ?flow=rare"),
    "flow + status": ("WHERE flow = 'flow_3' AND status = 'failed'", "--flow --status"),
    "status IN (running, pending)": (
        "WHERE status IN ('running', 'pending')",
        "--status running/crashed/pending (derived)",
    ),
}
#: statuses of the seeded executions: finished ones only (a seeded running or waiting row would
#: look crashed, and a server would start recovering it)
SEED_STATUS = ("CASE WHEN g % 100 < 88 THEN 'completed' WHEN g % 100 < 97 THEN 'failed' "
               "ELSE 'cancelled' END")  # fmt: skip
#: 5 flows of ~20% each, and one rare flow (1 in 10,000)
SEED_FLOW = "CASE WHEN g % 10000 = 7 THEN 'rare' ELSE 'flow_' || (g % 5) END"


def _exec_columns(conn_query: Callable[[str], list[Any]]) -> list[str]:
    from kitaru.store.rows import EXEC_COLUMNS

    return [c.strip() for c in EXEC_COLUMNS.split(",")]


def _seed_sql(cols: list[str], n: int, pg: bool) -> str:
    """Clone the one real execution (pk 1) ``n`` times: 5 flows, statuses as SEED_STATUS."""
    sub = {
        "id": "substr(md5(g::text), 1, 12)" if pg else "lower(hex(randomblob(6)))",
        "flow": SEED_FLOW,
        "status": SEED_STATUS,
        "created_at": "e.created_at + g * 0.001",
        "lease_owner": "NULL",
        "lease_expires": "NULL",
    }
    names = [c for c in cols if c != "pk"]
    select = ", ".join(sub.get(c, f"e.{c}") for c in names)
    series = (f"generate_series(2, {n + 1}) AS g" if pg else
              f"(WITH RECURSIVE s(g) AS (SELECT 2 UNION ALL SELECT g + 1 FROM s WHERE g < {n + 1}) "
              "SELECT g FROM s)")  # fmt: skip
    return (f"INSERT INTO executions ({', '.join(names)}) SELECT {select} "
            f"FROM executions e, {series} WHERE e.pk = 1")  # fmt: skip


def _timed(f: Callable[[], Any], reps: int) -> dict[str, Any]:
    f()
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ms.append((time.perf_counter() - t0) * 1000)
    return summary(ms) | {"samples": None}


def _cli_ms(args: list[str], env: dict[str, str], reps: int) -> dict[str, Any]:
    cmd = [str(Path(sys.executable).parent / "kitaru"), *args]
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=env, cwd=bench_tmp(), capture_output=True, check=False)
        ms.append((time.perf_counter() - t0) * 1000)
        if p.returncode:
            return {"error": p.stderr.decode()[-300:]}
    return {"min": min(ms), "median": statistics.median(ms)}


def measure_list(params: dict[str, Any]) -> dict[str, Any]:
    import sqlite3

    n, reps = int(params.get("executions", 10_000)), int(params.get("repeats", 15))
    out: dict[str, Any] = {"executions": n}
    for where in ("sqlite", "postgres"):
        with _maybe_pg(where == "postgres", "kitaru_bench_list") as url:
            _use_db(url)
            from benchmarks.kitaru_bench import one_cp_flow
            from kitaru import KitaruClient
            from kitaru.config import settings

            one_cp_flow(1)  # the store, its schema, one real execution (pk 1)
            cols = _exec_columns(lambda s: [])
            t0 = time.perf_counter()
            if url:
                query(url, _seed_sql(cols, n - 1, True))
                query(url, "ANALYZE executions")
            else:
                conn = sqlite3.connect(settings().db_path, isolation_level=None)
                conn.execute(_seed_sql(cols, n - 1, False))
                conn.execute("ANALYZE")
                conn.close()
            r: dict[str, Any] = {"seed_s": time.perf_counter() - t0}
            r["client_ms"] = _client_times(KitaruClient(), reps)
            env = _env()
            env.pop("KITARU_DB_URL", None)
            if url:
                env["KITARU_DB_URL"] = url
            r["cli_ms"] = {
                "executions list": _cli_ms(["executions", "list"], env, 5),
                "executions list --status failed": _cli_ms(
                    ["executions", "list", "--status", "failed"], env, 5),
                "--help (baseline)": _cli_ms(["--help"], env, 5),
            }  # fmt: skip
            r["plans"] = _plans(url, cols)
            if url:
                r["rest_ms"] = _rest_list(url, reps)
            out[where] = r
            _use_db(None)
    return out


def _client_times(client: Any, reps: int) -> dict[str, Any]:
    ls = client.executions.list
    return {
        "newest 50": _timed(lambda: ls(limit=50), reps),
        "status failed": _timed(lambda: ls(status="failed"), reps),
        "flow flow_3": _timed(lambda: ls(flow="flow_3"), reps),
        "flow rare": _timed(lambda: ls(flow="rare"), reps),
        "status waiting (none)": _timed(lambda: ls(status="waiting"), reps),
        "status running (derived)": _timed(lambda: ls(status="running"), max(3, reps // 5)),
        "status crashed (derived)": _timed(lambda: ls(status="crashed"), max(3, reps // 5)),
    }


def _plans(url: str | None, cols: list[str]) -> dict[str, list[str]]:
    import sqlite3

    from kitaru.config import settings

    plans: dict[str, list[str]] = {}
    for name, (where, _who) in LIST_QUERIES.items():
        sql = f"SELECT {', '.join(cols)} FROM executions {where} ORDER BY pk DESC LIMIT 50"
        if url:
            rows = query(url, "EXPLAIN (ANALYZE, COSTS OFF, TIMING ON, SUMMARY ON) " + sql)
            plans[name] = [r[0] for r in rows]
        else:
            conn = sqlite3.connect(settings().db_path)
            plans[name] = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql)]
            conn.close()
    count = "SELECT status, COUNT(*) FROM executions GROUP BY status"
    if url:
        plans["count by status (dashboard)"] = [
            r[0] for r in query(url, "EXPLAIN (ANALYZE, COSTS OFF) " + count)]  # fmt: skip
    else:
        conn = sqlite3.connect(settings().db_path)
        plans["count by status (dashboard)"] = [
            r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + count)]  # fmt: skip
        conn.close()
    return plans


def _rest_list(url: str, reps: int) -> dict[str, Any]:
    import httpx

    with kitaru_server(url, "list-server") as (base, key):
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base + "/api/v1", headers=headers, timeout=120) as http:

            def get(q: str) -> Callable[[], Any]:
                def f() -> None:
                    r = http.get("/executions" + q)
                    assert r.status_code == 200, r.text[:300]

                return f

            return {
                "GET /executions": _timed(get(""), reps),
                "?status=failed": _timed(get("?status=failed"), reps),
                "?flow=flow_3": _timed(get("?flow=flow_3"), reps),
                "?flow=rare": _timed(get("?flow=rare"), reps),
                "?status=running (derived)": _timed(get("?status=running"), max(3, reps // 5)),
            }


# -- 6. schedule fire accuracy --------------------------------------------------------------------
def measure_schedules(params: dict[str, Any]) -> dict[str, Any]:
    count, every = int(params.get("schedules", 100)), int(params.get("every_s", 20))
    fires = int(params.get("fires", 1))
    out: dict[str, Any] = {"schedules": count, "cron": f"* * * * * */{every}", "fires": fires}
    with scratch_db("kitaru_bench_sched") as url:
        _use_db(url)
        from benchmarks.curve_flows import sched_flow
        from kitaru import schedules
        from kitaru.deployments import deploy
        from kitaru.testing.services import free_port

        deploy(sched_flow)
        env = _env(KITARU_DB_URL=url, KITARU_HOME=str(bench_tmp() / "serve-home"))
        target = f"{REPO / 'benchmarks' / 'curve_flows.py'}:sched_flow"
        args = ["serve", target, "--port", str(free_port())]
        with kitaru_process(args, "serve", env, "kitaru server"):
            # create them just after a fire time, so all exist before the next one
            now = time.time()
            time.sleep((every - now % every) + 0.2)
            for i in range(count):
                schedules.create("sched_flow", cron=f"* * * * * */{every}", name=f"s{i}")
            first = (time.time() // every + 1) * every
            deadline = first + (fires - 1) * every + every * 0.9
            want = count * fires
            wait_until(lambda: _count(url, "SELECT count(*) FROM executions WHERE status = "
                                      "'completed'") >= want or time.time() > deadline,
                       timeout=every * (fires + 2), interval=0.2)  # fmt: skip
            time.sleep(0.5)
            for i in range(count):
                schedules.pause(f"s{i}")
        rows = query(url, "SELECT created_at, started_at FROM executions ORDER BY created_at")
        _use_db(None)
    started, created, body = [], [], []
    per_fire: dict[str, int] = {}
    for c, s in rows:
        fire = (c // every) * every
        per_fire[str(int(fire))] = per_fire.get(str(int(fire)), 0) + 1
        created.append((c - fire) * 1000)
        if s is not None:
            started.append((s - fire) * 1000)
    for mark in _marks().glob("sched-*.json"):
        wall = json.loads(mark.read_text())["wall"]
        body.append((wall - (wall // every) * every) * 1000)
    out.update({
        "executions": len(rows), "per_fire_time": per_fire,
        "lag_created_ms": _dist(created), "lag_started_ms": _dist(started),
        "lag_body_ms": _dist(body),
    })  # fmt: skip
    return out


def _dist(xs: list[float]) -> dict[str, Any]:
    if not xs:
        return {"n": 0}
    xs = sorted(xs)
    return {"n": len(xs), "p50": statistics.median(xs), "p95": xs[int(len(xs) * 0.95) - 1],
            "max": xs[-1], "min": xs[0]}  # fmt: skip


MEASUREMENTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "pg_overhead": measure_pg_overhead,
    "pg_overhead_client": pg_overhead_client,
    "workers": measure_workers,
    "resume_curve": measure_resume_curve,
    "waiting": measure_waiting,
    "list": measure_list,
    "schedules": measure_schedules,
}
