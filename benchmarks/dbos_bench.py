"""DBOS 3.4 measurements on its SQLite system database, mirroring ``kitaru_bench``.

DBOS is a process-wide singleton, so every measurement (and every helper: a process that
"crashes" mid-workflow, a process that sends a message, a process that recovers) runs in its own
child process. Workflows are registered at import time, before ``DBOS.launch()``; the DBOS
configuration is the documented minimum (name + ``system_database_url``), with DBOS's defaults
for everything that affects speed (journal mode, polling intervals).
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

from dbos import DBOS, DBOSClient, DBOSConfig, SetWorkflowID

from benchmarks.common import (
    N_CALLS,
    bench_tmp,
    db_bytes,
    journal_mode,
    paired_overhead,
    random_pause,
    sequential_rate,
    spawn_child,
    stamp,
    summary,
    wait_for_stamps,
    write_result,
)

#: DBOS's default notification polling interval on SQLite (seconds).
POLL_PERIOD = 1.0


def db_path() -> Any:
    return bench_tmp() / "dbos.sqlite"


def db_url() -> str:
    return f"sqlite:///{db_path()}"


def launch() -> None:
    config: DBOSConfig = {
        "name": "kitaru-bench",
        "system_database_url": db_url(),
        "run_admin_server": False,
        "log_level": "WARNING",
    }
    DBOS(config=config)
    DBOS.launch()


# -- workflows ------------------------------------------------------------------------------------


@DBOS.step()
def inc(i: int) -> int:
    return i + 1


def plain_inc(i: int) -> int:
    return i + 1


@DBOS.workflow()
def steps_wf(n: int) -> int:
    x = 0
    for _ in range(n):
        x = inc(x)
    return x


@DBOS.workflow()
def plain_wf(n: int) -> int:
    x = 0
    for _ in range(n):
        x = plain_inc(x)
    return x


@DBOS.workflow()
def one_step_wf(x: int) -> int:
    return inc(x)


@DBOS.workflow()
def resume_wf(n: int) -> int:
    t0 = time.perf_counter_ns()
    x = 0
    for _ in range(n):
        x = inc(x)
    stamp("resume-mark", n=n, t0=t0, t1=time.perf_counter_ns())
    DBOS.recv("go", timeout_seconds=600)
    return x


@DBOS.workflow()
def wait_wf(tag: str) -> bool:
    stamp(tag + "-entered")
    value = DBOS.recv("go", timeout_seconds=600)
    stamp(tag)  # "the workflow's next line"
    return bool(value)


def _crash(params: dict[str, Any], result: dict[str, Any]) -> None:
    """End this helper process the hard way (no shutdown): the workflow stays PENDING."""
    write_result(params["_out"], result)
    os._exit(0)


# -- 1. overhead per step -------------------------------------------------------------------------
def measure_overhead(params: dict[str, Any]) -> dict[str, Any]:
    n, repeats = N_CALLS, int(params.get("repeats", 5))
    launch()
    steps_wf(20)
    plain_wf(20)
    return paired_overhead(steps_wf, plain_wf, n, repeats)


# -- 2. sequential 1-step workflows per second ----------------------------------------------------
def measure_throughput(params: dict[str, Any]) -> dict[str, Any]:
    seconds = float(params.get("seconds", 2.0))
    launch()
    for i in range(10):
        one_step_wf(i)
    return sequential_rate(one_step_wf, seconds)


# -- 3. resume fast-forward: recovery of a crashed workflow ---------------------------------------
def resume_phase_a(params: dict[str, Any]) -> dict[str, Any]:
    """Helper: run ``resume_wf`` until it blocks in recv, then die."""
    launch()
    with SetWorkflowID(params["workflow_id"]):
        DBOS.start_workflow(resume_wf, params["n"])
    wait_for_stamps("resume-mark", 1, timeout=120)
    time.sleep(0.3)  # let it reach recv
    _crash(params, {"ok": True})
    raise AssertionError("unreachable")


def measure_resume(params: dict[str, Any]) -> dict[str, Any]:
    n, wid = N_CALLS, "resume-1"
    spawn_child("dbos", "resume_phase_a", {"workflow_id": wid, "n": n}, bench_tmp() / "a.json")
    t_launch = time.time()
    launch()  # startup recovery re-enqueues the PENDING workflow; a queue worker re-runs it
    rec = wait_for_stamps("resume-mark", 2, timeout=120)[-1]
    DBOS.send(wid, True, "go")
    assert DBOS.retrieve_workflow(wid).get_result() == n
    body_ms = (rec["t1"] - rec["t0"]) / 1e6
    return {
        "per_cached_call_ms_in_body": summary([body_ms / n]),
        "launch_to_fast_forwarded_ms": (rec["wall"] - t_launch) * 1000,
        "n": n,
    }


# -- 4. message -> workflow continues --------------------------------------------------------------
def _start_waiting(tag: str, wid: str, count: int, rng: random.Random) -> Any:
    with SetWorkflowID(wid):
        handle = DBOS.start_workflow(wait_wf, tag)
    wait_for_stamps(tag + "-entered", count)
    time.sleep(0.05)  # inside recv
    # A random phase over a whole polling period (1 s): otherwise every iteration, which starts
    # right after the previous message was noticed, would send at the same phase of the poll loop.
    random_pause(rng, 0.0, POLL_PERIOD)
    return handle


def measure_wait_same_process(params: dict[str, Any]) -> dict[str, Any]:
    repeats = int(params.get("repeats", 7))
    rng = random.Random(1)
    launch()
    lat = []
    for i in range(repeats + 1):
        wid = f"same-{i}"
        handle = _start_waiting("same", wid, i + 1, rng)
        t0 = time.perf_counter_ns()
        DBOS.send(wid, True, "go")
        rec = wait_for_stamps("same", i + 1)[-1]
        assert handle.get_result() is True
        if i:
            lat.append((rec["perf_ns"] - t0) / 1e6)
    return {"latency_ms": summary(lat)}


def send_helper(params: dict[str, Any]) -> dict[str, Any]:
    """Helper: send the message from another process through ``DBOSClient``."""
    client = DBOSClient(system_database_url=db_url())
    random_pause(random.Random(params["seed"]), 0.0, POLL_PERIOD)
    t_input = time.time()
    client.send(params["workflow_id"], True, "go")
    t_returned = time.time()
    client.destroy()
    return {"t_input": t_input, "t_returned": t_returned}


def measure_wait_other_process(params: dict[str, Any]) -> dict[str, Any]:
    repeats = int(params.get("repeats", 8))
    rng = random.Random(2)
    launch()
    lat, calls = [], []
    for i in range(repeats):
        wid = f"other-{i}"
        handle = _start_waiting("other", wid, i + 1, rng)
        out = bench_tmp() / f"send-{i}.json"
        sent = spawn_child("dbos", "send_helper", {"workflow_id": wid, "seed": i}, out)
        rec = wait_for_stamps("other", i + 1, timeout=60)[-1]
        assert handle.get_result() is True
        lat.append((rec["wall"] - sent["t_input"]) * 1000)
        calls.append((sent["t_returned"] - sent["t_input"]) * 1000)
    return {"latency_ms": summary(lat), "input_call_ms": summary(calls)}


def wait_phase_a(params: dict[str, Any]) -> dict[str, Any]:
    """Helper: start ``wait_wf``, let it block in recv, then die (nobody holds it)."""
    launch()
    with SetWorkflowID(params["workflow_id"]):
        DBOS.start_workflow(wait_wf, "cold")
    wait_for_stamps("cold-entered", params["entered"], timeout=60)
    time.sleep(0.3)
    _crash(params, {"ok": True})
    raise AssertionError("unreachable")


def recover_helper(params: dict[str, Any]) -> dict[str, Any]:
    """Helper: a fresh process that launches DBOS (which recovers the workflow) and finishes it."""
    launch()
    result = DBOS.retrieve_workflow(params["workflow_id"]).get_result()
    return {"result": result, "t_done": time.time()}


def measure_wait_cold(params: dict[str, Any]) -> dict[str, Any]:
    repeats = int(params.get("repeats", 3))
    rng = random.Random(3)
    client = DBOSClient(system_database_url=db_url())
    cont, done = [], []
    entered = 0
    for i in range(repeats):
        wid = f"cold-{i}"
        entered += 1
        spawn_child("dbos", "wait_phase_a", {"workflow_id": wid, "entered": entered},
                    bench_tmp() / f"a-{i}.json")  # fmt: skip
        random_pause(rng)
        t0 = time.time()
        client.send(wid, True, "go")
        finished = spawn_child("dbos", "recover_helper", {"workflow_id": wid},
                               bench_tmp() / f"r-{i}.json")  # fmt: skip
        entered += 1  # the recovered pass stamps "entered" again
        assert finished["result"] is True
        rec = wait_for_stamps("cold", i + 1)[-1]
        cont.append((rec["wall"] - t0) * 1000)
        done.append((finished["t_done"] - t0) * 1000)
    client.destroy()
    return {"continue_ms": summary(cont), "result_returned_ms": summary(done)}


# -- 5. storage per step ---------------------------------------------------------------------------
def measure_storage(params: dict[str, Any]) -> dict[str, Any]:
    n = N_CALLS
    launch()
    steps_wf(10)
    before = db_bytes(db_path())
    assert steps_wf(n) == n
    after = db_bytes(db_path())
    return {
        "bytes_per_checkpoint": (after - before) / n,
        "db_before": before,
        "db_after": after,
        "n": n,
        "journal_mode": journal_mode(db_path()),
    }


MEASUREMENTS = {
    "overhead": measure_overhead,
    "throughput": measure_throughput,
    "resume": measure_resume,
    "wait_same_process": measure_wait_same_process,
    "wait_other_process": measure_wait_other_process,
    "wait_cold": measure_wait_cold,
    "storage": measure_storage,
    "resume_phase_a": resume_phase_a,
    "send_helper": send_helper,
    "wait_phase_a": wait_phase_a,
    "recover_helper": recover_helper,
}


def shutdown() -> None:
    DBOS.destroy()
