"""One runner per execution: a frozen worker that outlives its lease is fenced off.

A worker is paused (SIGSTOP) for longer than its lease, another process takes the execution
over with ``kitaru executions resume``, then the first is continued (SIGCONT) while the second
runs. The stale worker may finish the body it was in (its result is discarded), starts no other
body, records nothing more and exits non-zero with one line. Runs embedded and connected to a
server over PostgreSQL (``e2e_mode``, see e2e_modes.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from kitaru import KitaruClient
from tests.conftest import subprocess_env

N = 20
TTL = 2.0

SCRIPT = textwrap.dedent(
    """
    import os, time
    from kitaru import checkpoint, flow

    def note(line: str) -> None:
        with open(os.environ["COUNTS_FILE"], "a") as f:
            f.write(f"{line} {os.getpid()}\\n")

    @checkpoint
    def step(i: int) -> str:
        note(f"start {i}")
        time.sleep(0.3)
        note(f"end {i}")
        return f"{i}:{os.getpid()}"

    @flow
    def twenty(n: int) -> int:
        return sum(int(step(i).split(":")[0]) for i in range(n))
    """
)


@dataclass
class Outcome:
    """What the stale runner did after it was continued, and how both processes ended."""

    twice: list[int]  # checkpoint bodies that ran to the end in both processes
    stale_starts: list[int]  # bodies the stale runner started after the take-over
    in_flight: int | None  # the body the stale runner was in when paused
    journal_pids: dict[int, int]  # checkpoint -> the pid whose result the journal holds
    stale: subprocess.CompletedProcess[str]
    taker: subprocess.CompletedProcess[str]
    stale_pid: int
    taker_pid: int
    status: str


def _lines(counts: Path) -> list[tuple[str, int, int]]:
    if not counts.exists():
        return []
    out = []
    for line in counts.read_text().splitlines():
        kind, i, pid = line.split()
        out.append((kind, int(i), int(pid)))
    return out


def _wait_for(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def pause_take_over_continue(tmp_path: Path) -> Outcome:
    """The scenario of the module doc; returns what happened."""
    script = tmp_path / "twenty.py"
    script.write_text(SCRIPT)
    counts = tmp_path / "counts.txt"
    env = subprocess_env(COUNTS_FILE=str(counts), KITARU_LEASE_TTL=str(TTL),
                         KITARU_HEARTBEAT_INTERVAL="0.2")  # fmt: skip
    cli = [sys.executable, "-m", "kitaru.cli"]
    stale = subprocess.Popen([*cli, "run", f"{script}:twenty", "--input", f'{{"n": {N}}}'],
                             env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    _wait_for(lambda: ("end", 4, stale.pid) in _lines(counts))
    time.sleep(0.1)  # inside body 5
    os.kill(stale.pid, signal.SIGSTOP)
    started_before = {i for kind, i, pid in _lines(counts) if kind == "start"}
    ended_before = {i for kind, i, pid in _lines(counts) if kind == "end"}
    in_flight = max(started_before - ended_before, default=None)
    try:
        time.sleep(TTL + 1.0)  # the lease expires while the worker is frozen
        ex = KitaruClient().executions.list(limit=1)[0]
        assert ex.status == "crashed", ex.status
        taker = subprocess.Popen([*cli, "executions", "resume", ex.id], env=env, cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        _wait_for(lambda: any(pid == taker.pid for _, _, pid in _lines(counts)))
    finally:
        os.kill(stale.pid, signal.SIGCONT)
    stale_out, stale_err = stale.communicate(timeout=120)
    taker_out, taker_err = taker.communicate(timeout=120)
    lines = _lines(counts)
    ends: dict[int, set[int]] = {}
    for kind, i, pid in lines:
        if kind == "end":
            ends.setdefault(i, set()).add(pid)
    info = KitaruClient().executions.get(ex.id)
    journal_pids = {
        int(c.preview.strip("'\"").split(":")[0]): int(c.preview.strip("'\"").split(":")[1])
        for c in info.checkpoints
        if c.status == "completed" and c.preview
    }
    return Outcome(
        twice=sorted(i for i, pids in ends.items() if len(pids) > 1),
        stale_starts=sorted(i for kind, i, pid in lines
                            if kind == "start" and pid == stale.pid and i not in started_before),
        in_flight=in_flight, journal_pids=journal_pids,
        stale=subprocess.CompletedProcess(stale.args, stale.returncode, stale_out, stale_err),
        taker=subprocess.CompletedProcess(taker.args, taker.returncode, taker_out, taker_err),
        stale_pid=stale.pid, taker_pid=taker.pid, status=info.status,
    )  # fmt: skip


def test_a_frozen_worker_that_outlived_its_lease_is_fenced_off(
    tmp_path: Path, e2e_mode: str
) -> None:
    got = pause_take_over_continue(tmp_path)
    print(f"bodies run twice: {got.twice} (in flight at the pause: {got.in_flight})")
    assert got.taker.returncode == 0, got.taker.stderr
    assert got.taker.stdout.strip().splitlines()[-1].endswith(str(sum(range(N)))), got.taker.stdout
    assert got.status == "completed"
    # the stale runner: no body started after the take-over; only the in-flight one finished
    assert got.stale_starts == [], got
    assert got.twice in ([], [got.in_flight]), got
    # its result is discarded: every checkpoint from the in-flight one on is the taker's
    assert sorted(got.journal_pids) == list(range(N))
    assert got.in_flight is not None
    assert {got.journal_pids[i] for i in range(got.in_flight, N)} == {got.taker_pid}, got
    # it exits non-zero with one line (and a hint) saying another runner took over
    assert got.stale.returncode != 0
    err = [line for line in got.stale.stderr.splitlines() if line.strip()]
    assert err[0].startswith("error: ") and "taken over by another runner" in err[0], err
    assert len(err) <= 2 and all(not line.startswith("Traceback") for line in err), err


def test_a_client_that_outlives_a_server_outage_keeps_its_execution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server is down longer than the lease while a connected client runs a flow. The
    restarted server does not hand the execution to a recovery worker while its client can
    still come back; the client renews its lease and finishes, every body ran once."""
    from tests.server.conftest import start_server, stop
    from tests.store.conftest import create_database, database_url, drop_database

    monkeypatch.setenv("KITARU_LEASE_TTL", str(TTL))
    monkeypatch.setenv("KITARU_HEARTBEAT_INTERVAL", "0.2")
    name = create_database()
    server = start_server(tmp_path / "home", db_url=database_url(name))
    try:
        script = tmp_path / "twenty.py"
        script.write_text(SCRIPT)
        counts = tmp_path / "counts.txt"
        env = server.env(COUNTS_FILE=str(counts), KITARU_HOME=str(tmp_path / "client"))
        client = subprocess.Popen(
            [sys.executable, "-m", "kitaru.cli", "run", f"{script}:twenty", "--input",
             f'{{"n": {N}}}'], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        _wait_for(lambda: ("end", 4, client.pid) in _lines(counts))
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        time.sleep(TTL + 1.0)  # the client's lease expires while the server is down
        port = int(server.url.rsplit(":", 1)[1])
        server = start_server(tmp_path / "home", port, db_url=database_url(name),
                              admin_key=server.admin_key)  # fmt: skip
        out, err = client.communicate(timeout=120)
        assert client.returncode == 0, err
        assert out.strip().splitlines()[-1].endswith(str(sum(range(N)))), out
        ends = [i for kind, i, _ in _lines(counts) if kind == "end"]
        assert sorted(ends) == list(range(N)), ends  # each body ran once
        assert {pid for _, _, pid in _lines(counts)} == {client.pid}
        time.sleep(TTL + 0.5)  # the server's second recovery pass has run: it took nothing
        assert "recovering" not in server.log.read_text()
    finally:
        stop(server)
        drop_database(name)
