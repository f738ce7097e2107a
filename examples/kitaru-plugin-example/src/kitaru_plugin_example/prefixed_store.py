"""The ``prefixed`` artifact store: the base store, with every blob under ``<path>/<prefix>/``.

The base :class:`~kitaru.components.artifact_store.ArtifactStore` does the work through fsspec
(put, get, exists, deduplication, verify); a flavor says where blobs go and, for a cloud, which
credentials to pass (``storage_options``).
"""

from __future__ import annotations

from pydantic import Field

from kitaru.components.artifact_store import ArtifactStore, ArtifactStoreConfig


class PrefixedArtifactStoreConfig(ArtifactStoreConfig):
    """``path`` (inherited): a folder or URL. Frozen, unknown keys rejected, like every config."""

    prefix: str = Field(default="kx", pattern=r"^[A-Za-z0-9_.\-]+$")


class PrefixedArtifactStore(ArtifactStore):
    config: PrefixedArtifactStoreConfig

    def uri_for(self, sha256: str) -> str:
        return f"{self.root}/{self.config.prefix}/{sha256[:2]}/{sha256}"
