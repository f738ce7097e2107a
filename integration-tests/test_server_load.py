"""Load on loopback: 8 client processes run flows against one server for a bounded time. The
server is SIGKILLed and restarted in the middle. Every execution a client started completes,
with every journal record in place, and none is duplicated."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import Server, start_server, stop

CLIENT = """
import json, sys, time
import kitaru
from kitaru import checkpoint, flow

@checkpoint
def step(i: int, n: int) -> int:
    return i * 10 + n

@flow
def loaded(i: int) -> list[int]:
    return [step(i, n) for n in range(3)]

if __name__ == "__main__":
    first = loaded.run(i=0)  # the first one proves the client is connected and warm
    print(json.dumps({"ready": True, "id": first.id, "i": 0, "result": first.wait(timeout=120)}),
          flush=True)
    deadline = time.time() + float(sys.argv[2])
    i = 0
    while time.time() < deadline:
        i += 1
        handle = loaded.run(i=i)
        print(json.dumps({"id": handle.id, "i": i, "result": handle.wait(timeout=120),
                          "t": round(time.time() - deadline + float(sys.argv[2]), 2)}),
              flush=True)
"""

CLIENTS = 8
SECONDS = 10.0


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The server's metadata store: its embedded SQLite, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    from tests.store.conftest import create_database, database_url, drop_database

    name = create_database()
    try:
        yield database_url(name)
    finally:
        drop_database(name)


@pytest.mark.timeout(300)
def test_eight_clients_survive_a_server_kill(db_url: str | None, tmp_path: Path) -> None:
    server = start_server(tmp_path / "home", db_url=db_url)
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    try:
        outs = [tmp_path / f"client{n}.out" for n in range(CLIENTS)]
        clients = []
        for n in range(CLIENTS):
            with open(outs[n], "w") as out, open(outs[n].with_suffix(".err"), "w") as err:
                clients.append(subprocess.Popen(
                    [sys.executable, str(script), str(n), str(SECONDS)], cwd=tmp_path,
                    env=server.env(KITARU_HOME=str(tmp_path / f"client{n}")), stdout=out,
                    stderr=err,
                ))  # fmt: skip
        deadline = time.time() + 120
        while not all(o.read_text().strip() for o in outs):  # every client has run one flow
            assert time.time() < deadline and all(p.poll() is None for p in clients), [
                o.with_suffix(".err").read_text()[-2000:] for o in outs]  # fmt: skip
            time.sleep(0.05)
        time.sleep(SECONDS / 3)  # then kill the server while they run flows
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        time.sleep(0.5)
        port = int(server.url.rsplit(":", 1)[1])
        server = start_server(tmp_path / "home", port, db_url=db_url, admin_key=server.admin_key)
        runs = []
        for proc, out_file in zip(clients, outs, strict=True):
            proc.wait(timeout=240)
            assert proc.returncode == 0, out_file.with_suffix(".err").read_text()[-3000:]
            runs += [json.loads(line) for line in out_file.read_text().splitlines()]
        assert len(runs) >= CLIENTS  # every client got work done
        for run in runs:
            assert run["result"] == [run["i"] * 10 + n for n in range(3)]
        print(f"{len(runs)} executions by {CLIENTS} clients in {SECONDS:.0f} s, one server kill")
        check_store(server, runs, db_url)
    finally:
        stop(server)


def check_store(server: Server, runs: list[dict], db_url: str | None) -> None:
    from kitaru.store import open_store

    store = open_store(db_url or str(server.home / "kitaru.db"))
    try:
        executions = store.list_executions(limit=1_000_000)
        assert sorted(e.id for e in executions) == sorted(r["id"] for r in runs)  # no duplicate
        for e in executions:
            assert e.status == "completed", e
            journal = store.load_journal(e.pk)
            assert sorted(journal) == ["step", "step#2", "step#3"]
            assert all(c.status == "completed" for c in journal.values())
    finally:
        store.close()
