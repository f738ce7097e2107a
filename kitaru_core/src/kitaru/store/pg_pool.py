"""Connections of the PostgreSQL store: URL handling, a small thread-safe pool, clear errors.

psycopg is imported here, and this module only by :mod:`kitaru.store.postgres`, so ``import
kitaru`` never pays for it. A pool of our own (rather than psycopg_pool) keeps the dependency to
psycopg alone; the store needs nothing more than "a free autocommit connection, now".
"""

from __future__ import annotations

import os
import re
import select
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kitaru.errors import ConfigError

try:
    import psycopg
    from psycopg import conninfo
    from psycopg.errors import UniqueViolation
except ImportError as exc:  # pragma: no cover - exercised by a venv without the extra
    raise ConfigError(
        "a postgresql:// store needs psycopg, which is not installed",
        hint="pip install 'kitaru[postgres]'",
    ) from exc

__all__ = ["Pool", "UniqueViolation", "describe", "normalize_url", "row_factory"]

#: Seconds to wait for the server before giving up (unless the URL sets connect_timeout).
CONNECT_TIMEOUT = 5
#: Idle connections kept per store; more are opened when more threads call at once.
MAX_IDLE = 8


def normalize_url(url: str) -> str:
    """Accept SQLAlchemy-style ``postgresql+psycopg://`` too; libpq wants plain ``postgresql://``."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.startswith(("postgresql+", "postgres+")):
        return "postgresql://" + rest
    return url


def describe(url: str) -> str:
    """``host:port/dbname`` for messages: never the user's password."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<an unparsable database URL>"
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = str(params.get("port") or "5432")
    dbname = str(params.get("dbname") or params.get("user") or os.environ.get("USER", ""))
    return f"{host}:{port}/{dbname}"


class Row(tuple[Any, ...]):
    """A row readable by position and by column name, like ``sqlite3.Row`` (the shared queries
    read records by name). One subclass per column list, holding its name -> position map."""

    __slots__ = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)


_row_types: dict[tuple[str, ...], type[Row]] = {}


def row_factory(cursor: Any) -> Any:
    """psycopg row factory making :class:`Row` s (the class is made once per column list)."""
    description = cursor.description
    if description is None:
        return tuple
    names = tuple(c.name for c in description)
    cls = _row_types.get(names)
    if cls is None:
        cls = type("Row", (Row,), {"__slots__": (), "_index": {n: i for i, n in enumerate(names)}})
        if len(_row_types) < 4096:
            _row_types[names] = cls
    return cls


def _scrub(message: str, url: str) -> str:
    """First line of a libpq message, with the password cut out should libpq ever echo it."""
    line = (message.strip().splitlines() or ["unknown error"])[0]
    # the caller names host and port already: keep libpq's reason only
    line = re.sub(r'^connection failed: |connection to server at "[^"]*"( \([^)]*\))?, '
                  r"port \d+ failed: |FATAL: +", "", line)  # fmt: skip
    try:
        password = conninfo.conninfo_to_dict(url).get("password")
    except psycopg.ProgrammingError:
        password = None
    if password:
        line = line.replace(str(password), "***")
    return line


class Pool:
    """Autocommit connections to one database, shared by the threads of one process.

    A connection is handed to one thread at a time; an idle one goes back on a stack (LIFO, so
    the hottest connections and their prepared statements stay in use). Broken connections, and
    connections a failed block left inside a transaction, are closed instead of reused.
    """

    def __init__(self, url: str, *, row_factory: Any = None) -> None:
        self.url = normalize_url(url)
        self.location = describe(self.url)
        self._kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0}
        if row_factory is not None:
            self._kwargs["row_factory"] = row_factory
        if "connect_timeout" not in self.url:
            self._kwargs["connect_timeout"] = CONNECT_TIMEOUT
        self._idle: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        # A forked child must not use (or close: that ends the parent's sessions) inherited
        # connections; it keeps them referenced so they are never finalized, and opens its own.
        self._inherited: list[psycopg.Connection[Any]] = []

    def connect(self) -> psycopg.Connection[Any]:
        """A new connection; ConfigError (one line, no password) when the server cannot be had."""
        try:
            return psycopg.connect(self.url, **self._kwargs)
        except psycopg.OperationalError as exc:
            reason = _scrub(str(exc), self.url)
            hint = "check KITARU_DB_URL and that PostgreSQL is running and reachable"
            if "does not exist" in reason and "database" in reason:
                dbname = self.location.rpartition("/")[2]
                hint = f"create it (createdb {dbname}) or fix the database name in KITARU_DB_URL"
            elif any(w in reason for w in ("authentication", "password", "role")):
                hint = "check the user and password in KITARU_DB_URL"
            raise ConfigError(
                f"cannot connect to the Kitaru database at {self.location}: {reason}", hint=hint
            ) from None

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        conn = self._take()
        try:
            yield conn
        except BaseException:
            self._give_back(conn)
            raise
        self._give_back(conn)

    def _take(self) -> psycopg.Connection[Any]:
        while True:
            with self._lock:
                if self._closed:
                    raise ConfigError(f"the store at {self.location} was closed")
                if self._pid != os.getpid():
                    self._inherited.extend(self._idle)
                    self._idle, self._pid = [], os.getpid()
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self.connect()
            if _alive(conn):
                return conn
            conn.close()

    def _give_back(self, conn: psycopg.Connection[Any]) -> None:
        healthy = not conn.closed and conn.info.transaction_status == _IDLE
        with self._lock:
            if healthy and not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        if self._pid == os.getpid():
            for conn in idle:
                conn.close()


_IDLE = psycopg.pq.TransactionStatus.IDLE


def _alive(conn: psycopg.Connection[Any]) -> bool:
    """An idle connection has nothing to read; if its socket is readable, the server has closed
    it (a restart, an idle timeout, pg_terminate_backend) and said so. One syscall, no round
    trip: after a database restart no call fails on a stale pooled connection."""
    if conn.closed:
        return False
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit, unlike select()
            poller = select.poll()
            poller.register(conn.fileno(), select.POLLIN)
            return not poller.poll(0)
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable
