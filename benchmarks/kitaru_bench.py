"""Kitaru measurements. Each ``measure_*`` runs in its own child process (see ``run.py``) with
``KITARU_HOME`` and ``BENCH_TMP`` pointing into a fresh temporary directory.

The flows live at module level so a detached worker (cold wait input) can import them again.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import kitaru
from benchmarks.common import (
    N_CALLS,
    bench_tmp,
    db_bytes,
    paired_overhead,
    random_pause,
    sequential_rate,
    spawn_child,
    stamp,
    summary,
    wait_for_stamps,
    wait_until,
)
from kitaru import checkpoint, flow

# -- flows ----------------------------------------------------------------------------------------


@checkpoint
def inc(i: int) -> int:
    return i + 1


def plain_inc(i: int) -> int:
    return i + 1


@flow
def cp_flow(n: int) -> int:
    x = 0
    for _ in range(n):
        x = inc(x)
    return x


@flow
def plain_flow(n: int) -> int:
    x = 0
    for _ in range(n):
        x = plain_inc(x)
    return x


@flow
def one_cp_flow(x: int) -> int:
    return inc(x)


#: (n, perf_ns before the first call, perf_ns after the last) for every pass over resume_flow.
_marks: list[tuple[int, int, int]] = []


@flow
def resume_flow(n: int) -> int:
    t0 = time.perf_counter_ns()
    x = 0
    for _ in range(n):
        x = inc(x)
    _marks.append((n, t0, time.perf_counter_ns()))
    kitaru.wait(name="go", schema=bool)
    return x


@flow
def wait_flow(tag: str) -> bool:
    value = kitaru.wait(name="go", schema=bool)
    stamp(tag)  # "the flow's next line": wall clock and perf counter, to a file
    return bool(value)


# -- helpers --------------------------------------------------------------------------------------
def _store() -> Any:
    from kitaru.store import default_store

    return default_store()


def _released_waiting(eid: str) -> bool:
    """Waiting, and no process holds it (the run thread has let go)."""
    ex = _store().get_execution(eid)
    return ex.status == "waiting" and ex.lease_owner is None


def _held_by_me(eid: str) -> bool:
    """Waiting and held by this process (``handle.wait()`` is in its warm hold loop)."""
    from kitaru.runtime.leases import keeper

    ex = _store().get_execution(eid)
    return ex.status == "waiting" and ex.lease_owner == keeper().owner


# -- 1. overhead per small checkpoint -------------------------------------------------------------
def measure_overhead(params: dict[str, Any]) -> dict[str, Any]:
    n, repeats = N_CALLS, int(params.get("repeats", 7))
    cp_flow(50)
    plain_flow(50)
    return paired_overhead(cp_flow, plain_flow, n, repeats)


# -- 2. sequential 1-checkpoint flows per second --------------------------------------------------
def measure_throughput(params: dict[str, Any]) -> dict[str, Any]:
    seconds = float(params.get("seconds", 2.0))
    for i in range(20):
        one_cp_flow(i)
    return sequential_rate(one_cp_flow, seconds)


# -- 3. resume fast-forward ------------------------------------------------------------------------
def _resume_once(n: int) -> tuple[float, float]:
    """Run to the wait, let go; then input + wait: (seconds for that resume, in-body ns/call)."""
    h = resume_flow.run(n)
    wait_until(lambda: _released_waiting(h.id))
    time.sleep(0.005)
    t0 = time.perf_counter()
    h.input(True)
    assert h.wait(timeout=60) == n
    dt = time.perf_counter() - t0
    m = _marks[-1]
    assert m[0] == n
    return dt, (m[2] - m[1]) / max(n, 1)


def measure_resume(params: dict[str, Any]) -> dict[str, Any]:
    n, repeats = N_CALLS, int(params.get("repeats", 5))
    _resume_once(10)  # warm up: jsonschema, pydantic, threads
    _resume_once(0)
    diffs, in_body, full, empty = [], [], [], []
    for _ in range(repeats):
        dt_n, body_ns = _resume_once(n)
        dt_0, _ = _resume_once(0)
        full.append(dt_n * 1000)
        empty.append(dt_0 * 1000)
        diffs.append((dt_n - dt_0) * 1000 / n)
        in_body.append(body_ns / 1e6)
    return {
        "per_cached_call_ms_e2e": summary(diffs),
        "per_cached_call_ms_in_body": summary(in_body),
        "resume_ms_n_calls": summary(full),
        "resume_ms_0_calls": summary(empty),
        "n": n,
    }


# -- 4. wait input -> flow continues --------------------------------------------------------------
def _hold(tag: str) -> tuple[Any, threading.Thread]:
    """Start ``wait_flow`` and a thread blocked in ``handle.wait()`` holding it, warm."""
    h = wait_flow.run(tag)
    holder = threading.Thread(target=h.wait, kwargs={"timeout": 60}, daemon=True)
    holder.start()
    wait_until(lambda: _held_by_me(h.id))
    return h, holder


def measure_wait_same_process(params: dict[str, Any]) -> dict[str, Any]:
    from kitaru import KitaruClient

    repeats = int(params.get("repeats", 15))
    rng = random.Random(1)
    client = KitaruClient()
    lat = []
    for i in range(repeats + 1):
        h, holder = _hold("same")
        random_pause(rng)
        t0 = time.perf_counter_ns()
        client.executions.input(h.id, True)
        rec = wait_for_stamps("same", i + 1)[-1]
        holder.join(60)
        if i:  # the first one warms up imports
            lat.append((rec["perf_ns"] - t0) / 1e6)
    return {"latency_ms": summary(lat)}


def measure_wait_other_process(params: dict[str, Any]) -> dict[str, Any]:
    repeats = int(params.get("repeats", 8))
    lat, calls, after = [], [], []
    for i in range(repeats):
        h, holder = _hold("other")
        out = bench_tmp() / f"input-{i}.json"
        sent = spawn_child("kitaru", "input_helper", {"execution_id": h.id, "seed": i}, out)
        rec = wait_for_stamps("other", i + 1)[-1]
        holder.join(60)
        lat.append((rec["wall"] - sent["t_input"]) * 1000)
        calls.append((sent["t_returned"] - sent["t_input"]) * 1000)
        after.append((rec["wall"] - sent["t_returned"]) * 1000)
    return {
        "latency_ms": summary(lat),
        "input_call_ms": summary(calls),
        "after_input_returned_ms": summary(after),
    }


def input_helper(params: dict[str, Any]) -> dict[str, Any]:
    """Child of ``measure_wait_other_process``: ``kitaru executions input`` done via the client."""
    from kitaru import KitaruClient

    random_pause(random.Random(params["seed"]))
    t_input = time.time()
    KitaruClient().executions.input(params["execution_id"], True)
    return {"t_input": t_input, "t_returned": time.time()}


def measure_wait_cold(params: dict[str, Any]) -> dict[str, Any]:
    from kitaru import KitaruClient

    repeats = int(params.get("repeats", 4))
    client = KitaruClient()
    cont, done, calls = [], [], []
    for i in range(repeats):
        h = wait_flow.run("cold")
        wait_until(lambda h=h: _released_waiting(h.id))
        time.sleep(0.02)
        t0 = time.time()
        client.executions.input(h.id, True)  # nobody holds it: this launches a worker process
        calls.append((time.time() - t0) * 1000)
        rec = wait_for_stamps("cold", i + 1)[-1]
        ex = wait_until(lambda h=h: (e := _store().get_execution(h.id)).status == "completed" and e)
        cont.append((rec["wall"] - t0) * 1000)
        done.append((ex.ended_at - t0) * 1000)
    return {
        "continue_ms": summary(cont),
        "completed_ms": summary(done),
        "input_call_ms": summary(calls),
    }


# -- 5. storage per small checkpoint --------------------------------------------------------------
def _dir_bytes(path: Any) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure_storage(params: dict[str, Any]) -> dict[str, Any]:
    from kitaru.config import settings

    n = N_CALLS
    db = settings().db_path
    cp_flow(10)  # the store exists and every table has its first pages
    before, home_before = db_bytes(db), _dir_bytes(settings().home)
    assert cp_flow(n) == n
    after, home_after = db_bytes(db), _dir_bytes(settings().home)
    return {
        "bytes_per_checkpoint": (after - before) / n,
        "home_bytes_per_checkpoint": (home_after - home_before) / n,
        "db_before": before,
        "db_after": after,
        "n": n,
    }


MEASUREMENTS = {
    "overhead": measure_overhead,
    "throughput": measure_throughput,
    "resume": measure_resume,
    "wait_same_process": measure_wait_same_process,
    "wait_other_process": measure_wait_other_process,
    "wait_cold": measure_wait_cold,
    "storage": measure_storage,
    "input_helper": input_helper,
}
