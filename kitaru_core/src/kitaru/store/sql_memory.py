"""Versioned memory for both SQL stores (mixed into SqlStore): every write is a new version of
its key, a delete is a tombstone version."""

from __future__ import annotations

import time
from typing import Any

from kitaru.errors import Conflict
from kitaru.store import rows
from kitaru.store.base import MemoryRecord
from kitaru.store.sql_session import SqlSession
from kitaru.validation import check_names

_KEY = "scope = ? AND scope_key = ? AND key = ?"
# the latest version of each key of a scope (the primary key's index answers the MAX)
_LATEST = ("version = (SELECT MAX(version) FROM memory l WHERE l.scope = m.scope "
           "AND l.scope_key = m.scope_key AND l.key = m.key)")  # fmt: skip


class SqlMemory(SqlSession):
    """Memory keys: every write a new version, deletes are tombstones."""

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
        # race (PostgreSQL; SQLite runs writes one at a time) both compute the same version:
        # the second hits the primary key, and retries (a plain set) or gets Conflict
        # (if_version: the version moved on under it).
        sql = (
            f"INSERT INTO memory ({rows.MEMORY_COLUMNS}) "
            "SELECT ?, ?, ?, latest.v + 1, ?, ?, ?, ?, ?, ?, ? FROM (SELECT "
            f"COALESCE(MAX(version), 0) AS v FROM memory WHERE {_KEY}) latest"
        )
        if if_version is not None:
            sql += " WHERE latest.v = ?"
        sql += " RETURNING version"
        while True:
            now = time.time()
            args: list[Any] = [scope, scope_key, key, serializer, type_name, value, deleted,
                               execution_id, call_id, now, scope, scope_key, key]  # fmt: skip
            if if_version is not None:
                args.append(if_version)
            try:
                row = self._one(sql, args)
            except self.integrity_errors:
                if if_version is None:
                    continue
                row = None
            if row is not None:
                return MemoryRecord(scope, scope_key, key, int(row["version"]), serializer,
                                    type_name, value, deleted, execution_id, call_id, now)  # fmt: skip
            latest = self._one(f"SELECT COALESCE(MAX(version), 0) AS v FROM memory WHERE {_KEY}",
                               (scope, scope_key, key))["v"]  # fmt: skip
            raise Conflict(
                f"memory key {key!r} ({scope} {scope_key!r}) is at version {latest}, "
                f"not {if_version}",
                hint="read it again and retry with the current version",
            )

    def memory_get(
        self, scope: str, scope_key: str, key: str, version: int | None = None
    ) -> MemoryRecord | None:
        check_names(memory_scope=scope, scope_name=scope_key, memory_key=key)
        sql = f"SELECT {rows.MEMORY_COLUMNS} FROM memory WHERE {_KEY}"
        if version is None:
            row = self._one(sql + " ORDER BY version DESC LIMIT 1", (scope, scope_key, key))
        else:
            row = self._one(sql + " AND version = ?", (scope, scope_key, key, version))
        return None if row is None else rows.memory(row)

    def memory_list(self, scope: str, scope_key: str) -> list[MemoryRecord]:
        check_names(memory_scope=scope, scope_name=scope_key)
        found = self._all(
            f"SELECT {rows.MEMORY_COLUMNS} FROM memory m WHERE scope = ? AND scope_key = ? "
            f"AND {_LATEST} AND NOT deleted ORDER BY key",
            (scope, scope_key),
        )
        return [rows.memory(r) for r in found]

    def memory_history(self, scope: str, scope_key: str, key: str) -> list[MemoryRecord]:
        check_names(memory_scope=scope, scope_name=scope_key, memory_key=key)
        found = self._all(
            f"SELECT {rows.MEMORY_COLUMNS} FROM memory WHERE {_KEY} ORDER BY version",
            (scope, scope_key, key),
        )
        return [rows.memory(r) for r in found]

    def memory_scopes(self) -> list[tuple[str, str, int]]:
        found = self._all(
            "SELECT scope, scope_key, SUM(CASE WHEN deleted THEN 0 ELSE 1 END) AS live "
            f"FROM memory m WHERE {_LATEST} GROUP BY scope, scope_key ORDER BY scope, scope_key"
        )
        return [(r["scope"], r["scope_key"], int(r["live"] or 0)) for r in found]
