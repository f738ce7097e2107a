"""The SQLite side of :class:`~kitaru.store.access.AccessStore` (mixed into SQLiteStore)."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from kitaru.errors import Conflict, NotFound
from kitaru.store.access import AccessStore, ApiKey, Principal
from kitaru.validation import check_names

_P = "name, kind, role, workspace, created_at, description"
_K = "key_id, principal, secret_sha256, created_at, revoked_at, label"


class SQLiteAccess(AccessStore):
    if TYPE_CHECKING:  # provided by SQLiteStore

        def _tx(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]: ...

    def put_principal(self, principal: Principal) -> None:
        check_names(principal=principal.name, kind=principal.kind, role=principal.role,
                    workspace=principal.workspace, description=principal.description)  # fmt: skip
        p = principal
        try:
            with self._tx() as conn:
                conn.execute(f"INSERT INTO principals ({_P}) VALUES (?, ?, ?, ?, ?, ?)",
                             (p.name, p.kind, p.role, p.workspace, p.created_at, p.description))  # fmt: skip
        except sqlite3.IntegrityError:
            raise Conflict(f"{p.kind.replace('_', ' ')} {p.name!r} already exists") from None

    def get_principal(self, name: str) -> Principal | None:
        check_names(principal=name)
        rows = self._all(f"SELECT {_P} FROM principals WHERE name = ?", (name,))
        return Principal(*rows[0]) if rows else None

    def list_principals(self, kind: str | None = None) -> list[Principal]:
        check_names(kind=kind)
        if kind is None:
            rows = self._all(f"SELECT {_P} FROM principals ORDER BY name")
        else:
            rows = self._all(f"SELECT {_P} FROM principals WHERE kind = ? ORDER BY name", (kind,))
        return [Principal(*r) for r in rows]

    def put_api_key(self, key: ApiKey) -> None:
        check_names(key_id=key.key_id, principal=key.principal, label=key.label)
        k = key
        with self._tx() as conn:
            conn.execute(f"INSERT INTO api_keys ({_K}) VALUES (?, ?, ?, ?, ?, ?)",
                         (k.key_id, k.principal, k.secret_sha256, k.created_at, k.revoked_at,
                          k.label))  # fmt: skip

    def get_api_key(self, key_id: str) -> ApiKey | None:
        check_names(key_id=key_id)
        rows = self._all(f"SELECT {_K} FROM api_keys WHERE key_id = ?", (key_id,))
        return ApiKey(*rows[0]) if rows else None

    def list_api_keys(self, principal: str | None = None) -> list[ApiKey]:
        check_names(principal=principal)
        where, args = ("", ()) if principal is None else (" WHERE principal = ?", (principal,))
        rows = self._all(f"SELECT {_K} FROM api_keys{where} ORDER BY created_at", args)
        return [ApiKey(*r) for r in rows]

    def revoke_api_key(self, key_id: str, when: float) -> bool:
        check_names(key_id=key_id)
        with self._tx() as conn:
            row = conn.execute("SELECT revoked_at FROM api_keys WHERE key_id = ?",
                               (key_id,)).fetchone()  # fmt: skip
            if row is None:
                raise NotFound(f"no API key {key_id!r}", hint="see `kitaru auth api-keys list`")
            if row[0] is not None:
                return False
            conn.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", (when, key_id))
            return True
