"""Both metadata stores pass the same contract: embedded SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kitaru.store.base import MetadataStore
from kitaru.testing import MetadataStoreContract
from tests.store.conftest import _connect


class TestSQLiteStore(MetadataStoreContract):
    @pytest.fixture
    def open_store(self, tmp_path: Path) -> Callable[[], MetadataStore]:
        from kitaru.store.sqlite import SQLiteStore

        self.path = tmp_path / "contract.db"
        return lambda: SQLiteStore(self.path)

    def schema_version(self, store: MetadataStore) -> int:
        with sqlite3.connect(self.path) as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, store: MetadataStore, version: int) -> None:
        conn = sqlite3.connect(self.path)
        conn.execute(f"PRAGMA user_version={int(version)}")
        conn.close()


class TestPostgresStore(MetadataStoreContract):
    @pytest.fixture
    def open_store(self, pg_url: str) -> Callable[[], MetadataStore]:
        from kitaru.store.postgres import PostgresStore

        self.url = pg_url
        return lambda: PostgresStore(pg_url)

    def _sql(self, sql: str, args: Any = ()) -> Any:
        with _connect(self.url) as conn:
            return conn.execute(sql, args).fetchone()

    def schema_version(self, store: MetadataStore) -> int:
        return int(self._sql("SELECT MAX(version) FROM kitaru_schema")[0])

    def set_schema_version(self, store: MetadataStore, version: int) -> None:
        with _connect(self.url) as conn:
            conn.execute("DELETE FROM kitaru_schema WHERE version > %s", (version,))
            conn.execute("INSERT INTO kitaru_schema (version, applied_at) SELECT v, 0 FROM "
                         "generate_series(1, %s) v ON CONFLICT DO NOTHING", (version,))  # fmt: skip
