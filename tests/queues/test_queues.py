"""Durable queues: four worker processes on one PostgreSQL queue under contention (the
concurrency, per-key and rate limits hold, measured from what the flows and the store recorded,
never by wall-clock assertions), deduplication, priority order, and a worker SIGKILLed
mid-execution whose execution another worker finishes without running a completed checkpoint
twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kitaru import Queue
from kitaru.store.records import parse_owner
from tests.conftest import subprocess_env
from tests.queues import qflows

HERE = Path(__file__).parent


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "queues.db")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    monkeypatch.setenv("QTEST_OUT", str(d))
    return d


def _use(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """This process enqueues into ``db_url`` (the store the workers take from)."""
    from kitaru.store import open_store

    monkeypatch.setenv("KITARU_DB_URL", db_url if "://" in db_url else f"sqlite:///{db_url}")
    import kitaru.store as stores

    monkeypatch.setattr(stores, "default_store", lambda: store)
    store = open_store(db_url)
    return store


def _worker(queue: str, db_url: str, out: Path, concurrency: int, log: Path) -> Any:
    url = db_url if "://" in db_url else f"sqlite:///{db_url}"
    env = subprocess_env(KITARU_DB_URL=url, QTEST_OUT=str(out), KITARU_LEASE_TTL="3")
    return subprocess.Popen(
        [sys.executable, "-m", "kitaru.cli", "serve", "--queue", queue, "--concurrency",
         str(concurrency), "--no-api"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=HERE,
    )  # fmt: skip


@pytest.fixture
def workers() -> Iterator[list[Any]]:
    procs: list[Any] = []
    yield procs
    for p in procs:  # only the processes this test started
        if p.poll() is None:
            p.kill()
        p.wait(timeout=30)


def _until_done(store: Any, ids: list[str], timeout: float = 240) -> list[Any]:
    end = time.time() + timeout
    while True:
        found = [store.get_execution(i) for i in ids]
        if all(e.status in ("completed", "failed", "cancelled") for e in found):
            return found
        if time.time() > end:
            pytest.fail(f"not done: {Counter(e.status for e in found)}")
        time.sleep(0.2)


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted(
        [(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1])
    )  # an end before a start at the same instant
    best = now = 0
    for _, d in events:
        now += d
        best = max(best, now)
    return best


def test_four_workers_hold_the_limits_under_contention(
    pg_url: str, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: list[Any]
) -> None:
    store = _use(pg_url, monkeypatch)
    q = Queue("busy", concurrency=3, per_key_concurrency=1, rate_limit=(8, 1.0))
    handles = [qflows.job.enqueue(i, key=f"k{i % 4}", queue=q, seconds=0.3) for i in range(24)]
    # every worker asks for 4 at once: 16 slots wanted against 3
    workers.extend(_worker("busy", pg_url, out, 4, tmp_path / f"w{i}.log") for i in range(4))
    done = _until_done(store, [h.id for h in handles])
    assert [e.status for e in done] == ["completed"] * 24
    intervals = _records(out / "intervals")
    assert len({r["n"] for r in intervals}) == 24
    overall = _max_overlap([(r["start"], r["end"]) for r in intervals])
    per_key = max(
        _max_overlap([(r["start"], r["end"]) for r in intervals if r["n"] % 4 == k])
        for k in range(4)
    )  # the queue key of job n is f"k{n % 4}"
    taken = sorted(e.dequeued_at for e in done)
    in_window = max(sum(1 for u in taken if t <= u < t + 1.0) for t in taken)
    pids = {r["pid"] for r in intervals}
    print(
        f"\nmax concurrent {overall} (limit 3), per key {per_key} (limit 1), "
        f"max taken in 1 s {in_window} (limit 8), workers used {len(pids)}"
    )
    assert overall <= 3 and per_key == 1 and in_window <= 8
    assert overall >= 2, "contention: more than one ran at once"
    assert len(pids) >= 2, "the work was shared by several workers"


def test_dedup_returns_the_live_execution(
    db_url: str, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _use(db_url, monkeypatch)
    a = qflows.job.enqueue(1, queue="mail", dedup_key="msg-1")
    b = qflows.job.enqueue(2, queue="mail", dedup_key="msg-1")
    c = qflows.job.enqueue(3, queue="mail", dedup_key="msg-2")
    assert a.id == b.id != c.id
    assert a.status == "queued"
    ex = store.get_execution(a.id)
    assert (ex.queue, ex.dedup_key, ex.status) == ("mail", "msg-1", "queued")
    taken = store.dequeue("mail", "elsewhere:1:x", 30.0, 1)  # running now: still the same
    assert [t.id for t in taken] == [a.id]
    assert qflows.job.enqueue(4, queue="mail", dedup_key="msg-1").id == a.id
    store.set_status(ex.pk, "completed")  # once it has ended, the key is free again
    d = qflows.job.enqueue(5, queue="mail", dedup_key="msg-1")
    assert d.id != a.id
    cli = subprocess.run([sys.executable, "-m", "kitaru.cli", "run", "qflows.py:job", "--queue",
                          "mail", "--dedup-key", "msg-1", "--input", '{"n": 6}'], cwd=HERE,
                         env=subprocess_env(KITARU_DB_URL=os.environ["KITARU_DB_URL"]),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.strip() == d.id


def test_priority_order(
    db_url: str, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: list[Any]
) -> None:
    store = _use(db_url, monkeypatch)
    q = Queue("ordered", concurrency=1)
    plan = [(0, 0), (1, 5), (2, 0), (3, 9), (4, 5), (5, -1)]  # (n, priority)
    handles = [qflows.job.enqueue(n, queue=q, priority=p, seconds=0.01) for n, p in plan]
    workers.append(_worker("ordered", db_url, out, 2, tmp_path / "w.log"))
    done = _until_done(store, [h.id for h in handles])
    order = [r["n"] for r in sorted(_records(out / "intervals"), key=lambda r: r["start"])]
    assert order == [3, 1, 4, 0, 2, 5]  # highest first, then oldest
    assert [e.status for e in done] == ["completed"] * 6


def test_sigkilled_worker_loses_nothing_and_runs_nothing_twice(
    db_url: str, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: list[Any]
) -> None:
    store = _use(db_url, monkeypatch)
    handle = qflows.long.enqueue(6, 0.4, queue="fragile")
    first = _worker("fragile", db_url, out, 1, tmp_path / "w1.log")
    workers.append(first)
    end = time.time() + 120
    while not any(r["step"] == 2 for r in _records(out / "starts")):  # mid-execution
        assert time.time() < end and first.poll() is None, (tmp_path / "w1.log").read_text()
        time.sleep(0.05)
    workers.append(_worker("fragile", db_url, out, 1, tmp_path / "w2.log"))
    ex = store.get_execution(handle.id)
    assert parse_owner(ex.lease_owner or "")[1] == first.pid
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    (done,) = _until_done(store, [handle.id])
    assert done.status == "completed", done.error
    ends = Counter(r["step"] for r in _records(out / "ends"))
    starts = Counter(r["step"] for r in _records(out / "starts"))
    assert ends == Counter(range(6)), ends  # every checkpoint completed exactly once
    assert [s for s, n in starts.items() if n > 1] in ([], [2])  # only the interrupted one
    finishers = {r["pid"] for r in _records(out / "ends") if r["step"] == 5}
    assert first.pid not in finishers
    assert done.epoch >= 2  # taken by the first worker, then taken over by the second
