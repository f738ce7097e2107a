"""The builtin ``local`` artifact store passes the artifact store contract, however its path is
given: empty (``KITARU_HOME/artifacts``), a folder, or a ``file://`` URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from kitaru.components.artifact_store import ArtifactStore
from kitaru.testing import ArtifactStoreContract, build_component


class TestLocalArtifactStore(ArtifactStoreContract):
    FLAVOR = "local"

    @pytest.fixture(params=["default", "folder", "file-url"])
    def artifact_store(self, request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
        path = {
            "default": "",
            "folder": str(tmp_path / "store"),
            "file-url": (tmp_path / "store").as_uri(),
        }[request.param]
        return build_component("artifact_store", self.FLAVOR, path=path)


def test_default_path_is_under_kitaru_home(kitaru_home: Path) -> None:
    from hashlib import sha256

    store = build_component("artifact_store", "local")
    data = b"where do I live?"
    store.put(sha256(data).hexdigest(), data)
    assert list((kitaru_home / "artifacts").rglob(sha256(data).hexdigest()))
