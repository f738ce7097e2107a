"""Helpers shared by the Kitaru and DBOS measurements (stdlib only: imported by every child)."""

from __future__ import annotations

import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

#: Checkpoints (steps) per flow for the per-call metrics.
N_CALLS = 1000


def bench_tmp() -> Path:
    """The fresh temporary directory of this measurement (set by ``run.py``)."""
    return Path(os.environ["BENCH_TMP"])


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def summary(xs: list[float]) -> dict[str, Any]:
    """Median plus the spread, for the JSON file."""
    return {
        "median": statistics.median(xs),
        "mean": statistics.fmean(xs),
        "min": min(xs),
        "max": max(xs),
        "n": len(xs),
        "samples": [round(x, 6) for x in xs],
    }


def paired_overhead(
    with_calls: Callable[[int], Any], plain: Callable[[int], Any], n: int, repeats: int
) -> dict[str, Any]:
    """(time of a flow making ``n`` journaled calls - the same body with plain calls) / n, in
    ms, alternating which runs first so drift hits both alike. Callers warm both up first."""
    per_call, with_ms, plain_ms = [], [], []
    for r in range(repeats):
        order = [(True, with_calls), (False, plain)]
        took: dict[bool, float] = {}
        for journaled, f in order if r % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            assert f(n) == n
            took[journaled] = time.perf_counter() - t0
        with_ms.append(took[True] * 1000)
        plain_ms.append(took[False] * 1000)
        per_call.append((took[True] - took[False]) * 1000 / n)
    return {
        "overhead_ms": summary(per_call),
        "flow_with_checkpoints_ms": summary(with_ms),
        "flow_plain_ms": summary(plain_ms),
        "n": n,
    }


def sequential_rate(call: Callable[[int], Any], seconds: float) -> dict[str, Any]:
    """Call ``call(i)`` (which must return ``i + 1``) back to back for ``seconds``."""
    lat = []
    start = time.perf_counter()
    count = 0
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        assert call(count) == count + 1
        lat.append((time.perf_counter() - t0) * 1000)
        count += 1
    elapsed = time.perf_counter() - start
    return {
        "flows_per_s": count / elapsed,
        "count": count,
        "latency_ms": summary(lat) | {"samples": None},
    }


def wait_until(pred: Callable[[], Any], timeout: float = 30.0, interval: float = 0.002) -> Any:
    """Poll ``pred`` until it returns something truthy (returned); TimeoutError after ``timeout``."""
    stop = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > stop:
            raise TimeoutError(f"condition not met within {timeout}s")
        time.sleep(interval)


def random_pause(rng: random.Random, lo: float = 0.02, hi: float = 0.06) -> None:
    """Sleep a random time, so input arrives at a random phase of any polling loop."""
    time.sleep(rng.uniform(lo, hi))


# -- stamps: "the flow's next line ran at ..." -------------------------------------------------
def stamps_path() -> Path:
    return bench_tmp() / "stamps.jsonl"


def stamp(tag: str, **extra: Any) -> None:
    """Append one line (wall clock, perf counter) to this measurement's stamp file.

    Flow bodies call it; it works from any process (worker, recovery helper) of the measurement.
    """
    line = {"tag": tag, "wall": time.time(), "perf_ns": time.perf_counter_ns(), **extra}
    with open(stamps_path(), "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


def read_stamps(tag: str) -> list[dict[str, Any]]:
    path = stamps_path()
    if not path.exists():
        return []
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip():
            rec = json.loads(raw)
            if rec["tag"] == tag:
                out.append(rec)
    return out


def wait_for_stamps(tag: str, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]] | None:
        found = read_stamps(tag)
        return found if len(found) >= count else None

    return wait_until(enough, timeout=timeout, interval=0.001)  # type: ignore[no-any-return]


# -- child processes --------------------------------------------------------------------------
def child_cmd(system: str, metric: str, params: dict[str, Any], out: Path) -> list[str]:
    return [sys.executable, "-m", "benchmarks.run", "--child", system, metric, str(out),
            json.dumps(params)]  # fmt: skip


def spawn_child(
    system: str, metric: str, params: dict[str, Any], out: Path, timeout: float = 120.0
) -> dict[str, Any]:
    """Run one measurement (or helper) in a child process with this environment; its result."""
    proc = subprocess.run(
        child_cmd(system, metric, params, out), cwd=REPO, env=os.environ.copy(),
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    if proc.returncode != 0 or not out.exists():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{system} {metric} failed (exit {proc.returncode}):\n{tail}")
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def write_result(out: Path, result: dict[str, Any]) -> None:
    tmp = Path(str(out) + ".part")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, out)


# -- SQLite ------------------------------------------------------------------------------------
def db_bytes(path: Path) -> int:
    """Size of a SQLite database after folding its WAL back in: main file + -wal + -journal."""
    conn = sqlite3.connect(path, timeout=30.0)
    try:
        for _ in range(50):
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                break
            time.sleep(0.02)
    finally:
        conn.close()
    total = 0
    for suffix in ("", "-wal", "-journal"):
        p = Path(str(path) + suffix)
        if p.exists():
            total += p.stat().st_size
    return total


def journal_mode(path: Path) -> str:
    conn = sqlite3.connect(path, timeout=30.0)
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


def sqlite_floor(ops: int = 2000) -> dict[str, Any]:
    """One INSERT + COMMIT in WAL mode with synchronous=NORMAL: the cost of any durable write."""
    path = bench_tmp() / "floor.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, v BLOB, at REAL)")
    payload = b"x" * 16
    for i in range(100):  # warm up
        conn.execute("INSERT INTO t (k, v, at) VALUES (?,?,?)", (f"w{i}", payload, time.time()))
    times = []
    for i in range(ops):
        t0 = time.perf_counter_ns()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (k, v, at) VALUES (?,?,?)", (f"k{i}", payload, time.time()))
        conn.execute("COMMIT")
        times.append((time.perf_counter_ns() - t0) / 1e6)
    conn.close()
    return {
        "insert_commit_ms": summary(times) | {"samples": None},
        "sqlite_version": sqlite3.sqlite_version,
    }


# -- machine and subprocess timing -------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
            check=False,
        ).stdout.strip() or None  # fmt: skip
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory": mem,
        "sqlite": sqlite3.sqlite_version,
        "git_commit": commit,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "versions": _versions(),
    }


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in ("kitaru", "dbos", "sqlalchemy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def min_wall(cmd: list[str], runs: int, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Wall time of a whole subprocess (start to exit), min over ``runs``; None when it fails."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
        dt = time.perf_counter() - t0
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            return {"error": lines[-1] if lines else f"exit code {proc.returncode}"}
        times.append(dt * 1000)
    return {"min_ms": min(times), "median_ms": statistics.median(times), "runs": runs}
