"""Principals and API keys (:class:`~kitaru.store.access.AccessStore`) for both SQL stores, so a
server keeps its users and keys in whichever database it runs on."""

from __future__ import annotations

from typing import Any

from kitaru.errors import Conflict, NotFound
from kitaru.store.access import AccessStore, ApiKey, Principal
from kitaru.store.sql_session import SqlSession
from kitaru.validation import check_names

_P = "name, kind, role, workspace, created_at, description"
_K = "key_id, principal, secret_sha256, created_at, revoked_at, label"


def _principal(r: Any) -> Principal:
    return Principal(name=r["name"], kind=r["kind"], role=r["role"], workspace=r["workspace"],
                     created_at=r["created_at"], description=r["description"])  # fmt: skip


def _key(r: Any) -> ApiKey:
    return ApiKey(key_id=r["key_id"], principal=r["principal"], secret_sha256=r["secret_sha256"],
                  created_at=r["created_at"], revoked_at=r["revoked_at"], label=r["label"])  # fmt: skip


class SqlAccess(SqlSession, AccessStore):
    def put_principal(self, principal: Principal) -> None:
        check_names(principal=principal.name, kind=principal.kind, role=principal.role,
                    workspace=principal.workspace, description=principal.description)  # fmt: skip
        p = principal
        try:
            self._run(f"INSERT INTO principals ({_P}) VALUES (?, ?, ?, ?, ?, ?)",
                      (p.name, p.kind, p.role, p.workspace, p.created_at, p.description))  # fmt: skip
        except self.integrity_errors:
            raise Conflict(f"{p.kind.replace('_', ' ')} {p.name!r} already exists") from None

    def get_principal(self, name: str) -> Principal | None:
        check_names(principal=name)
        row = self._one(f"SELECT {_P} FROM principals WHERE name = ?", (name,))
        return None if row is None else _principal(row)

    def list_principals(self, kind: str | None = None) -> list[Principal]:
        check_names(kind=kind)
        if kind is None:
            found = self._all(f"SELECT {_P} FROM principals ORDER BY name")
        else:
            found = self._all(f"SELECT {_P} FROM principals WHERE kind = ? ORDER BY name", (kind,))
        return [_principal(r) for r in found]

    def put_api_key(self, key: ApiKey) -> None:
        check_names(key_id=key.key_id, principal=key.principal, label=key.label)
        k = key
        self._run(f"INSERT INTO api_keys ({_K}) VALUES (?, ?, ?, ?, ?, ?)",
                  (k.key_id, k.principal, k.secret_sha256, k.created_at, k.revoked_at, k.label))  # fmt: skip

    def get_api_key(self, key_id: str) -> ApiKey | None:
        check_names(key_id=key_id)
        row = self._one(f"SELECT {_K} FROM api_keys WHERE key_id = ?", (key_id,))
        return None if row is None else _key(row)

    def list_api_keys(self, principal: str | None = None) -> list[ApiKey]:
        check_names(principal=principal)
        where, args = ("", ()) if principal is None else (" WHERE principal = ?", (principal,))
        found = self._all(f"SELECT {_K} FROM api_keys{where} ORDER BY created_at", args)
        return [_key(r) for r in found]

    def revoke_api_key(self, key_id: str, when: float) -> bool:
        check_names(key_id=key_id)
        # One conditional UPDATE: of two concurrent revocations exactly one reports True.
        if self._run("UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                     (when, key_id)):  # fmt: skip
            return True
        if self._one("SELECT 1 AS found FROM api_keys WHERE key_id = ?", (key_id,)) is None:
            raise NotFound(f"no API key {key_id!r}", hint="see `kitaru auth api-keys list`")
        return False
