"""A flavor: one implementation of one component type, named, configured, lazily imported.

Listing flavors imports nothing but this record: the config class and the implementation are
named by import path and loaded only when a component of that flavor is registered or used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kitaru.errors import ConfigError
from kitaru.imports import import_object as import_type


@dataclass(frozen=True)
class Flavor:
    """``name`` of ``type`` (a component type), with its ``config_class`` and ``implementation``
    given as ``"package.module:Class"``."""

    name: str
    type: str
    config_class: str
    implementation: str
    install_hint: str | None = None
    docs_url: str | None = None
    description: str = ""
    #: the plugin (distribution) that provides it; set by the plugin manager
    provider: str = "kitaru"
    #: URL schemes it serves, as fsspec's registry maps protocols to filesystems: an artifact
    #: store's ``path`` scheme (``("s3",)``); ``""`` is a bare path. A URL's flavor is found
    #: through these (``kitaru server start --artifact-store URL``), so the core names no cloud.
    schemes: tuple[str, ...] = ()

    def _load(self, path: str) -> Any:
        try:
            return import_type(path)
        except Exception as exc:
            hint = self.install_hint or f"reinstall {self.provider}"
            raise ConfigError(
                f"flavor {self.name!r} ({self.type}) from {self.provider} cannot be loaded: "
                f"{type(exc).__name__}: {exc}",
                hint=hint,
            ) from exc

    def load_config_class(self) -> Any:
        return self._load(self.config_class)

    def load_implementation(self) -> Any:
        return self._load(self.implementation)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "type": self.type, "provider": self.provider,
            "config_class": self.config_class, "implementation": self.implementation,
            "install_hint": self.install_hint, "docs_url": self.docs_url,
            "description": self.description, "schemes": list(self.schemes),
        }  # fmt: skip
