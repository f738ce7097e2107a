"""Who is looking at the dashboard: sessions, the two ways in, and CSRF tokens.

A browser cannot send ``Authorization: Bearer``, so the dashboard trades a credential for a
session once: an API key on the login page (``kitaru server start``), or the one-time token
``kitaru ui`` prints. The session cookie is HttpOnly and SameSite=Strict; every POST must carry
the session's CSRF token (a form field or the ``X-CSRF-Token`` header htmx sends).

A key-backed session keeps the key and checks it on every request through the server's key
cache, so a revoked key closes its sessions as it closes the REST API (at once through this
server, within the cache's 5 s through another).
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Protocol

from kitaru.errors import AuthError
from kitaru.store.access import Principal

COOKIE = "kitaru_session"
#: the login form's double-submit token (there is no session yet to hold one)
LOGIN_COOKIE = "kitaru_login"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass
class Session:
    credential: str
    principal: Principal
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    expires: float = 0.0


class Gate(Protocol):
    """How a credential becomes a principal (and is checked again later)."""

    #: what the login page asks for: "key" (an API key) or "token" (kitaru ui's URL)
    asks: str

    def admit(self, credential: str) -> Principal:
        """The principal ``credential`` names; AuthError if it admits nobody."""

    def recheck(self, session: Session) -> Principal:
        """The session's principal now; AuthError once its credential stopped working."""


class KeyGate:
    """``kitaru server start``: API keys, verified by the REST API's own key cache."""

    asks = "key"

    def __init__(self, keys: object) -> None:
        self.keys = keys

    def admit(self, credential: str) -> Principal:
        return self.keys.authenticate(credential.strip())  # type: ignore[attr-defined]

    def recheck(self, session: Session) -> Principal:
        return self.keys.authenticate(session.credential)  # type: ignore[attr-defined]


class TokenGate:
    """``kitaru ui``: one token, usable once, for the local user of the embedded store."""

    asks = "token"

    def __init__(self, token: str) -> None:
        self._token: str | None = token
        self.local = Principal("local", "user", "admin", "local", time.time(), "kitaru ui")

    def admit(self, credential: str) -> Principal:
        token = self._token
        if token is None or not hmac.compare_digest(token.encode(), credential.encode()):
            raise AuthError("invalid or already used token",
                            hint="start `kitaru ui` again for a new URL")  # fmt: skip
        self._token = None  # used once
        return self.local

    def recheck(self, session: Session) -> Principal:
        return session.principal


class Sessions:
    """Open sessions, in this process's memory (a restart signs everyone out)."""

    def __init__(self, gate: Gate, ttl: float = 12 * 3600) -> None:
        self.gate = gate
        self.ttl = ttl
        self._open: dict[str, Session] = {}

    def open(self, credential: str) -> tuple[str, Session]:
        principal = self.gate.admit(credential)
        now = time.time()
        for sid in [s for s, v in self._open.items() if v.expires < now]:
            del self._open[sid]  # expired ones go when a new one comes
        sid = secrets.token_urlsafe(32)
        session = self._open[sid] = Session(credential, principal, expires=now + self.ttl)
        return sid, session

    def find(self, sid: str | None) -> Session | None:
        """The live session with this id, its principal checked again; None otherwise."""
        session = self._open.get(sid or "")
        if session is None or session.expires < time.time():
            return None
        try:
            session.principal = self.gate.recheck(session)
        except AuthError:
            self._open.pop(sid or "", None)
            return None
        return session

    def close(self, sid: str | None) -> None:
        self._open.pop(sid or "", None)


def same_token(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
