"""A store made by an earlier Kitaru migrates forward when this one opens it, on both databases.

The starting point is the schema as Kitaru 7 (schema version 7: the layout before the stores
shared one query layer) left it, built from the frozen migration steps, with rows written the
way that version wrote them; the store must open it, upgrade it to the current version, and read
and fence those rows as its own.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kitaru.errors import LeaseLost
from kitaru.store.base import MetadataStore
from kitaru.store.records import Call
from tests.store.conftest import _connect

#: the schema version the upgrade starts from (the last one before this test was written)
FROM_VERSION = 7

_EXECUTION = (
    "INSERT INTO executions (id, flow, status, module, qualname, source_file, root, inputs, "
    "created_at, started_at, options, metadata, lease_owner, lease_expires, epoch) "
    "VALUES ({ph})"
)
_JOURNAL = (
    "INSERT INTO journal (execution_pk, call_id, kind, status, seq, serializer, value, "
    "started_at, ended_at, attempts, meta) VALUES ({ph})"
)


def _old_rows(now: float) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    execution = ("0123456789ab", "old_flow", "running", "m", "q", None, None,
                 json.dumps({"x": [1]}), now, now, json.dumps({"stack": "local"}),
                 json.dumps({"k": "v"}), "elsewhere:1:abc", now + 3600, 3)  # fmt: skip
    call = (1, "step", "checkpoint", "completed", 1, "json", b"42", now, now, 1,
            json.dumps({"note": "kept"}))  # fmt: skip
    return execution, call


def _check(open_store: Callable[[], MetadataStore], version: Callable[[], int]) -> None:
    from kitaru.store.migrations import SCHEMA_VERSION

    store = open_store()
    try:
        assert version() == SCHEMA_VERSION
        ex = store.get_execution("0123456789ab")
        assert (ex.flow, ex.status, ex.epoch, ex.inputs) == ("old_flow", "running", 3, {"x": [1]})
        assert ex.options == {"stack": "local"} and ex.metadata == {"k": "v"}
        journal = store.load_journal(ex.pk)
        assert journal["step"].value == b"42" and journal["step"].meta == {"note": "kept"}
        # the old rows are fenced like new ones: epoch 3 writes, epoch 2 is refused
        store.put_call(ex.pk, Call("next", "checkpoint", "completed", 2), epoch=3)
        with pytest.raises(LeaseLost):
            store.put_call(ex.pk, Call("late", "checkpoint", "completed", 3), epoch=2)
        new = store.create_execution(flow="new_flow", module="m", qualname="q",
                                     source_file=None, root=None, inputs={})  # fmt: skip
        assert new.pk > ex.pk
    finally:
        store.close()


def test_sqlite_store_upgrades_from_version_7(tmp_path: Path) -> None:
    from kitaru.store.migrations import SQLITE_MIGRATIONS
    from kitaru.store.sqlite import SQLiteStore

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in SQLITE_MIGRATIONS[:FROM_VERSION]:
        conn.executescript(step)
    conn.execute(f"PRAGMA user_version={FROM_VERSION}")
    execution, call = _old_rows(time.time())
    conn.execute(_EXECUTION.format(ph=", ".join("?" * len(execution))), execution)
    conn.execute(_JOURNAL.format(ph=", ".join("?" * len(call))), call)
    conn.close()

    def version() -> int:
        with sqlite3.connect(path) as c:
            return int(c.execute("PRAGMA user_version").fetchone()[0])

    _check(lambda: SQLiteStore(path), version)


def test_postgres_store_upgrades_from_version_7(fresh_pg_url: str) -> None:
    from kitaru.store.pg_migrations import _VERSION_TABLE, PG_MIGRATIONS
    from kitaru.store.postgres import PostgresStore

    with _connect(fresh_pg_url) as conn:
        conn.execute(_VERSION_TABLE)
        for number, step in enumerate(PG_MIGRATIONS[:FROM_VERSION], start=1):
            conn.execute(step, prepare=False)
            conn.execute("INSERT INTO kitaru_schema (version, applied_at) VALUES (%s, 0)",
                         (number,))  # fmt: skip
        execution, call = _old_rows(time.time())
        conn.execute(_EXECUTION.format(ph=", ".join(["%s"] * len(execution))), execution)
        conn.execute(_JOURNAL.format(ph=", ".join(["%s"] * len(call))), call)

    def version() -> int:
        with _connect(fresh_pg_url) as c:
            return int(c.execute("SELECT MAX(version) FROM kitaru_schema").fetchone()[0])

    _check(lambda: PostgresStore(fresh_pg_url), version)


def test_both_dialects_number_the_same_schema_versions() -> None:
    from kitaru.store import migrations, pg_migrations

    assert migrations.SCHEMA_VERSION == pg_migrations.SCHEMA_VERSION >= FROM_VERSION
