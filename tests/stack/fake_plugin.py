"""A plugin for the tests: an artifact store flavor whose config holds a secret reference."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kitaru.builtin.local_artifact_store import LocalArtifactStore, LocalArtifactStoreConfig
from kitaru.components.flavor import Flavor
from kitaru.plugins import hookimpl


class KeyedStoreConfig(LocalArtifactStoreConfig):
    token: str
    region: str = "eu"
    extra_keys: dict[str, str] = Field(default_factory=dict, json_schema_extra={"secret": True})


class KeyedStore(LocalArtifactStore):
    config: KeyedStoreConfig

    def storage_options(self) -> dict[str, Any]:
        return {"token": self.secret(self.config.token)}

    def verify(self) -> None:
        self.storage_options()
        super().verify()


@hookimpl
def kitaru_flavors() -> list[Flavor]:
    return [
        Flavor("keyed", "artifact_store", f"{__name__}:KeyedStoreConfig", f"{__name__}:KeyedStore",
               description="test store with a token", schemes=("keyed",))
    ]  # fmt: skip
