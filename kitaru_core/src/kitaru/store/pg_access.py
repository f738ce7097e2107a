"""The PostgreSQL side of :class:`~kitaru.store.access.AccessStore` (mixed into PostgresStore),
so ``kitaru server start --db postgresql://...`` keeps its users and API keys there too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kitaru.errors import Conflict, NotFound
from kitaru.store.access import AccessStore, ApiKey, Principal
from kitaru.store.pg_pool import UniqueViolation
from kitaru.validation import check_names

if TYPE_CHECKING:
    from kitaru.store.pg_pool import Pool

_P = "name, kind, role, workspace, created_at, description"
_K = "key_id, principal, secret_sha256, created_at, revoked_at, label"


class PgAccess(AccessStore):
    if TYPE_CHECKING:  # provided by PostgresStore
        _pool: Pool

        def _all(self, sql: str, args: Any = ()) -> list[Any]: ...
        def _run(self, sql: str, args: Any = ()) -> int: ...

    def put_principal(self, principal: Principal) -> None:
        check_names(principal=principal.name, kind=principal.kind, role=principal.role,
                    workspace=principal.workspace, description=principal.description)  # fmt: skip
        p = principal
        try:
            self._run(f"INSERT INTO principals ({_P}) VALUES (%s, %s, %s, %s, %s, %s)",
                      (p.name, p.kind, p.role, p.workspace, p.created_at, p.description))  # fmt: skip
        except UniqueViolation:
            raise Conflict(f"{p.kind.replace('_', ' ')} {p.name!r} already exists") from None

    def get_principal(self, name: str) -> Principal | None:
        check_names(principal=name)
        rows = self._all(f"SELECT {_P} FROM principals WHERE name = %s", (name,))
        return Principal(*rows[0]) if rows else None

    def list_principals(self, kind: str | None = None) -> list[Principal]:
        check_names(kind=kind)
        if kind is None:
            rows = self._all(f"SELECT {_P} FROM principals ORDER BY name")
        else:
            rows = self._all(f"SELECT {_P} FROM principals WHERE kind = %s ORDER BY name", (kind,))
        return [Principal(*r) for r in rows]

    def put_api_key(self, key: ApiKey) -> None:
        check_names(key_id=key.key_id, principal=key.principal, label=key.label)
        k = key
        self._run(f"INSERT INTO api_keys ({_K}) VALUES (%s, %s, %s, %s, %s, %s)",
                  (k.key_id, k.principal, k.secret_sha256, k.created_at, k.revoked_at, k.label))  # fmt: skip

    def get_api_key(self, key_id: str) -> ApiKey | None:
        check_names(key_id=key_id)
        rows = self._all(f"SELECT {_K} FROM api_keys WHERE key_id = %s", (key_id,))
        return ApiKey(*rows[0]) if rows else None

    def list_api_keys(self, principal: str | None = None) -> list[ApiKey]:
        check_names(principal=principal)
        where, args = ("", ()) if principal is None else (" WHERE principal = %s", (principal,))
        rows = self._all(f"SELECT {_K} FROM api_keys{where} ORDER BY created_at", args)
        return [ApiKey(*r) for r in rows]

    def revoke_api_key(self, key_id: str, when: float) -> bool:
        check_names(key_id=key_id)
        # One conditional UPDATE: of two concurrent revocations exactly one reports True.
        if self._run("UPDATE api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL",
                     (when, key_id)):  # fmt: skip
            return True
        if not self._all("SELECT 1 FROM api_keys WHERE key_id = %s", (key_id,)):
            raise NotFound(f"no API key {key_id!r}", hint="see `kitaru auth api-keys list`")
        return False
