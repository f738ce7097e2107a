"""Artifact store: where large values live, content-addressed by sha256, through fsspec.

A flavor is mostly a URL scheme plus credentials: the base class does the work.
"""

from __future__ import annotations

from typing import Any


class ArtifactStore:
    """Stores immutable blobs under ``<root>/<sha[:2]>/<sha>``; writing the same bytes is free."""

    def __init__(self, root: str, **storage_options: Any) -> None:
        self.root = root.rstrip("/")
        self.storage_options = storage_options
        self._fs: Any = None

    @property
    def fs(self) -> Any:
        if self._fs is None:
            from fsspec.core import url_to_fs

            self._fs, self._root_path = url_to_fs(self.root, **self.storage_options)
        return self._fs

    def uri_for(self, sha256: str) -> str:
        return f"{self.root}/{sha256[:2]}/{sha256}"

    def _path(self, uri: str) -> str:
        fs = self.fs
        return fs._strip_protocol(uri)

    def put(self, sha256: str, data: bytes) -> str:
        """Store ``data`` (whose sha256 is given) and return its URI. Deduplicated."""
        uri = self.uri_for(sha256)
        path = self._path(uri)
        if not self.fs.exists(path):
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            tmp = f"{path}.tmp"
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        return uri

    def get(self, uri: str) -> bytes:
        return self.fs.cat_file(self._path(uri))

    def exists(self, uri: str) -> bool:
        return bool(self.fs.exists(self._path(uri)))

    def verify(self) -> None:
        """Check the store is reachable and writable."""
        self.fs.makedirs(self._path(self.root), exist_ok=True)
