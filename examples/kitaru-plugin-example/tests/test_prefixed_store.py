"""The ``prefixed`` flavor passes Kitaru's artifact store contract, found through its entry
point like any installed plugin."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pydantic import ValidationError

from kitaru.components.artifact_store import ArtifactStore
from kitaru.testing import ArtifactStoreContract, build_component


class TestPrefixedArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, tmp_path: Path) -> ArtifactStore:
        return build_component("artifact_store", "prefixed", path=str(tmp_path), prefix="kx")


def test_blobs_live_under_the_prefix(tmp_path: Path) -> None:
    store = build_component("artifact_store", "prefixed", path=str(tmp_path), prefix="blobs")
    data = b"where am I?"
    sha = hashlib.sha256(data).hexdigest()
    store.put(sha, data)
    assert (tmp_path / "blobs" / sha[:2] / sha).read_bytes() == data


def test_flavor_comes_from_this_distribution() -> None:
    from kitaru.plugins.manager import plugin_manager

    flavor = plugin_manager().flavor("artifact_store", "prefixed")
    assert flavor.provider == "kitaru-plugin-example"


@pytest.mark.parametrize(
    "config", [{"path": "/x", "colour": "red"}, {"path": "/x", "prefix": "a/b"}]
)
def test_config_rejects_unknown_keys_and_bad_prefixes(config: dict[str, str]) -> None:
    from kitaru_plugin_example.prefixed_store import PrefixedArtifactStoreConfig

    with pytest.raises(ValidationError):
        PrefixedArtifactStoreConfig(**config)
