"""``local`` artifact store: a folder (default ``KITARU_HOME/artifacts``)."""

from __future__ import annotations

from typing import Any

from kitaru.components.artifact_store import ArtifactStore, ArtifactStoreConfig


class LocalArtifactStoreConfig(ArtifactStoreConfig):
    #: a folder or ``file://`` URL; empty means ``KITARU_HOME/artifacts``
    path: str = ""


class LocalArtifactStore(ArtifactStore):
    def __init__(self, name: str, config: LocalArtifactStoreConfig, **kw: Any) -> None:
        if not config.path:
            from kitaru.config import settings

            config = config.model_copy(update={"path": settings().artifacts_dir.as_uri()})
        elif "://" not in config.path:
            from pathlib import Path

            path = Path(config.path).expanduser().resolve().as_uri()
            config = config.model_copy(update={"path": path})
        super().__init__(name, config, **kw)
