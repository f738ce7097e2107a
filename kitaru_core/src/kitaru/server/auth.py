"""Workspace API keys: issue (shown once), verify, rotate, revoke.

A key reads ``kitaru_<key id>_<secret>``. The key id is public (it names the key in listings);
only the SHA-256 of the secret is stored, compared in constant time. Every principal belongs to
the server's one workspace; ``admin`` principals may manage principals and keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from kitaru.errors import AuthError, Conflict, Forbidden, NotFound, UsageError
from kitaru.store.access import PRINCIPAL_KINDS, ROLES, AccessStore, ApiKey, Principal
from kitaru.validation import check_text

WORKSPACE = "default"
PREFIX = "kitaru_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_key(key: str) -> tuple[str, str]:
    """``(key id, secret)`` of a full key; AuthError if it is not shaped like one."""
    if not key.startswith(PREFIX):
        raise AuthError("malformed API key", hint="keys look like kitaru_<id>_<secret>")
    key_id, sep, secret = key[len(PREFIX) :].partition("_")
    if not sep or not key_id or not secret:
        raise AuthError("malformed API key", hint="keys look like kitaru_<id>_<secret>")
    return key_id, secret


def authenticate(store: AccessStore, key: str | None) -> Principal:
    """The principal a key belongs to; AuthError for a missing, unknown or revoked key."""
    if not key:
        raise AuthError("an API key is required",
                        hint="send `Authorization: Bearer <key>` or run `kitaru login`")  # fmt: skip
    key_id, secret = parse_key(key)
    record = store.get_api_key(key_id)
    # compare even when unknown, so timing does not tell which key ids exist
    expected = record.secret_sha256 if record is not None else _digest("")
    if not hmac.compare_digest(expected, _digest(secret)) or record is None:
        raise AuthError("invalid API key")
    if record.revoked_at is not None:
        raise AuthError(f"API key {key_id} was revoked", hint="ask an admin for a new key")
    principal = store.get_principal(record.principal)
    if principal is None:
        raise AuthError("invalid API key")
    return principal


def require_admin(principal: Principal) -> Principal:
    """``principal`` if it is an admin, else Forbidden (REST's ``/auth`` routes and the admin
    MCP tools refuse the same way)."""
    if principal.role != "admin":
        raise Forbidden(f"{principal.name} is not an admin", hint="ask an admin of this workspace")
    return principal


class KeyCache:
    """Keys verified in the last ``ttl`` seconds: most requests then cost no database read.
    A key revoked or rotated through this server is dropped at once; through another server
    process sharing the database, within ``ttl``."""

    def __init__(self, store: AccessStore, ttl: float = 5.0) -> None:
        self.store = store
        self.ttl = ttl
        self._seen: dict[str, tuple[Principal, float]] = {}

    def authenticate(self, key: str | None) -> Principal:
        now = time.monotonic()
        hit = self._seen.get(key or "")
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = authenticate(self.store, key)
        if len(self._seen) > 10_000:  # bounded: forget everything rather than grow
            self._seen.clear()
        self._seen[key or ""] = (principal, now + self.ttl)
        return principal

    def forget(self, key_id: str) -> None:
        for key in [k for k in self._seen if k.startswith(f"{PREFIX}{key_id}_")]:
            self._seen.pop(key, None)


def create_principal(
    store: AccessStore, name: str, *, kind: str, role: str = "member", description: str = ""
) -> Principal:
    if kind not in PRINCIPAL_KINDS:
        raise UsageError(f"unknown principal kind {kind!r}", hint="user or service_account")
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}", hint="roles: " + ", ".join(ROLES))
    check_text(name, "name")
    check_text(description, "description")
    if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise UsageError(f"invalid name {name!r}", hint="letters, digits, '-', '_' and '.'")
    principal = Principal(name, kind, role, WORKSPACE, time.time(), description)
    store.put_principal(principal)
    return principal


def issue_key(store: AccessStore, principal: str, *, label: str = "") -> tuple[ApiKey, str]:
    """A new key for ``principal``: its record and the full key (the only time it is shown)."""
    check_text(principal, "principal")
    check_text(label, "label")
    if store.get_principal(principal) is None:
        raise NotFound(f"no user or service account {principal!r}",
                       hint="create it with `kitaru auth service-accounts create NAME`")  # fmt: skip
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = ApiKey(key_id, principal, _digest(secret), time.time(), None, label)
    store.put_api_key(record)
    return record, f"{PREFIX}{key_id}_{secret}"


def revoke_key(store: AccessStore, key_id: str) -> None:
    if not store.revoke_api_key(key_id, time.time()):
        raise Conflict(f"API key {key_id} is already revoked")


def rotate_key(store: AccessStore, key_id: str) -> tuple[ApiKey, str]:
    """A new key for the same principal and label; the old one is revoked at once."""
    old = store.get_api_key(key_id)
    if old is None:
        raise NotFound(f"no API key {key_id!r}", hint="see `kitaru auth api-keys list`")
    if old.revoked_at is not None:
        raise Conflict(f"API key {key_id} is revoked; issue a new one instead")
    new = issue_key(store, old.principal, label=old.label)
    revoke_key(store, key_id)
    return new


def bootstrap(store: AccessStore, name: str = "admin") -> str | None:
    """On a server with no principals: an admin user and its key (returned once), else None."""
    if store.list_principals():
        return None
    create_principal(store, name, kind="user", role="admin", description="bootstrap admin")
    return issue_key(store, name, label="bootstrap")[1]
