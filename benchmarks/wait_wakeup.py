"""Wait input -> flow continues, with N executions waiting at once through a server on PostgreSQL.

This process is the server's client: N threads each run a flow blocked on ``kitaru.wait`` (held
here, the warm path). Then input is given to a sample of them one at a time through the REST API
(what ``kitaru executions input`` does through a server) and the time from the request to the
flow's next line is measured; then the rest are answered at once. Run once with the server's
LISTEN/NOTIFY feed and once with ``KITARU_NOTIFY=0`` (every waiter polls the server).

    .venv/bin/python benchmarks/wait_wakeup.py --waiting 1000 --sample 50

Needs PostgreSQL (``--admin-url``, default the test server); a database is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import kitaru
from kitaru import flow


@flow
def asks(n: int) -> dict[str, Any]:
    answer = kitaru.wait("go", schema=str)
    return {"answer": answer, "continued_at": time.time()}


def _http(url: str, key: str, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(url + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())  # fmt: skip
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read() or b"null")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(
    db_url: str, n: int, sample: int, notify: bool, workdir: Path, burst: bool = True
) -> dict[str, Any]:
    from kitaru.store import default_store, reset_default_store

    port = _free_port()
    home = workdir / f"server-{'notify' if notify else 'poll'}"
    home.mkdir()
    env = {**os.environ, "KITARU_HOME": str(home), "KITARU_NOTIFY": "1" if notify else "0"}
    for name in ("KITARU_SERVER_URL", "KITARU_API_KEY", "KITARU_DB_URL"):
        env.pop(name, None)
    log = open(home / "server.log", "wb")  # noqa: SIM115 - the server's lifetime
    server = subprocess.Popen([sys.executable, "-m", "kitaru.cli", "server", "start", "--port",
                               str(port), "--db", db_url], env=env, stdout=log,
                              stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        found = re.findall(r"kitaru_[0-9a-f]+_\S+", (home / "server.log").read_text())
        if not found:
            raise RuntimeError("the server did not start:\n" + (home / "server.log").read_text())
        key = found[0]
        os.environ.update(KITARU_SERVER_URL=url, KITARU_API_KEY=key,
                          KITARU_HOME=str(workdir / f"client-{port}"))  # fmt: skip
        reset_default_store()
        results: dict[str, float] = {}
        done: dict[str, threading.Event] = {}

        def hold(i: int) -> None:
            out = asks(i)
            results[out["answer"]] = out["continued_at"]
            done[out["answer"]].set()

        started = time.time()
        threads = [threading.Thread(target=hold, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        while True:
            waiting = _http(url, key, "GET", "/api/v1/executions?status=waiting&limit=1000")
            if len(waiting) >= n:
                break
            time.sleep(0.2)
        ids = [e["id"] for e in waiting]
        setup = time.time() - started
        time.sleep(2.0)  # settled: every waiter blocked in its hold
        latencies = []
        for execution_id in ids[:sample]:
            done[execution_id] = threading.Event()
            given = time.time()
            _http(url, key, "POST", f"/api/v1/executions/{execution_id}/input",
                  {"value": execution_id})  # fmt: skip
            done[execution_id].wait(120)
            latencies.append((results[execution_id] - given) * 1000)
        summary = {
            "mode": "NOTIFY" if notify else "polling",
            "waiting": n,
            "setup_s": round(setup, 1),
            "p50_ms": round(statistics.median(latencies), 1),
            "p90_ms": round(sorted(latencies)[max(0, int(len(latencies) * 0.9) - 1)], 1),
            "max_ms": round(max(latencies), 1),
        }
        print(json.dumps(summary), flush=True)
        rest = ids[sample:] if burst else []
        for execution_id in rest:
            done[execution_id] = threading.Event()
        burst_at = time.time()
        for execution_id in rest:
            _http(url, key, "POST", f"/api/v1/executions/{execution_id}/input",
                  {"value": execution_id})  # fmt: skip
        answered = time.time()
        for execution_id in rest:
            done[execution_id].wait(max(0.0, answered + 300 - time.time()))
        burst_lag = [(results[e] - burst_at) * 1000 for e in rest if e in results]
        store: Any = default_store()
        return {
            **summary,
            "rest": len(rest),
            "rest_answered_in_s": round(answered - burst_at, 2),
            "rest_all_continued_after_s": round(max(burst_lag) / 1000, 2) if burst_lag else None,
            "client_listening": store.changes() is not None,
        }
    finally:
        reset_default_store()
        server.terminate()
        server.wait(30)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=50)
    parser.add_argument("--admin-url", default=os.environ.get(
        "KITARU_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
    parser.add_argument("--modes", default="notify,poll")
    parser.add_argument(
        "--no-burst", action="store_true", help="do not answer the rest at once (slow when polling)"
    )
    args = parser.parse_args()
    import psycopg

    for mode in args.modes.split(","):
        name = f"kitaru_bench_{secrets.token_hex(4)}"
        with psycopg.connect(args.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            with tempfile.TemporaryDirectory() as tmp:
                db_url = args.admin_url.rpartition("/")[0] + "/" + name
                out = run(
                    db_url,
                    args.waiting,
                    args.sample,
                    mode == "notify",
                    Path(tmp),
                    burst=not args.no_burst,
                )
                print(json.dumps(out), flush=True)
        finally:
            with psycopg.connect(args.admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
