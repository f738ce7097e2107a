"""The contract every artifact store flavor passes."""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any

import pytest

from kitaru.components.artifact_store import ArtifactStore
from kitaru.errors import NotFound

FIVE_MB = 5 * 1024 * 1024


def blob(data: bytes) -> tuple[str, bytes]:
    """``(sha256, data)``: what the runtime hands to ``put``."""
    return hashlib.sha256(data).hexdigest(), data


class ArtifactStoreContract:
    """Subclass as ``TestMyStore`` and override the ``artifact_store`` fixture.

    The store it returns should be empty (e.g. rooted in ``tmp_path`` or a fresh bucket prefix).
    """

    @pytest.fixture
    def artifact_store(self) -> ArtifactStore:
        raise NotImplementedError("override the `artifact_store` fixture to return your store")

    def objects(self, store: ArtifactStore, sha256: str) -> list[str]:
        """The objects ``store`` holds for ``sha256``, asked of the store itself
        (:meth:`ArtifactStore.objects`): a store whose objects are not files under its root
        (one archive, a database) is counted right."""
        return list(store.objects(sha256))

    def test_is_an_artifact_store(self, artifact_store: ArtifactStore) -> None:
        assert isinstance(artifact_store, ArtifactStore)
        assert artifact_store.TYPE == "artifact_store"

    def test_put_get_roundtrip(self, artifact_store: ArtifactStore) -> None:
        sha, data = blob(b"hello, durable world")
        uri = artifact_store.put(sha, data)
        assert isinstance(uri, str) and uri
        assert artifact_store.get(uri) == data

    def test_put_returns_uri_for(self, artifact_store: ArtifactStore) -> None:
        sha, data = blob(b"addressed by content")
        assert artifact_store.put(sha, data) == artifact_store.uri_for(sha)

    def test_empty_value_roundtrip(self, artifact_store: ArtifactStore) -> None:
        sha, data = blob(b"")
        assert artifact_store.get(artifact_store.put(sha, data)) == b""

    def test_binary_value_roundtrip(self, artifact_store: ArtifactStore) -> None:
        sha, data = blob(bytes(range(256)) * 4)
        assert artifact_store.get(artifact_store.put(sha, data)) == data

    def test_distinct_values_get_distinct_uris(self, artifact_store: ArtifactStore) -> None:
        (sha_a, a), (sha_b, b) = blob(b"a"), blob(b"b")
        uri_a, uri_b = artifact_store.put(sha_a, a), artifact_store.put(sha_b, b)
        assert uri_a != uri_b
        assert (artifact_store.get(uri_a), artifact_store.get(uri_b)) == (a, b)

    def test_same_bytes_twice_store_one_object(self, artifact_store: ArtifactStore) -> None:
        sha, data = blob(b"written once")
        first = artifact_store.put(sha, data)
        second = artifact_store.put(sha, data)
        assert first == second
        assert len(self.objects(artifact_store, sha)) == 1
        assert artifact_store.get(second) == data

    def test_concurrent_puts_of_the_same_bytes(self, artifact_store: ArtifactStore) -> None:
        sha, data = blob(os.urandom(256 * 1024))
        errors: list[BaseException] = []

        def put() -> None:
            try:
                artifact_store.put(sha, data)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=put) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert artifact_store.get(artifact_store.uri_for(sha)) == data
        assert len(self.objects(artifact_store, sha)) == 1

    def test_exists(self, artifact_store: ArtifactStore) -> None:
        sha, data = blob(b"now you see me")
        assert not artifact_store.exists(artifact_store.uri_for(sha))
        uri = artifact_store.put(sha, data)
        assert artifact_store.exists(uri)

    def test_large_value_roundtrip(self, artifact_store: ArtifactStore) -> None:
        sha, data = blob(os.urandom(FIVE_MB))
        uri = artifact_store.put(sha, data)
        got = artifact_store.get(uri)
        assert len(got) == FIVE_MB
        assert hashlib.sha256(got).hexdigest() == sha

    def test_get_missing_raises(self, artifact_store: ArtifactStore) -> None:
        sha, _ = blob(b"never stored")
        with pytest.raises((FileNotFoundError, NotFound)):
            artifact_store.get(artifact_store.uri_for(sha))

    def test_verify_ok(self, artifact_store: ArtifactStore) -> None:
        artifact_store.verify()  # raises ConfigError saying what is wrong

    def test_describe_names_type_and_config(self, artifact_store: ArtifactStore) -> None:
        described: dict[str, Any] = artifact_store.describe()
        assert described["type"] == "artifact_store"
        assert described["name"] == artifact_store.name
        assert "path" in described["config"]
