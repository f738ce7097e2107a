"""PostgreSQL metadata store: the same contract as the embedded SQLite store, for many processes
and machines (``KITARU_DB_URL=postgresql://...``, or behind the Kitaru server).

The queries are the shared ones of :mod:`kitaru.store.sql`; this module is the connection: a
small pool of autocommit connections (:mod:`kitaru.store.pg_pool`), statements prepared on first
use, rows readable by column name. The schema is created or upgraded on open
(:mod:`kitaru.store.pg_migrations`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kitaru.store.dialect import POSTGRES
from kitaru.store.pg_migrations import migrate
from kitaru.store.pg_pool import Pool, UniqueViolation, row_factory
from kitaru.store.sql import SqlStore

if TYPE_CHECKING:
    from kitaru.store.changes import Changes


class _Tx:
    """A pooled connection, speaking canonical SQL (see :class:`kitaru.store.sql_session.Tx`)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        return self._conn.execute(POSTGRES.sql(sql), args).fetchone()

    def all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        return self._conn.execute(POSTGRES.sql(sql), args).fetchall()

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self._conn.execute(POSTGRES.sql(sql), args).rowcount

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            with self._conn.cursor() as cur:
                cur.executemany(POSTGRES.sql(sql), rows)  # pipelined: one round trip for all


class PostgresStore(SqlStore):
    """The store on a PostgreSQL database given by a libpq URL (``postgresql://user@host/db``)."""

    dialect = POSTGRES
    integrity_errors = (UniqueViolation,)

    def __init__(self, url: str) -> None:
        self._pool = Pool(url, row_factory=row_factory)
        self.location = self._pool.location  # host:port/dbname: for messages, no password
        with self._pool.connection() as conn:
            migrate(conn, self.location)
        self._changes: Changes | None = None
        self._changes_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PostgresStore({self.location!r})"

    # -- the plumbing of SqlSession -------------------------------------------------------------
    @contextmanager
    def _session(self, tx: bool = True) -> Iterator[_Tx]:
        with self._pool.connection() as conn:
            if not tx:
                yield _Tx(conn)
                return
            with conn.transaction():
                yield _Tx(conn)

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        with self._pool.connection() as conn:
            return conn.execute(POSTGRES.sql(sql), args).fetchone()

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._pool.connection() as conn:
            return conn.execute(POSTGRES.sql(sql), args).fetchall()

    def _run(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self._pool.connection() as conn:
            return conn.execute(POSTGRES.sql(sql), args).rowcount

    def changes(self) -> Changes | None:
        """The process's ``LISTEN`` connection, started by the first watch; None with
        ``KITARU_NOTIFY=0`` (e.g. behind PgBouncer in transaction mode, which cannot LISTEN)."""
        if os.environ.get("KITARU_NOTIFY", "1").strip().lower() in ("0", "false", "no", "off"):
            return None
        with self._changes_lock:
            if self._changes is None:
                from kitaru.store.pg_listen import PgChanges

                self._changes = PgChanges(self._pool.connect)
            return self._changes

    def close(self) -> None:
        if self._changes is not None:  # its connection closes with the store's
            self._changes.close(wait=2.0)
        self._pool.close()
