"""An artifact store that keeps every object inside one zip archive (not a folder of files)
passes the artifact store contract: the contract counts objects through the store
(``ArtifactStore.objects``), never by listing files under ``store.root``."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kitaru.components.artifact_store import ArtifactStore, ArtifactStoreConfig
from kitaru.errors import ConfigError
from kitaru.testing import ArtifactStoreContract


class ZipArtifactStoreConfig(ArtifactStoreConfig):
    """``path``: the archive, a local file (``objects.zip``); created on the first put."""


class ZipArtifactStore(ArtifactStore):
    """Written for this test, not shipped: a small but real artifact store whose objects are
    the members of one zip file, named by their sha256. Its URIs are ``<archive>/<sha256>``.

    Writers hold an exclusive lock (a thread lock in this process, ``flock`` on
    ``<archive>.lock`` across processes) while they look for the member and append it, so the
    same bytes put twice, or by eight threads at once, are one member."""

    config: ZipArtifactStoreConfig

    def __init__(self, name: str, config: ZipArtifactStoreConfig, **kw: Any) -> None:
        super().__init__(name, config, **kw)
        self.archive = Path(self.root.removeprefix("file://"))
        self._lock = threading.Lock()

    def uri_for(self, sha256: str) -> str:
        return f"{self.root}/{sha256}"

    def _member(self, uri: str) -> str:
        if not uri.startswith(self.root + "/"):
            raise FileNotFoundError(f"{uri} is not in {self.root}")
        return uri[len(self.root) + 1 :]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.archive.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(f"{self.archive}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _names(self) -> list[str]:
        if not self.archive.exists():
            return []
        with zipfile.ZipFile(self.archive) as zf:
            return zf.namelist()

    def put(self, sha256: str, data: bytes) -> str:
        with self._locked():
            if sha256 not in self._names():
                with zipfile.ZipFile(self.archive, "a") as zf:
                    zf.writestr(sha256, data)
        return self.uri_for(sha256)

    def get(self, uri: str) -> bytes:
        member = self._member(uri)
        with self._locked():
            if member not in self._names():
                raise FileNotFoundError(uri)
            with zipfile.ZipFile(self.archive) as zf:
                return zf.read(member)

    def exists(self, uri: str) -> bool:
        with self._locked():
            return self._member(uri) in self._names()

    def objects(self, sha256: str) -> list[str]:
        with self._locked():
            return [f"{self.root}/{name}" for name in self._names() if sha256 in name]

    def verify(self) -> None:
        try:
            with self._locked(), zipfile.ZipFile(self.archive, "a"):
                pass
        except OSError as exc:
            raise ConfigError(
                f"artifact store {self.name!r}: cannot write {self.archive}: {exc}",
                hint="check the path",
            ) from None


class TestZipArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, tmp_path: Path) -> ArtifactStore:
        path = str(tmp_path / "store" / "objects.zip")
        return ZipArtifactStore("archive", ZipArtifactStoreConfig(path=path))


def test_the_objects_live_in_the_archive(tmp_path: Path) -> None:
    store = ZipArtifactStore("archive", ZipArtifactStoreConfig(path=str(tmp_path / "o.zip")))
    data = b"inside the archive"
    sha = hashlib.sha256(data).hexdigest()
    store.put(sha, data)
    store.put(sha, data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.zip", "o.zip.lock"]
    with zipfile.ZipFile(tmp_path / "o.zip") as zf:
        assert zf.namelist() == [sha]
    assert store.objects(sha) == [store.uri_for(sha)]
