"""PostgreSQL-only behaviour: choosing the store by URL, connection errors, migrations, and the
runtime end to end on PostgreSQL. (What both stores promise is in test_store_contract.py.)"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import kitaru
from kitaru.errors import ConfigError
from tests.conftest import subprocess_env
from tests.store.conftest import _connect


@pytest.fixture(autouse=True)
def no_db_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts on the embedded store; configure(db_url=) never outlives its test."""
    monkeypatch.delenv("KITARU_DB_URL", raising=False)
    kitaru.configure()
    yield
    kitaru.configure()


def test_the_url_chooses_the_store(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from kitaru.store import default_store, open_store
    from kitaru.store.postgres import PostgresStore
    from kitaru.store.sqlite import SQLiteStore

    assert isinstance(default_store(), SQLiteStore)
    kitaru.configure(db_url=pg_url)
    store = default_store()
    assert isinstance(store, PostgresStore) and default_store() is store
    assert "127.0.0.1:5432/kitaru_test_" in repr(store)
    kitaru.configure(db_url="")  # back to the embedded store
    assert isinstance(default_store(), SQLiteStore)
    kitaru.configure()  # no override: the environment decides
    monkeypatch.setenv("KITARU_DB_URL", pg_url.replace("postgresql://", "postgresql+psycopg://"))
    assert isinstance(default_store(), PostgresStore)
    file_store = open_store(f"sqlite:///{tmp_path}/x.db")
    assert isinstance(file_store, SQLiteStore) and (tmp_path / "x.db").exists()
    file_store.close()


def test_an_unknown_scheme_is_a_config_error_without_the_url() -> None:
    from kitaru.store import open_store

    with pytest.raises(ConfigError, match="'mysql'") as info:
        open_store("mysql://root:hunter2@db/kitaru")
    assert "hunter2" not in f"{info.value} {info.value.hint}"


def test_an_unreachable_database_is_one_clear_line_without_the_password() -> None:
    from kitaru.store import default_store

    kitaru.configure(db_url="postgresql://kitaru:hunter2@127.0.0.1:1/kitaru")
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        default_store()
    assert time.monotonic() - started < 6
    message, hint = info.value.message, info.value.hint or ""
    assert "127.0.0.1:1/kitaru" in message and "\n" not in message
    assert "KITARU_DB_URL" in hint
    assert "hunter2" not in message + hint + repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_silent_server_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host that accepts the connection and never answers: ConfigError after the timeout."""
    import socket

    from kitaru.store import pg_pool
    from kitaru.store.postgres import PostgresStore

    monkeypatch.setattr(pg_pool, "CONNECT_TIMEOUT", 1)  # 5 s by default
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(ConfigError, match=f"127.0.0.1:{port}/db: .*timeout"):
            PostgresStore(f"postgresql://u:hunter2@127.0.0.1:{port}/db")
        assert time.monotonic() - started < 4.5  # libpq's floor is 2 s


def test_the_cli_reports_an_unreachable_database(monkeypatch: pytest.MonkeyPatch) -> None:
    env = subprocess_env(KITARU_DB_URL="postgresql://kitaru:hunter2@127.0.0.1:1/kitaru")
    out = subprocess.run([sys.executable, "-m", "kitaru.cli", "executions", "list"], env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode != 0
    assert "127.0.0.1:1/kitaru" in out.stderr and "Traceback" not in out.stderr
    assert "hunter2" not in out.stdout + out.stderr


def test_connections_the_server_closed_are_not_reused(pg_url: str) -> None:
    """After a database restart (here: its sessions terminated) the next call just works."""
    from kitaru.store.postgres import PostgresStore

    store = PostgresStore(pg_url)
    try:
        assert store.list_executions() == []
        with _connect(pg_url) as conn:
            killed = conn.execute(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()[0]
        assert killed >= 1
        time.sleep(0.1)
        assert store.list_executions() == []
    finally:
        store.close()


def test_a_missing_database_says_how_to_create_it(pg_url: str) -> None:
    from kitaru.store.postgres import PostgresStore

    with pytest.raises(ConfigError, match="does not exist") as info:
        PostgresStore(pg_url.rpartition("/")[0] + "/kitaru_no_such_db")
    assert info.value.hint and "createdb kitaru_no_such_db" in info.value.hint


def test_migrations_are_recorded(fresh_pg_url: str) -> None:
    from kitaru.store.pg_migrations import SCHEMA_VERSION
    from kitaru.store.postgres import PostgresStore

    PostgresStore(fresh_pg_url).close()
    with _connect(fresh_pg_url) as conn:
        rows = conn.execute("SELECT version, kitaru_version FROM kitaru_schema ORDER BY version")
        rows = rows.fetchall()
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))
    assert all(r[1] == kitaru.__version__ for r in rows)


def test_a_newer_schema_names_the_database_not_the_password(fresh_pg_url: str) -> None:
    from kitaru.store.postgres import PostgresStore

    url = fresh_pg_url.replace("postgres@", "postgres:not-checked-by-trust-auth@")
    PostgresStore(url).close()
    with _connect(fresh_pg_url) as conn:
        conn.execute("INSERT INTO kitaru_schema (version, applied_at) VALUES (999, 0)")
    with pytest.raises(ConfigError, match="schema version 999") as info:
        PostgresStore(url)
    assert fresh_pg_url.rpartition("@")[2] in info.value.message
    assert "not-checked" not in info.value.message
    assert "KITARU_DB_URL" in (info.value.hint or "")


def test_processes_opening_a_fresh_database_at_once_do_not_race(fresh_pg_url: str) -> None:
    from kitaru.store.pg_migrations import SCHEMA_VERSION

    script = ("import sys, time; from kitaru.store.postgres import PostgresStore\n"
              "time.sleep(max(0, float(sys.argv[2]) - time.time()))\n"
              "PostgresStore(sys.argv[1]).close(); print('ok')")  # fmt: skip
    start_at = str(time.time() + 1.5)  # all import first, then open together
    procs = [subprocess.Popen([sys.executable, "-c", script, fresh_pg_url, start_at],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=subprocess_env()) for _ in range(4)]  # fmt: skip
    outs = [p.communicate(timeout=60) for p in procs]
    assert [o[0].strip() for o in outs] == ["ok"] * 4, [o[1] for o in outs]
    with _connect(fresh_pg_url) as conn:
        versions = conn.execute("SELECT version FROM kitaru_schema ORDER BY version").fetchall()
    assert [v[0] for v in versions] == list(range(1, SCHEMA_VERSION + 1))


def test_a_flow_with_a_wait_runs_on_postgres(
    fresh_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runtime end to end: checkpoint, wait, input, resume (workers inherit the URL)."""
    from kitaru import KitaruClient
    from kitaru.store import default_store
    from kitaru.store.postgres import PostgresStore
    from tests import flows_basic as fb

    monkeypatch.setenv("KITARU_DB_URL", fresh_pg_url)
    assert isinstance(default_store(), PostgresStore)
    handle = fb.approval.run("pg")
    deadline = time.time() + 20
    while handle.status != "waiting":
        assert time.time() < deadline, handle.status
        time.sleep(0.02)
    KitaruClient().executions.input(handle.id, {"approved": True, "comment": "ok"})
    assert handle.wait(timeout=20) == "PG:True:ok"
    assert fb.chain(3) == 3
    kitaru.memory.set("k", {"v": 1})
    assert kitaru.memory.get("k") == {"v": 1}
    with _connect(fresh_pg_url) as conn:
        count = conn.execute("SELECT COUNT(*) FROM executions").fetchone()[0]
    assert count == 2  # it really went to PostgreSQL


def test_configured_url_reaches_worker_processes(fresh_pg_url: str) -> None:
    """configure(db_url=) without the environment variable: isolated checkpoints run in child
    processes, which must find the execution in the same database."""
    from kitaru.config import settings
    from tests import flows_basic as fb

    kitaru.configure(db_url=fresh_pg_url)
    assert settings().child_env()["KITARU_DB_URL"] == fresh_pg_url
    pid_a, pid_b, a, b, _ = fb.with_isolated(2)
    assert (a, b) == (6, 9) and pid_a != pid_b
    kitaru.configure(db_url="")
    assert "KITARU_DB_URL" not in settings().child_env()


def test_the_server_can_keep_its_api_keys_in_postgres(pg_url: str) -> None:
    from kitaru.errors import Conflict, NotFound
    from kitaru.store.access import ApiKey, Principal
    from kitaru.store.postgres import PostgresStore

    store = PostgresStore(pg_url)
    try:
        store.put_principal(Principal("ada", "user", "admin", "default", 1.0))
        with pytest.raises(Conflict, match="user 'ada' already exists"):
            store.put_principal(Principal("ada", "user", "member", "default", 2.0))
        store.put_api_key(ApiKey("k1", "ada", "ab" * 32, 1.0))
        store.put_api_key(ApiKey("k2", "ada", "cd" * 32, 2.0, label="ci"))
        assert [k.key_id for k in store.list_api_keys("ada")] == ["k1", "k2"]
        assert store.get_principal("ada") == Principal("ada", "user", "admin", "default", 1.0)
        assert store.revoke_api_key("k1", 5.0) is True
        assert store.revoke_api_key("k1", 6.0) is False
        assert store.get_api_key("k1").revoked_at == 5.0  # type: ignore[union-attr]
        with pytest.raises(NotFound):
            store.revoke_api_key("nope", 1.0)
        assert store.list_principals("service_account") == []
    finally:
        store.close()
