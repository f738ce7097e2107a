"""``/api/v1/auth``: service accounts and API keys (admins only; anyone may list their own)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from kitaru.errors import NotFound
from kitaru.server import auth
from kitaru.store.access import AccessStore, ApiKey, Principal


class NewPrincipal(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["admin", "member"] = "member"
    description: str = Field(default="", max_length=500)
    kind: Literal["user", "service_account"] = "service_account"


class NewKey(BaseModel):
    principal: str = Field(min_length=1, max_length=100)
    label: str = Field(default="", max_length=200)


def _key(k: ApiKey) -> dict[str, Any]:
    """A key as listed: never its secret or its hash."""
    return {"key_id": k.key_id, "principal": k.principal, "label": k.label,
            "created_at": k.created_at, "revoked_at": k.revoked_at,
            "active": k.revoked_at is None}  # fmt: skip


def router(store: AccessStore, principal: Callable[..., Any], keys: auth.KeyCache) -> APIRouter:
    r = APIRouter(prefix="/auth", tags=["auth"])

    def admin(me: Principal = Depends(principal)) -> Principal:
        return auth.require_admin(me)

    @r.get("/me")
    def whoami(me: Principal = Depends(principal)) -> dict[str, Any]:
        return dataclasses.asdict(me)

    @r.post("/service-accounts", dependencies=[Depends(admin)])
    def create_account(body: NewPrincipal) -> dict[str, Any]:
        """Create a service account (or, with kind=user, a user)."""
        created = auth.create_principal(store, body.name, kind=body.kind, role=body.role,
                                        description=body.description)  # fmt: skip
        return dataclasses.asdict(created)

    @r.get("/service-accounts", dependencies=[Depends(admin)])
    def list_accounts() -> list[dict[str, Any]]:
        return [dataclasses.asdict(p) for p in store.list_principals()]

    @r.post("/api-keys", dependencies=[Depends(admin)])
    def create_key(body: NewKey) -> dict[str, Any]:
        """Issue a key. The response holds the full key: it is never shown again."""
        record, key = auth.issue_key(store, body.principal, label=body.label)
        return {**_key(record), "key": key}

    @r.get("/api-keys")
    def list_keys(me: Principal = Depends(principal)) -> list[dict[str, Any]]:
        """All keys for admins, one's own for others."""
        return [_key(k) for k in store.list_api_keys(None if me.role == "admin" else me.name)]

    def _own_or_admin(key_id: str, me: Principal) -> None:
        k = store.get_api_key(key_id)
        if k is None or (me.role != "admin" and k.principal != me.name):
            raise NotFound(f"no API key {key_id!r}", hint="see `kitaru auth api-keys list`")

    @r.post("/api-keys/{key_id}/rotate")
    def rotate(key_id: str, me: Principal = Depends(principal)) -> dict[str, Any]:
        """A new key replacing this one (revoked at once). Shown once."""
        _own_or_admin(key_id, me)
        record, key = auth.rotate_key(store, key_id)
        keys.forget(key_id)
        return {**_key(record), "key": key}

    @r.post("/api-keys/{key_id}/revoke")
    def revoke(key_id: str, me: Principal = Depends(principal)) -> dict[str, Any]:
        _own_or_admin(key_id, me)
        auth.revoke_key(store, key_id)
        keys.forget(key_id)
        return {"key_id": key_id, "active": False}

    return r
