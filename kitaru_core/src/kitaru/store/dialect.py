"""The SQL dialects of the two stores: how one set of queries is spoken to SQLite and PostgreSQL.

The queries of :mod:`kitaru.store.sql` (and its ``sql_*`` siblings) are written once, in a
canonical form: ``?`` placeholders, row locks (``FOR SHARE`` / ``FOR UPDATE``) where PostgreSQL
needs them, ``INSERT ... ON CONFLICT`` for upserts and ``RETURNING`` (both databases have them).
A :class:`Dialect` turns a canonical statement into the driver's text once (cached):

* **placeholders**: sqlite3 takes ``?``, psycopg ``%s`` (and a literal ``%`` doubled);
* **row locks**: SQLite has none and needs none: every write transaction begins with
  ``BEGIN IMMEDIATE``, which holds the whole database, so the lock clauses (``SKIP LOCKED``
  too: nothing is ever locked by another transaction inside one) are dropped;
* **JSON**: stored as TEXT on both (key order kept); reading a field in SQL differs;
* **named locks**: PostgreSQL serializes rare registry writes with advisory transaction locks;
  SQLite's ``BEGIN IMMEDIATE`` already did;
* **change notifications**: PostgreSQL announces a changed execution to its listeners
  (``pg_notify``, sent only when the transaction commits; :mod:`kitaru.store.changes`); SQLite
  has no one to tell (waiters poll it).

Standard library only: drivers are imported by the store modules that use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ROW_LOCK = re.compile(r" FOR (SHARE|UPDATE)( SKIP LOCKED)?\b")


@dataclass(frozen=True)
class Dialect:
    """What differs between the SQL of two databases (everything else is shared)."""

    name: str
    #: the driver's placeholder for ``?``
    placeholder: str
    #: whether ``FOR SHARE`` / ``FOR UPDATE`` are spoken (else dropped)
    row_locks: bool
    #: a JSON text column's top-level field as text: ``{column}`` and ``{key}`` are filled in
    json_field: str
    #: case-insensitive LIKE (SQLite's LIKE ignores ASCII case already)
    ilike: str
    #: statement taking a transaction-scoped lock on a text key (None: the transaction is one)
    lock_key: str | None
    #: the channel changes of executions are announced on (None: not announced)
    channel: str | None = None
    _cache: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def sql(self, canonical: str) -> str:
        """The driver's text for a canonical statement (cached: statements are few)."""
        text = self._cache.get(canonical)
        if text is None:
            text = canonical
            if not self.row_locks:
                text = _ROW_LOCK.sub("", text)
            if self.placeholder != "?":
                text = text.replace("%", "%%").replace("?", self.placeholder)
            if len(self._cache) < 4096:  # dynamic statements (IN lists) stay bounded
                self._cache[canonical] = text
        return text

    def json_text(self, column: str, key: str) -> str:
        """SQL reading ``column``'s top-level JSON field ``key`` (a fixed name, never input)."""
        assert key.isidentifier() and column.isidentifier()
        return self.json_field.format(column=column, key=key)


SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    row_locks=False,
    json_field="json_extract({column}, '$.{key}')",
    ilike="LIKE",
    lock_key=None,
)

POSTGRES = Dialect(
    name="postgresql",
    placeholder="%s",
    row_locks=True,
    json_field="({column}::jsonb ->> '{key}')",
    ilike="ILIKE",
    lock_key="SELECT pg_advisory_xact_lock(hashtext(?))",
    channel="kitaru_executions",
)


def placeholders(n: int) -> str:
    """``?, ?, ?`` for ``n`` values."""
    return ", ".join("?" * n)
