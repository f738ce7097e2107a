"""Who may use a Kitaru server: principals (users and service accounts) and their API keys.

Kept in the metadata store next to everything else, as a separate interface: the runtime never
needs it, only the server does. A key is stored as the SHA-256 of its secret part (keys are 256
random bits, so a fast hash is enough; nothing to brute-force); the full key is shown once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

PRINCIPAL_KINDS = ("user", "service_account")
ROLES = ("admin", "member")


@dataclass(frozen=True)
class Principal:
    name: str
    kind: str  # user | service_account
    role: str  # admin | member
    workspace: str
    created_at: float
    description: str = ""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    principal: str
    secret_sha256: str
    created_at: float
    revoked_at: float | None = None
    label: str = ""


class AccessStore(ABC):
    """Principals and API keys (implemented by the stores a server can run on)."""

    @abstractmethod
    def put_principal(self, principal: Principal) -> None:
        """Create it; Conflict if the name is taken."""

    @abstractmethod
    def get_principal(self, name: str) -> Principal | None: ...

    @abstractmethod
    def list_principals(self, kind: str | None = None) -> list[Principal]: ...

    @abstractmethod
    def put_api_key(self, key: ApiKey) -> None: ...

    @abstractmethod
    def get_api_key(self, key_id: str) -> ApiKey | None: ...

    @abstractmethod
    def list_api_keys(self, principal: str | None = None) -> list[ApiKey]: ...

    @abstractmethod
    def revoke_api_key(self, key_id: str, when: float) -> bool:
        """Mark it revoked; False if it was already revoked (NotFound if unknown)."""
