"""Queues through a server: a client connected with KITARU_SERVER_URL enqueues (deduplicated,
with the queue's limits stored on the server), and workers connected the same way — no
database credentials on their machines — take the work and run it; a worker's API needs the
database, said in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from kitaru import Queue
from tests.conftest import subprocess_env
from tests.queues import qflows
from tests.queues.test_queues import HERE, _records, _until_done, out, workers  # noqa: F401
from tests.server.conftest import Server, connected, server  # noqa: F401 (fixtures)


def _remote_worker(server: Server, queue: str, out: Path, log: Path) -> Any:  # noqa: F811
    env = subprocess_env(KITARU_SERVER_URL=server.url, KITARU_API_KEY=server.admin_key,
                         QTEST_OUT=str(out), KITARU_HOME=str(log.parent / "worker-home"))  # fmt: skip
    env.pop("KITARU_DB_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "kitaru.cli", "serve", "qflows.py:job", "--queue", queue,
         "--concurrency", "2", "--no-api"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=HERE,
    )  # fmt: skip


def test_enqueued_through_a_server_and_run_by_workers_connected_to_it(
    server: Server, connected: Server, out: Path, tmp_path: Path, workers: list[Any],  # noqa: F811
) -> None:  # fmt: skip
    from kitaru.store import default_store
    from kitaru.store.remote import RemoteStore

    store = default_store()
    assert isinstance(store, RemoteStore)
    q = Queue("remote", concurrency=2)
    first = qflows.job.enqueue(1, queue=q, dedup_key="only-once", seconds=0.1)
    again = qflows.job.enqueue(99, queue=q, dedup_key="only-once", seconds=0.1)
    assert again.id == first.id and first.status == "queued"
    stored = store.get_queue("remote")  # the limits live on the server
    assert stored is not None and (stored.name, stored.concurrency) == ("remote", 2)
    rest = [qflows.job.enqueue(i, queue=q, seconds=0.1) for i in range(2, 7)]
    workers.extend(_remote_worker(server, "remote", out, tmp_path / f"w{i}.log") for i in range(2))
    done = _until_done(store, [first.id, *(h.id for h in rest)], timeout=180)
    logs = "".join((tmp_path / f"w{i}.log").read_text() for i in range(2))
    assert [e.status for e in done] == ["completed"] * 6, logs[-3000:]
    assert sorted(r["n"] for r in _records(out / "intervals")) == [1, 2, 3, 4, 5, 6]
    assert first.wait(timeout=30) == 1


def test_a_server_connection_serves_no_api_in_one_line(
    server: Server,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = subprocess_env(KITARU_SERVER_URL=server.url, KITARU_API_KEY=server.admin_key,
                         KITARU_HOME=str(tmp_path / "home"))  # fmt: skip
    env.pop("KITARU_DB_URL", None)
    from kitaru.testing.services import free_port

    done = subprocess.run([sys.executable, "-m", "kitaru.cli", "serve", "qflows.py:job", "--port",
                           str(free_port())], env=env, cwd=HERE, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        "error: a Kitaru server's API needs the database, not a server connection"
    ), done.stderr
