"""DBOS 3.4's side of the cost curves (``curves.py``), on throwaway PostgreSQL databases.

DBOS is a process-wide singleton: each process launches it once on one database, so workers,
crash helpers and the process holding waiting workflows are children of the measurement
(``spawn_child``/``Popen`` of ``run.py --child dbos ...``). Configuration: the documented minimum
(name + ``system_database_url``) plus ``run_admin_server: False`` and ``log_level: WARNING``;
queues are registered with ``worker_concurrency`` equal to Kitaru's ``--concurrency``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSClient, DBOSConfig, SetWorkflowID

from benchmarks.common import (
    REPO,
    bench_tmp,
    child_cmd,
    paired_overhead,
    spawn_child,
    summary,
    wait_until,
    write_result,
)
from benchmarks.curves import (
    _dist,
    _mark_of,
    processes_of_this_measurement,
    rss_kib,
    threads_of,
    until_count,
)
from benchmarks.pg import query, scratch_db, server_version

#: DBOS polls its queues this often (its default is 1 s; Kitaru's workers ask every 0.2 s,
#: every 0.02 s while they find work)
QUEUE_POLL_S = 0.2


#: connections per DBOS queue worker (Kitaru's workers use a few each; DBOS's default pool is 20)
POOL_SIZE = 8


def launch(url: str, pool_size: int | None = None) -> None:
    config: DBOSConfig = {
        "name": "kitaru-bench",
        "system_database_url": url,
        "run_admin_server": False,  # type: ignore[typeddict-unknown-key]
        "log_level": "WARNING",
    }
    if pool_size is not None:  # 8 workers x DBOS's default 20 overran max_connections = 100
        config["sys_db_pool_size"] = pool_size
    DBOS(config=config)
    DBOS.launch()


def _mark(name: str) -> None:
    d = bench_tmp() / "marks"
    d.mkdir(exist_ok=True)
    tmp = d / f".{name}.part"
    tmp.write_text(json.dumps({"wall": time.time()}))
    os.replace(tmp, d / f"{name}.json")


# -- workflows ------------------------------------------------------------------------------------
@DBOS.step()
def step(i: int) -> int:
    return i + 1


@DBOS.workflow()
def work_wf(n: int) -> int:
    x = 0
    for _ in range(n):
        x = step(x)
    return x


@DBOS.workflow()
def resume_n_wf(n: int) -> int:
    t0 = time.perf_counter_ns()
    x = 0
    for _ in range(n):
        x = step(x)
    d = bench_tmp() / "marks"
    d.mkdir(exist_ok=True)
    with open(d / "resume.jsonl", "a") as f:
        f.write(json.dumps({"n": n, "ns": time.perf_counter_ns() - t0, "wall": time.time()}) + "\n")
    DBOS.recv("go", timeout_seconds=3600)
    return x


@DBOS.workflow()
def wait_one_wf(tag: str) -> bool:
    value = DBOS.recv("go", timeout_seconds=3600)
    _mark(f"cont-{tag}")
    return bool(value)


@DBOS.workflow()
def sched_wf(scheduled: datetime, context: Any) -> None:
    lag = time.time() - scheduled.timestamp()
    _mark(f"sched-{time.time_ns()}-{lag:.6f}")


# -- processes ------------------------------------------------------------------------------------
@contextmanager
def dbos_process(
    metric: str, params: dict[str, Any], name: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A long-lived DBOS child (``run.py --child dbos METRIC``) until it marks ``ready-NAME``."""
    log = bench_tmp() / f"{name}.log"
    cmd = child_cmd("dbos", metric, params | {"name": name}, bench_tmp() / f"{name}.json")
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_until(lambda: _mark_of(f"ready-{name}") or proc.poll() is not None, timeout=180,
                   interval=0.05)  # fmt: skip
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)


def _serve_forever(params: dict[str, Any]) -> dict[str, Any]:
    _mark(f"ready-{params['name']}")
    while True:
        time.sleep(3600)


# -- 1. per-step overhead on PostgreSQL ------------------------------------------------------------
def measure_pg_overhead(params: dict[str, Any]) -> dict[str, Any]:
    from benchmarks.dbos_bench import plain_wf, steps_wf

    n, repeats = int(params.get("n", 200)), int(params.get("repeats", 3))
    with scratch_db("dbos_bench_ovh") as url:
        launch(url)
        steps_wf(20)
        plain_wf(20)
        direct = paired_overhead(steps_wf, plain_wf, n, repeats)
        DBOS.destroy()
    return {"n": n, "repeats": repeats, "postgres": server_version(), "direct": direct}


# -- 2. throughput with N worker processes on one queue -------------------------------------------
def queue_worker(params: dict[str, Any]) -> dict[str, Any]:
    launch(params["url"], pool_size=POOL_SIZE)
    DBOS.register_queue(params["queue"], worker_concurrency=int(params["concurrency"]),
                        polling_interval_sec=QUEUE_POLL_S)  # fmt: skip
    return _serve_forever(params)


def measure_workers(params: dict[str, Any]) -> dict[str, Any]:
    flows = int(params.get("flows", 200))
    cps = int(params.get("checkpoints", 5))
    conc = int(params.get("concurrency", 4))
    counts = [int(x) for x in params.get("workers", [1, 2, 4, 8])]
    out: dict[str, Any] = {"flows": flows, "checkpoints_per_flow": cps, "queue_poll_s": QUEUE_POLL_S,
                           "concurrency_per_worker": conc, "by_workers": {}}  # fmt: skip
    with scratch_db("dbos_bench_workers") as url:
        launch(url)  # this process enqueues (and serves no queue of the curve)
        for w in counts:
            stage, q = f"stage{w}", f"q{w}"
            staged = DBOS.register_queue(stage, worker_concurrency=1, polling_interval_sec=3600.0)
            t0 = time.perf_counter()
            for i in range(flows):
                with SetWorkflowID(f"w{w}-{i}"):
                    staged.enqueue(work_wf, cps)
            enqueue_s = time.perf_counter() - t0
            with ExitStack() as stack:
                for i in range(w):
                    stack.enter_context(dbos_process("queue_worker", {
                        "url": url, "queue": q, "concurrency": conc}, f"worker-{q}-{i}"))  # fmt: skip
                released = time.time()
                query(url, "UPDATE dbos.workflow_status SET queue_name = %s WHERE queue_name = %s",
                      (q, stage))  # fmt: skip
                until_count(url, "SELECT count(*) FROM dbos.workflow_status WHERE "
                            "queue_name = %s AND status = 'SUCCESS'", (q,), flows)  # fmt: skip
                (last,), = query(url, "SELECT max(updated_at) FROM dbos.workflow_status "
                                 "WHERE queue_name = %s", (q,))  # fmt: skip
                by = query(url, "SELECT executor_id, count(*) FROM dbos.workflow_status WHERE "
                           "queue_name = %s GROUP BY 1", (q,))  # fmt: skip
            span = last / 1000 - released
            out["by_workers"][str(w)] = {
                "flows_per_s": flows / span, "checkpoints_per_s": flows * cps / span,
                "seconds": span, "enqueue_per_s": flows / enqueue_s, "executors": len(by),
            }  # fmt: skip
        # no DBOS.destroy(): the child ends with os._exit, the database is dropped with FORCE
    return out


# -- 3. resume (recovery) time vs journal length ---------------------------------------------------
def _resume_records() -> list[dict[str, Any]]:
    p = bench_tmp() / "marks" / "resume.jsonl"
    if not p.exists():
        return []
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()]


def resume_phase_a(params: dict[str, Any]) -> dict[str, Any]:
    """Helper: run ``resume_n_wf(n)`` until it blocks in recv, then die (it stays PENDING)."""
    launch(params["url"])
    with SetWorkflowID(params["workflow_id"]):
        DBOS.start_workflow(resume_n_wf, params["n"])
    wait_until(lambda: len(_resume_records()) >= params["count"], timeout=3600, interval=0.01)
    time.sleep(0.3)
    write_result(params["_out"], {"ok": True})
    os._exit(0)


def resume_phase_b(params: dict[str, Any]) -> dict[str, Any]:
    """Helper: launch DBOS, whose startup recovery re-runs the workflow over its recorded steps."""
    t_launch = time.time()
    launch(params["url"])
    rec = wait_until(lambda: len(_resume_records()) >= params["count"] and _resume_records()[-1],
                     timeout=3600, interval=0.01)  # fmt: skip
    DBOS.send(params["workflow_id"], True, "go")
    assert DBOS.retrieve_workflow(params["workflow_id"]).get_result() == params["n"]
    return {"in_body_ms": rec["ns"] / 1e6, "launch_to_fast_forwarded_ms":
            (rec["wall"] - t_launch) * 1000}  # fmt: skip


def measure_resume_curve(params: dict[str, Any]) -> dict[str, Any]:
    sizes = [int(x) for x in params.get("sizes", [1000])]
    out: dict[str, Any] = {"sizes": sizes, "postgres": {}}
    with scratch_db("dbos_bench_resume") as url:
        count = 0
        for n in sizes:
            wid = f"resume-{n}"
            count += 1
            spawn_child("dbos", "resume_phase_a_pg", {"url": url, "workflow_id": wid, "n": n,
                        "count": count}, bench_tmp() / f"a-{n}.json", timeout=3600)  # fmt: skip
            count += 1
            b = spawn_child("dbos", "resume_phase_b_pg", {"url": url, "workflow_id": wid, "n": n,
                            "count": count}, bench_tmp() / f"b-{n}.json", timeout=3600)  # fmt: skip
            out["postgres"][str(n)] = {"per_cached_call_ms_in_body": b["in_body_ms"] / n,
                                       "launch_to_fast_forwarded_ms":
                                       b["launch_to_fast_forwarded_ms"]}  # fmt: skip
    return out


# -- 4. N workflows waiting at once ----------------------------------------------------------------
def wait_holder(params: dict[str, Any]) -> dict[str, Any]:
    """Helper: start N workflows that block in ``DBOS.recv`` (one thread each, DBOS's model)."""
    launch(params["url"])
    time.sleep(1.0)
    idle = {"rss_mib": rss_kib(os.getpid()) / 1024, "threads": threads_of(os.getpid())}
    write_result(bench_tmp() / "holder-idle.json", idle)
    for i in range(int(params["n"])):
        with SetWorkflowID(f"wait-{i}"):
            DBOS.start_workflow(wait_one_wf, str(i))
    return _serve_forever(params)


def measure_waiting(params: dict[str, Any]) -> dict[str, Any]:
    n, samples = int(params.get("executions", 1000)), int(params.get("samples", 20))
    out: dict[str, Any] = {"executions": n}
    with scratch_db("dbos_bench_wait") as url:
        t0 = time.perf_counter()
        with dbos_process("wait_holder", {"url": url, "n": n}, "holder") as proc:
            out["all_started_after_s"] = time.perf_counter() - t0
            wait_until(lambda: int(query(url, "SELECT count(*) FROM dbos.workflow_status WHERE "
                                         "status = 'PENDING'")[0][0]) >= n,
                       timeout=3600, interval=0.5)  # fmt: skip
            time.sleep(3.0)  # every workflow inside recv
            procs = processes_of_this_measurement()
            out["with_all_waiting"] = {
                "holder_rss_mib": rss_kib(proc.pid) / 1024,
                "holder_threads": threads_of(proc.pid),
                "holder_idle": json.loads((bench_tmp() / "holder-idle.json").read_text()),
                "processes": len(procs), "process_list": procs,
            }  # fmt: skip
            client = DBOSClient(system_database_url=url)
            rng = random.Random(4)
            lat = []
            for i in rng.sample(range(n), samples):
                time.sleep(rng.uniform(0.02, 0.25))
                t_in = time.time()
                client.send(f"wait-{i}", True, "go")
                rec = wait_until(partial(_mark_of, f"cont-{i}"), timeout=60, interval=0.002)
                lat.append((rec["wall"] - t_in) * 1000)
            client.destroy()
            out["input_to_continues_ms"] = summary(lat)
    return out


# -- 5. listing with N workflows in the store -----------------------------------------------------
def measure_list(params: dict[str, Any]) -> dict[str, Any]:
    from benchmarks.curves import SEED_FLOW, _timed

    n, reps = int(params.get("executions", 10_000)), int(params.get("repeats", 15))
    out: dict[str, Any] = {"executions": n}
    with scratch_db("dbos_bench_list") as url:
        launch(url)
        work_wf(1)
        DBOS.destroy()
        cols = [r[0] for r in query(url, "SELECT column_name FROM information_schema.columns "
                                    "WHERE table_schema = 'dbos' AND table_name = "
                                    "'workflow_status' ORDER BY ordinal_position")]  # fmt: skip
        sub = {
            "workflow_uuid": "md5(g::text)",
            "name": SEED_FLOW,
            "status": "CASE WHEN g % 100 < 88 THEN 'SUCCESS' WHEN g % 100 < 97 THEN 'ERROR' "
            "ELSE 'CANCELLED' END",
            "created_at": "w.created_at + g",
            "updated_at": "w.updated_at + g",
        }
        select = ", ".join(sub.get(c, f"w.{c}") for c in cols)
        t0 = time.perf_counter()
        query(url, f"INSERT INTO dbos.workflow_status ({', '.join(cols)}) SELECT {select} FROM "
              f"dbos.workflow_status w, generate_series(2, {n}) AS g")  # fmt: skip
        query(url, "ANALYZE dbos.workflow_status")
        out["seed_s"] = time.perf_counter() - t0
        client = DBOSClient(system_database_url=url)

        def ls(**kw: Any) -> Any:
            return lambda: client.list_workflows(limit=50, sort_desc=True, **kw)

        out["client_ms"] = {
            "newest 50": _timed(ls(), reps),
            "status ERROR": _timed(ls(status="ERROR"), reps),
            "name flow_3": _timed(ls(name="flow_3"), reps),
            "name rare": _timed(ls(name="rare"), reps),
            "newest 50, no inputs/outputs": _timed(ls(load_input=False, load_output=False), reps),
        }  # fmt: skip
        client.destroy()
        out["indexes"] = [r[0] for r in query(url, "SELECT indexdef FROM pg_indexes WHERE "
                                              "schemaname = 'dbos' AND tablename = "
                                              "'workflow_status'")]  # fmt: skip
    return out


# -- 6. schedule fire accuracy ---------------------------------------------------------------------
def sched_holder(params: dict[str, Any]) -> dict[str, Any]:
    launch(params["url"])
    every = int(params["every_s"])
    time.sleep((every - time.time() % every) + 0.2)
    for i in range(int(params["schedules"])):
        DBOS.create_schedule(schedule_name=f"s{i}", workflow_fn=sched_wf,
                             schedule=f"*/{every} * * * * *")  # fmt: skip
    return _serve_forever(params)


def measure_schedules(params: dict[str, Any]) -> dict[str, Any]:
    count, every = int(params.get("schedules", 100)), int(params.get("every_s", 20))
    fires = int(params.get("fires", 1))
    out: dict[str, Any] = {"schedules": count, "cron": f"*/{every} * * * * *", "fires": fires}
    with scratch_db("dbos_bench_sched") as url:
        with dbos_process("sched_holder", {"url": url, "schedules": count, "every_s": every},
                          "sched"):  # fmt: skip
            # ready is marked before the schedules exist; they are created at a fire time + 0.2s
            now = time.time()
            first = (now // every + 1) * every + (every if now % every > every - 1 else 0)
            deadline = first + (fires - 1) * every + every * 0.9
            marks = Path(bench_tmp()) / "marks"
            wait_until(lambda: len(list(marks.glob("sched-*.json"))) >= count * fires
                       or time.time() > deadline, timeout=every * (fires + 3), interval=0.2)  # fmt: skip
            time.sleep(0.5)
        rows = query(url, "SELECT created_at, started_at_epoch_ms FROM dbos.workflow_status "
                     "WHERE name LIKE %s", ("%sched_wf%",))  # fmt: skip
    body = [float(p.stem.rsplit("-", 1)[1]) * 1000 for p in marks.glob("sched-*.json")]
    created = [(c / 1000 - (c / 1000 // every) * every) * 1000 for c, _ in rows]
    started = [(s / 1000 - (s / 1000 // every) * every) * 1000 for _, s in rows if s]
    out.update({"executions": len(rows), "lag_body_ms": _dist(body),
                "lag_created_ms": _dist(created), "lag_started_ms": _dist(started)})  # fmt: skip
    return out


MEASUREMENTS = {
    "pg_overhead": measure_pg_overhead,
    "workers": measure_workers,
    "queue_worker": queue_worker,
    "resume_curve": measure_resume_curve,
    "resume_phase_a_pg": resume_phase_a,
    "resume_phase_b_pg": resume_phase_b,
    "waiting": measure_waiting,
    "wait_holder": wait_holder,
    "list": measure_list,
    "schedules": measure_schedules,
    "sched_holder": sched_holder,
}

if __name__ == "__main__":  # pragma: no cover
    sys.exit("run through benchmarks.run")
