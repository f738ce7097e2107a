"""Waits wake by PostgreSQL LISTEN/NOTIFY: the store announces committed changes only, the
listener fans them out, a server passes them on to connected clients by long poll, and
without any of it waiters poll as before. Latencies are printed, never asserted."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kitaru
from kitaru import flow
from kitaru.store.changes import RESET, Changes, Watch
from kitaru.store.records import WAIT, Call
from tests.server.conftest import Server, start_server, stop
from tests.server.test_server_auth import http
from tests.store.conftest import _connect


@flow
def asks(n: int) -> dict[str, Any]:
    answer = kitaru.wait("go", schema=str, question=f"go {n}?")
    return {"answer": answer, "continued_at": time.time()}


def _store(url: str) -> Any:
    from kitaru.store.postgres import PostgresStore

    return PostgresStore(url)


def _listening(changes: Changes, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not changes.listening:
        assert time.monotonic() < deadline, "the listener did not connect"
        time.sleep(0.01)


def _heard(watch: Watch, wanted: tuple[str, str], timeout: float = 10.0) -> list[Any]:
    """The changes the watch (of every execution) heard until ``wanted`` came."""
    heard: list[Any] = []
    deadline = time.monotonic() + timeout
    while wanted not in heard:
        assert time.monotonic() < deadline, f"never heard {wanted}; heard {heard}"
        watch.wait(0.2)
        heard += [e for e in watch.drain() if e[1] != RESET]
    return heard


def _execution(store: Any, status: str = "running") -> Any:
    return store.create_execution(flow="f", module="m", qualname="q", source_file=None,
                                  root=None, inputs={}, status=status)  # fmt: skip


# -- the store ------------------------------------------------------------------------------
def test_a_rolled_back_change_announces_nothing_and_a_committed_one_does(pg_url: str) -> None:
    store = _store(pg_url)
    try:
        a, b = _execution(store), _execution(store)
        changes = store.changes()
        with changes.watch(None) as everything:
            _listening(changes)
            with pytest.raises(RuntimeError), store._session() as tx:
                store._changed(tx, "UPDATE executions SET status = 'waiting' WHERE pk = ?",
                               (a.pk,), "waiting")  # fmt: skip
                store._announce(tx, a.pk, "input")
                raise RuntimeError("roll back")
            assert store.get_execution(a.id).status == "running"
            # notifications arrive in commit order: had the rolled-back ones been sent, they
            # would come before this one
            assert store.set_status(b.pk, "waiting")
            assert _heard(everything, (b.id, "waiting")) == [(b.id, "waiting")]
    finally:
        store.close()


def test_the_writes_a_waiter_needs_are_announced_and_refused_ones_are_not(pg_url: str) -> None:
    store = _store(pg_url)
    try:
        ex = _execution(store)
        changes = store.changes()
        with changes.watch(ex.id) as one, changes.watch(None) as everything:
            _listening(changes)
            wait = Call("go", WAIT, "pending", 1, started_at=time.time(), meta={})
            store.suspend_on_wait(ex.pk, wait)
            assert not store.set_status(ex.pk, "completed", only_if=("running",))  # refused
            store.release_lease(ex.pk, "nobody")  # holds nothing: no change
            assert store.resolve_wait(ex.pk, "go", serializer="json", type_name="str",
                                      value=b'"x"')  # fmt: skip
            assert not store.resolve_wait(ex.pk, "go", serializer="json", type_name="str",
                                          value=b'"y"')  # already resolved  # fmt: skip
            assert store.set_status(ex.pk, "running", only_if=("waiting",))
            assert store.set_status(ex.pk, "cancelled")
            heard = _heard(everything, (ex.id, "cancelled"))
            assert heard == [(ex.id, w) for w in ("waiting", "input", "running", "cancelled")]
            assert {"waiting", "input", "running", "cancelled"} <= one.seen
    finally:
        store.close()


def test_a_killed_listener_connection_reconnects_and_wakes_every_watch(pg_url: str) -> None:
    store = _store(pg_url)
    try:
        ex = _execution(store)
        changes = store.changes()
        with changes.watch(ex.id) as one:
            _listening(changes)
            one.wait(0)
            one.seen.clear()
            with _connect(pg_url) as admin:
                killed = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                    "query = 'LISTEN kitaru_executions' AND datname = current_database()"
                ).fetchall()
            assert (True,) in killed
            assert one.wait(10) and RESET in one.seen  # woken to read the store again
            _listening(changes)
            assert store.set_status(ex.pk, "waiting")
            deadline = time.monotonic() + 10
            while "waiting" not in one.seen:
                assert time.monotonic() < deadline
                one.wait(0.2)
    finally:
        store.close()


def test_nothing_listens_on_sqlite_or_with_kitaru_notify_off(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitaru.store.sqlite import SQLiteStore

    assert SQLiteStore(tmp_path / "k.db").changes() is None
    monkeypatch.setenv("KITARU_NOTIFY", "0")
    store = _store(pg_url)
    try:
        assert store.changes() is None
    finally:
        store.close()


# -- through a server on PostgreSQL -----------------------------------------------------------
@contextlib.contextmanager
def _serving(pg_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A server on PostgreSQL (started with this process's environment), and this process its
    client."""
    from kitaru.store import reset_default_store

    srv = start_server(home, db_url=pg_url)
    monkeypatch.setenv("KITARU_SERVER_URL", srv.url)
    monkeypatch.setenv("KITARU_API_KEY", srv.admin_key)
    reset_default_store()
    try:
        yield srv
    finally:
        reset_default_store()
        stop(srv)


@pytest.fixture
def pg_server(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    with _serving(pg_url, tmp_path / "server-home", monkeypatch) as srv:
        yield srv


def _hold(n: int) -> tuple[list[dict[str, Any]], list[threading.Thread]]:
    """``n`` executions of ``asks`` held by threads of this process, each blocked on its
    wait; their results land in the list."""
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda i=i: results.append(asks(i)), daemon=True)
               for i in range(n)]  # fmt: skip
    for t in threads:
        t.start()
    return results, threads


def _waiting(server: Server, n: int, timeout: float = 60) -> list[str]:
    deadline = time.time() + timeout
    while True:
        status, found = http(server, "GET", "/api/v1/executions?status=waiting&limit=1000",
                             server.admin_key)  # fmt: skip
        if status == 200 and len(found) == n:
            return [e["id"] for e in found]
        assert time.time() < deadline, found
        time.sleep(0.05)


def test_a_held_wait_wakes_by_notify_through_a_server_on_postgres(pg_server: Server) -> None:
    from kitaru.store import default_store

    store: Any = default_store()
    changes = store.changes()
    assert changes is not None  # a RemoteStore long-polls the server's feed
    results, threads = _hold(1)
    (execution_id,) = _waiting(pg_server, 1)
    with changes.watch(execution_id) as watch:
        _listening(changes)  # the server's listener is connected, and this client hears it
        watch.wait(0)
        watch.seen.clear()
        given = time.time()
        status, _ = http(pg_server, "POST", f"/api/v1/executions/{execution_id}/input",
                         pg_server.admin_key, {"value": "yes"})  # fmt: skip
        assert status == 200
        threads[0].join(60)
        assert results and results[0]["answer"] == "yes"
        # the client heard the server's NOTIFY of the input (only the listener sends it)
        assert "input" in watch.seen
    print(
        f"\nheld wait, server on PostgreSQL, woken by NOTIFY: input -> continued "
        f"{(results[0]['continued_at'] - given) * 1000:.1f} ms"
    )


def test_without_notifications_a_held_wait_still_wakes_by_polling(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITARU_NOTIFY", "0")  # the server started below listens to nothing
    with _serving(pg_url, tmp_path / "server-home", monkeypatch) as srv:
        from kitaru.store import default_store

        store: Any = default_store()
        results, threads = _hold(1)
        (execution_id,) = _waiting(srv, 1)
        assert store.changes() is None  # the server said it has no feed: this client polls
        given = time.time()
        assert http(srv, "POST", f"/api/v1/executions/{execution_id}/input", srv.admin_key,
                    {"value": "yes"})[0] == 200  # fmt: skip
        threads[0].join(60)
        assert results and results[0]["answer"] == "yes"
        print(
            f"\nheld wait, server with KITARU_NOTIFY=0, polling: input -> continued "
            f"{(results[0]['continued_at'] - given) * 1000:.1f} ms"
        )


def test_a_server_whose_listener_is_killed_still_wakes_held_waits(pg_server: Server,
                                                                  pg_url: str) -> None:  # fmt: skip
    from kitaru.store import default_store

    store: Any = default_store()
    changes = store.changes()
    results, threads = _hold(2)
    first, second = _waiting(pg_server, 2)
    _listening(changes)
    with _connect(pg_url) as admin:  # the server's LISTEN connection dies
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                      "query = 'LISTEN kitaru_executions' AND datname = current_database()")  # fmt: skip
    for execution_id in (first, second):
        assert http(pg_server, "POST", f"/api/v1/executions/{execution_id}/input",
                    pg_server.admin_key, {"value": "ok"})[0] == 200  # fmt: skip
    for t in threads:
        t.join(60)
    assert [r["answer"] for r in results] == ["ok", "ok"]
    assert os.environ.get("KITARU_SERVER_URL") == pg_server.url
