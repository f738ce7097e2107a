"""Embedded metadata store: one SQLite file in WAL mode under ``KITARU_HOME``.

The queries are the shared ones of :mod:`kitaru.store.sql`; this module is the connection. One
connection per store, shared by the threads of a process behind a lock; other processes use their
own. ``synchronous=NORMAL`` in WAL keeps every commit durable against a killed process (the
failure this runtime is built for) at a fraction of the cost of a full fsync. Write transactions
begin with ``BEGIN IMMEDIATE``: they hold the database from their first statement, which is what
PostgreSQL's row locks give the same queries there (and no two writers deadlock upgrading).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kitaru.errors import ConfigError
from kitaru.store.dialect import SQLITE
from kitaru.store.migrations import SCHEMA_VERSION, SQLITE_MIGRATIONS
from kitaru.store.rows import new_execution_id
from kitaru.store.sql import SqlStore

__all__ = ["SQLiteStore", "new_execution_id"]


class _Tx:
    """The connection, speaking canonical SQL (see :class:`kitaru.store.sql_session.Tx`)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        # fetchall: the statement runs to its end (a RETURNING write is finished, not held open)
        found = self._conn.execute(SQLITE.sql(sql), args).fetchall()
        return found[0] if found else None

    def all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        return self._conn.execute(SQLITE.sql(sql), args).fetchall()

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self._conn.execute(SQLITE.sql(sql), args).rowcount

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(SQLITE.sql(sql), rows)


class SQLiteStore(SqlStore):
    """The embedded store. ``path`` is the database file (created with its folder)."""

    dialect = SQLITE
    integrity_errors = (sqlite3.IntegrityError,)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=60.0
            )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the Kitaru store at {self.path}: {exc}",
                hint="set KITARU_HOME to a writable folder",
            ) from exc
        conn.row_factory = sqlite3.Row  # records are read by column name
        self._conn = conn
        self._tx = _Tx(conn)
        self._lock = threading.RLock()
        conn.execute("PRAGMA busy_timeout=60000")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def _migrate(self) -> None:
        """Bring the file to :data:`SCHEMA_VERSION` (``PRAGMA user_version``), in one transaction."""
        with self._session():
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"the store at {self.path} has schema version {version}, newer than this "
                    f"Kitaru understands ({SCHEMA_VERSION})",
                    hint="upgrade kitaru (pip install -U kitaru) or point KITARU_HOME elsewhere",
                )
            for step in SQLITE_MIGRATIONS[version:]:
                for statement in step.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
            if version < SCHEMA_VERSION:
                self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # -- the plumbing of SqlSession -------------------------------------------------------------
    @contextmanager
    def _session(self, tx: bool = True) -> Iterator[_Tx]:
        with self._lock:
            if not tx:
                yield self._tx
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._tx
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        with self._lock:
            return self._tx.one(sql, args)

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._tx.all(sql, args)

    def _run(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self._lock:
            return self._conn.execute(SQLITE.sql(sql), args).rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()
