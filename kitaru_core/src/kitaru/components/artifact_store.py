"""Artifact store: where large values live, content-addressed by sha256, through fsspec.

A flavor is mostly a URL scheme plus credentials: override :meth:`storage_options` and the base
does the rest (``s3://bucket/prefix`` + keys, ``gs://...`` + a token, ...).
"""

from __future__ import annotations

import uuid
from typing import Any

from kitaru.components.base import ARTIFACT_STORE, ComponentConfig, StackComponent
from kitaru.errors import ConfigError


class ArtifactStoreConfig(ComponentConfig):
    #: root URL of the store, e.g. ``file:///data/kitaru`` or ``s3://bucket/prefix``
    path: str


class ArtifactStore(StackComponent):
    """Stores immutable blobs under ``<path>/<sha[:2]>/<sha>``; writing the same bytes is free."""

    TYPE = ARTIFACT_STORE
    config: ArtifactStoreConfig

    def __init__(self, name: str, config: ArtifactStoreConfig, **kw: Any) -> None:
        super().__init__(name, config, **kw)
        self.root = config.path.rstrip("/")
        self._fs: Any = None

    def storage_options(self) -> dict[str, Any]:
        """fsspec options (credentials, endpoints) for this store's filesystem."""
        return {}

    @property
    def fs(self) -> Any:
        if self._fs is None:
            from fsspec.core import url_to_fs

            self._fs, _ = url_to_fs(self.root, **self.storage_options())
        return self._fs

    def uri_for(self, sha256: str) -> str:
        return f"{self.root}/{sha256[:2]}/{sha256}"

    def _path(self, uri: str) -> str:
        return str(self.fs._strip_protocol(uri))

    def put(self, sha256: str, data: bytes) -> str:
        """Store ``data`` (whose sha256 is given) and return its URI. Deduplicated."""
        uri = self.uri_for(sha256)
        path = self._path(uri)
        if not self.fs.exists(path):
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            # a name of its own: concurrent writers of the same blob must not share a temp file
            tmp = f"{path}.{uuid.uuid4().hex[:12]}.tmp"
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        return uri

    def get(self, uri: str) -> bytes:
        return bytes(self.fs.cat_file(self._path(uri)))

    def exists(self, uri: str) -> bool:
        return bool(self.fs.exists(self._path(uri)))

    def objects(self, sha256: str) -> list[str]:
        """Where this store holds objects for ``sha256``: one location after any number of puts
        of the same bytes, none before the first. More than one means a write was duplicated or
        left a temporary copy behind; the contract suite counts objects through this method.

        The default lists the files under ``root`` whose path names ``sha256`` (right for any
        fsspec-backed store, whatever its ``uri_for`` layout). A store that keeps its objects
        elsewhere (inside one archive, in a database) overrides it."""
        root = self._path(self.root)
        self.fs.invalidate_cache(root)  # another process may have written meanwhile
        if not self.fs.exists(root):
            return []
        return [str(p) for p in self.fs.find(root) if sha256 in str(p)]

    def verify(self) -> None:
        try:
            self.fs.makedirs(self._path(self.root), exist_ok=True)
            probe = f"{self._path(self.root)}/.kitaru-verify"
            self.fs.pipe_file(probe, b"ok")
            self.fs.rm(probe)
        except Exception as exc:
            raise ConfigError(
                f"artifact store {self.name!r} at {self.root} is not writable: "
                f"{type(exc).__name__}: {exc}",
                hint="check the path and the credentials",
            ) from exc
