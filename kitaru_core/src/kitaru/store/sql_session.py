"""What the shared queries need of a SQL store: a few ways to run a canonical statement.

:class:`SqlSession` is the seam between the one query layer (:mod:`kitaru.store.sql` and the
``sql_*`` mixins) and a database: :class:`~kitaru.store.sqlite.SQLiteStore` and
:class:`~kitaru.store.postgres.PostgresStore` implement its four methods over their driver and
name their :class:`~kitaru.store.dialect.Dialect`. Statements are canonical (``?`` placeholders,
``FOR SHARE``/``FOR UPDATE`` row locks); the store's dialect turns them into the driver's text.
Rows answer ``row["column"]`` and ``row[i]``, and unpack like tuples.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol

from kitaru.store.base import fence
from kitaru.store.dialect import Dialect


class Tx(Protocol):
    """One connection, inside a transaction (or autocommitting, when asked for none)."""

    def one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """The first row, or None."""

    def all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """Every row."""

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Rows changed."""

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """The statement once per row (pipelined where the driver can)."""


class SqlSession:
    """The plumbing a SQL store provides to the shared queries."""

    dialect: ClassVar[Dialect]
    #: the driver's exceptions for a violated unique or primary key
    integrity_errors: ClassVar[tuple[type[BaseException], ...]]

    @abstractmethod
    def _session(self, tx: bool = True) -> AbstractContextManager[Tx]:
        """A connection for several statements: one transaction (``tx``), holding the locks
        every write takes (SQLite: the database's; PostgreSQL: the rows' it reads ``FOR ...``)
        until it commits, or autocommitting each statement."""

    @abstractmethod
    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """One autocommitted statement's first row, or None."""

    @abstractmethod
    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """One autocommitted statement's rows."""

    @abstractmethod
    def _run(self, sql: str, args: Sequence[Any] = ()) -> int:
        """One autocommitted statement; the number of rows it changed."""

    # -- fencing helpers shared by every query module -------------------------------------------
    def _refused(self, pk: int, epoch: int) -> None:
        """A fenced write changed nothing: raise LeaseLost if the epoch moved on."""
        fence(self._one("SELECT id, epoch FROM executions WHERE pk = ?", (pk,)), epoch)

    @staticmethod
    def _check_epoch(tx: Tx, pk: int, epoch: int | None) -> None:
        """Inside a transaction: the runner's epoch must still be current. ``FOR SHARE`` keeps
        a take-over out until commit (SQLite's transaction holds the database already)."""
        if epoch is not None:
            fence(tx.one("SELECT id, epoch FROM executions WHERE pk = ? FOR SHARE", (pk,)), epoch)

    # -- change notifications (kitaru.store.changes) -------------------------------------------
    def _changed(self, tx: Tx | None, update: str, args: Sequence[Any], what: str) -> int:
        """Run ``update`` of executions (in ``tx``, or autocommitted); rows changed. Where the
        database announces changes, listeners hear ``<execution id>:<what>`` on commit."""
        channel = self.dialect.channel
        if channel is None:
            return tx.run(update, args) if tx is not None else self._run(update, args)
        # one statement: the UPDATE and its announcement commit (or roll back) together
        sql = (f"WITH changed AS ({update} RETURNING id) "
               f"SELECT pg_notify('{channel}', id || ':' || ?) FROM changed")  # fmt: skip
        return len(tx.all(sql, (*args, what)) if tx is not None else self._all(sql, (*args, what)))

    def _announce(self, tx: Tx, pk: int, what: str) -> None:
        """Inside a write transaction: announce that execution ``pk`` changed, on commit."""
        channel = self.dialect.channel
        if channel is not None:
            tx.one(f"SELECT pg_notify('{channel}', id || ':' || ?) FROM executions WHERE pk = ?",
                   (what, pk))  # fmt: skip

    def _lock_key(self, tx: Tx, key: str) -> None:
        """Serialize transactions on ``key`` (rare registry writes) until commit."""
        if self.dialect.lock_key is not None:
            tx.one(self.dialect.lock_key, (key,))
