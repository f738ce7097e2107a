"""Server mode: 8 client processes run flows against one ``kitaru server start --db postgresql://``
on loopback; checkpoints per second (all clients) and the p50/p99 latency of one checkpoint call
as a client sees it (one journal write through the server to PostgreSQL).

``python -m benchmarks.server_bench [--clients 8] [--seconds 10]``; ``benchmarks.run`` calls
:func:`measure` and prints the figures under its table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import REPO
from kitaru.testing.services import free_port, wait_until_serving

CLIENT = """
import json, sys, time
from kitaru import checkpoint, flow

@checkpoint
def step(i: int) -> int:
    return i + 1

LAT: list[float] = []

@flow
def bench(n: int) -> int:
    x = 0
    for i in range(n):
        t = time.perf_counter()
        x = step(x)
        LAT.append(time.perf_counter() - t)
    return x

if __name__ == "__main__":
    bench(1)   # warm up: imports, stack resolution, connections
    LAT.clear()
    start, deadline = time.perf_counter(), time.perf_counter() + float(sys.argv[1])
    while time.perf_counter() < deadline:
        bench(20)
    json.dump({"lat": LAT, "elapsed": time.perf_counter() - start}, open(sys.argv[2], "w"))
"""

ADMIN_URL = os.environ.get(
    "KITARU_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def measure(clients: int = 8, seconds: float = 10.0) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="kitaru-bench-server-"))
    db = f"kitaru_bench_{os.getpid()}"
    _pg(f'DROP DATABASE IF EXISTS "{db}"')
    _pg(f'CREATE DATABASE "{db}"')
    url = ADMIN_URL.rpartition("/")[0] + "/" + db
    port = free_port()
    env = {**os.environ, "KITARU_HOME": str(tmp / "server"), "PYTHONPATH": str(REPO)}
    for name in ("KITARU_SERVER_URL", "KITARU_API_KEY", "KITARU_DB_URL"):
        env.pop(name, None)
    log = tmp / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "kitaru.cli", "server", "start", "--db", url,
             "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        if not wait_until_serving(base + "/health", server, 30, interval=0.1):
            return {"error": "server did not start", "log": log.read_text()[-2000:]}
        key = re.findall(r"kitaru_[0-9a-f]+_\S+", log.read_text())[0]
        script = tmp / "client.py"
        script.write_text(CLIENT)
        procs = []
        for n in range(clients):
            cenv = {**env, "KITARU_HOME": str(tmp / f"client{n}"), "KITARU_SERVER_URL": base,
                    "KITARU_API_KEY": key}  # fmt: skip
            procs.append(subprocess.Popen([sys.executable, str(script), str(seconds),
                                           str(tmp / f"lat{n}.json")], env=cenv, cwd=tmp))  # fmt: skip
        for p in procs:
            p.wait(timeout=seconds + 120)
        lat: list[float] = []
        total_rate = 0.0
        for n in range(clients):
            data = json.loads((tmp / f"lat{n}.json").read_text())
            lat += data["lat"]
            total_rate += len(data["lat"]) / data["elapsed"]
        lat.sort()
        return {
            "clients": clients,
            "seconds": seconds,
            "checkpoints": len(lat),
            "checkpoints_per_s": round(total_rate, 1),
            "p50_ms": round(statistics.median(lat) * 1000, 3),
            "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 3),
            "store": "PostgreSQL 15 (loopback), fully durable commits",
        }
    finally:
        server.terminate()
        server.wait(10)
        _pg(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.server_bench", description=__doc__)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    print(json.dumps(measure(args.clients, args.seconds), indent=1))


if __name__ == "__main__":
    main()
