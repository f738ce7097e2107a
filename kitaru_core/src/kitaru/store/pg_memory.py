"""Versioned memory in the PostgreSQL store (mixed into :class:`PostgresStore`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kitaru.errors import Conflict
from kitaru.store.base import MemoryRecord
from kitaru.store.pg_pool import UniqueViolation
from kitaru.validation import check_names

if TYPE_CHECKING:
    from kitaru.store.pg_pool import Pool

_MEMORY_COLUMNS = (
    "scope, scope_key, key, version, serializer, type_name, value, deleted, execution_id, "
    "call_id, created_at"
)


def _memory(row: tuple[Any, ...]) -> MemoryRecord:
    return MemoryRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], bool(row[7]),
                        row[8], row[9], row[10])  # fmt: skip


class PgMemory:
    """Memory keys: every write a new version, deletes are tombstones."""

    if TYPE_CHECKING:  # provided by PostgresStore
        _pool: Pool

        def _one(self, sql: str, args: Any = ()) -> Any: ...
        def _all(self, sql: str, args: Any = ()) -> list[Any]: ...

    def memory_put(
        self,
        scope: str,
        scope_key: str,
        key: str,
        *,
        serializer: str | None,
        type_name: str | None,
        value: bytes | None,
        deleted: bool = False,
        execution_id: str | None = None,
        call_id: str | None = None,
        if_version: int | None = None,
    ) -> MemoryRecord:
        check_names(memory_scope=scope, scope_name=scope_key, memory_key=key)
        # One statement computes the next version and inserts it. Two writers of one key that
        # race both compute the same version: the second hits the primary key, and retries
        # (a plain set) or gets Conflict (if_version: the version moved on under it).
        where = "scope = %s AND scope_key = %s AND key = %s"
        sql = (
            f"INSERT INTO memory ({_MEMORY_COLUMNS}) "
            "SELECT %s, %s, %s, COALESCE(MAX(version), 0) + 1, %s, %s, %s, %s, %s, %s, %s "
            f"FROM memory WHERE {where}"
        )
        if if_version is not None:
            sql += " HAVING COALESCE(MAX(version), 0) = %s"
        sql += " RETURNING version"
        with self._pool.connection() as conn:
            while True:
                now = time.time()
                args: list[Any] = [scope, scope_key, key, serializer, type_name, value, deleted,
                                   execution_id, call_id, now, scope, scope_key, key]  # fmt: skip
                if if_version is not None:
                    args.append(if_version)
                try:
                    row = conn.execute(sql, args).fetchone()
                except UniqueViolation:
                    if if_version is None:
                        continue
                    row = None
                if row is not None:
                    return MemoryRecord(scope, scope_key, key, row[0], serializer, type_name,
                                        value, deleted, execution_id, call_id, now)  # fmt: skip
                latest = conn.execute(
                    f"SELECT COALESCE(MAX(version), 0) FROM memory WHERE {where}",
                    (scope, scope_key, key),
                ).fetchone()[0]  # type: ignore[index]
                raise Conflict(
                    f"memory key {key!r} ({scope} {scope_key!r}) is at version {latest}, "
                    f"not {if_version}",
                    hint="read it again and retry with the current version",
                )

    def memory_get(
        self, scope: str, scope_key: str, key: str, version: int | None = None
    ) -> MemoryRecord | None:
        check_names(memory_scope=scope, scope_name=scope_key, memory_key=key)
        sql = (
            f"SELECT {_MEMORY_COLUMNS} FROM memory WHERE scope = %s AND scope_key = %s AND key = %s"
        )
        if version is None:
            row = self._one(sql + " ORDER BY version DESC LIMIT 1", (scope, scope_key, key))
        else:
            row = self._one(sql + " AND version = %s", (scope, scope_key, key, version))
        return None if row is None else _memory(row)

    def memory_list(self, scope: str, scope_key: str) -> list[MemoryRecord]:
        check_names(memory_scope=scope, scope_name=scope_key)
        rows = self._all(
            f"SELECT {_MEMORY_COLUMNS} FROM (SELECT DISTINCT ON (key) {_MEMORY_COLUMNS} "
            "FROM memory WHERE scope = %s AND scope_key = %s ORDER BY key, version DESC) latest "
            "WHERE NOT deleted ORDER BY key",
            (scope, scope_key),
        )
        return [_memory(r) for r in rows]

    def memory_history(self, scope: str, scope_key: str, key: str) -> list[MemoryRecord]:
        check_names(memory_scope=scope, scope_name=scope_key, memory_key=key)
        rows = self._all(
            f"SELECT {_MEMORY_COLUMNS} FROM memory WHERE scope = %s AND scope_key = %s "
            "AND key = %s ORDER BY version",
            (scope, scope_key, key),
        )
        return [_memory(r) for r in rows]

    def memory_scopes(self) -> list[tuple[str, str, int]]:
        rows = self._all(
            "SELECT scope, scope_key, COUNT(*) FILTER (WHERE NOT deleted) FROM ("
            "SELECT DISTINCT ON (scope, scope_key, key) scope, scope_key, deleted FROM memory "
            "ORDER BY scope, scope_key, key, version DESC) latest "
            "GROUP BY scope, scope_key ORDER BY scope, scope_key"
        )
        return [(r[0], r[1], int(r[2])) for r in rows]
