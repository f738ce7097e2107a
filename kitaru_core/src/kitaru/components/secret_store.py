"""Secret store: named secrets, each a mapping of keys to values."""

from __future__ import annotations

import json
from abc import abstractmethod

from kitaru.components.base import SECRET_STORE, StackComponent
from kitaru.errors import ConfigError, NotFound


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


def values_of(text: str | None, where: str) -> dict[str, str]:
    """A secret's keys and values from the JSON object a backend's secret holds (what ``set``
    writes with ``json.dumps``); ``where`` names that secret in the error."""
    try:
        values = json.loads(text or "")
    except ValueError:
        values = None
    if not isinstance(values, dict):
        raise ConfigError(
            f"{where} is not a JSON object of keys to values",
            hint="Kitaru secrets are stored as JSON objects; rewrite it with `kitaru secret set`",
        )
    return {str(k): str(v) for k, v in values.items()}
