"""Storing and reading values: inline in the metadata store when small, else a blob."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from kitaru.errors import NotFound
from kitaru.runtime.serialization import Serialized, deserialize, serialize
from kitaru.store.base import MetadataStore
from kitaru.store.records import Blob

if TYPE_CHECKING:
    from kitaru.components.artifact_store import ArtifactStore

#: (serializer, type_name, inline bytes or None, blob sha256 or None)
Stored = tuple[str, str | None, bytes | None, str | None]


def read_uri(uri: str, store: ArtifactStore | None) -> bytes:
    """Read a blob by URI: through ``store`` when it holds it (it has the credentials)."""
    if store is not None and uri.startswith(store.root + "/"):
        return store.get(uri)
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(uri)
    return bytes(fs.cat_file(path))


class ValueIO:
    """Reads and writes values for one metadata store and one artifact store."""

    def __init__(
        self,
        store: MetadataStore,
        artifacts: ArtifactStore | None,
        inline_limit: int,
        *,
        stack: str | None = None,
    ) -> None:
        self.store = store
        self._artifacts = artifacts
        self.inline_limit = inline_limit
        self.stack = stack

    @property
    def artifacts(self) -> ArtifactStore:
        """The artifact store of the execution's stack (resolved on first large value)."""
        if self._artifacts is None:
            from kitaru.runtime.stacks import stack_of

            self._artifacts = stack_of(self.stack).artifact_store
        return self._artifacts

    def dump(self, value: Any) -> Stored:
        return self.dump_serialized(serialize(value))

    def dump_serialized(self, s: Serialized) -> Stored:
        if len(s.data) <= self.inline_limit:
            return (s.serializer, s.type_name, s.data, None)
        sha = hashlib.sha256(s.data).hexdigest()
        uri = self.artifacts.put(sha, s.data)
        self.store.put_blob(Blob(sha, len(s.data), uri))
        return (s.serializer, s.type_name, None, sha)

    def raw(self, value: bytes | None, ref: str | None) -> bytes:
        if ref is None:
            return value or b""
        blob = self.store.get_blob(ref)
        try:
            data = read_uri(blob.uri, self._store_for(blob.uri))
        except FileNotFoundError as exc:
            raise NotFound(
                f"artifact {ref[:12]} is recorded at {blob.uri} but is missing there",
                hint="the artifact store was cleaned or moved; restore it",
            ) from exc
        if hashlib.sha256(data).hexdigest() != ref:
            raise NotFound(
                f"artifact {ref[:12]} at {blob.uri} is corrupted (hash mismatch)",
                hint="restore the file from a backup or re-run the producing checkpoint",
            )
        return data

    def _store_for(self, uri: str) -> ArtifactStore | None:
        """The stack's store when it holds ``uri`` (it has the credentials), else None."""
        try:
            store = self.artifacts
        except Exception:
            return None
        return store if uri.startswith(store.root + "/") else None

    def load(self, serializer: str, type_name: str | None, value: bytes | None,
             ref: str | None) -> Any:  # fmt: skip
        return deserialize(serializer, type_name, self.raw(value, ref))
