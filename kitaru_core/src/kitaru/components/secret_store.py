"""Secret store: named secrets, each a mapping of keys to values."""

from __future__ import annotations

from abc import abstractmethod

from kitaru.components.base import SECRET_STORE, StackComponent
from kitaru.errors import NotFound


class SecretStore(StackComponent):
    TYPE = SECRET_STORE

    @abstractmethod
    def get(self, name: str) -> dict[str, str]:
        """All keys of secret ``name``; raises NotFound."""

    @abstractmethod
    def set(self, name: str, values: dict[str, str]) -> None:
        """Create or replace secret ``name``."""

    @abstractmethod
    def list(self) -> list[str]:
        """Secret names (never values)."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove secret ``name``; raises NotFound."""

    def resolve(self, reference: str) -> str:
        """The value of a ``{{secret:name.key}}`` reference."""
        from kitaru.stack.references import parse_secret_reference

        name, key = parse_secret_reference(reference)
        values = self.get(name)
        if key not in values:
            raise NotFound(
                f"secret {name!r} has no key {key!r}",
                hint=f"keys: {', '.join(sorted(values)) or 'none'}; "
                f"set it with `kitaru secret set {name} {key}=...`",
            )
        return values[key]
