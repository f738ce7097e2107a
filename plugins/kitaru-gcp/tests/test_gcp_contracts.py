"""Both flavors pass Kitaru's contract suites against the stand-ins (the GCS emulator, drongo's
Secret Manager), found through the plugin's entry point like any installed plugin."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from gcp_standins import PROJECT

from kitaru.components.artifact_store import ArtifactStore
from kitaru.components.secret_store import SecretStore
from kitaru.testing import ArtifactStoreContract, SecretStoreContract, build_component

if TYPE_CHECKING:
    from gcp_standins import Drongo, GCSEmulator


class TestGCSArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, gcs_emulator: GCSEmulator, bucket: str) -> ArtifactStore:
        return build_component("artifact_store", "gcs", name="gcs",
                               path=f"gs://{bucket}/runs/{uuid.uuid4().hex[:6]}", project=PROJECT,
                               anonymous=True, endpoint_url=gcs_emulator.endpoint_url)  # fmt: skip


class TestGCSArtifactStoreAtBucketRoot(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, gcs_emulator: GCSEmulator, bucket: str) -> ArtifactStore:
        return build_component("artifact_store", "gcs", name="gcs", path=f"gs://{bucket}",
                               anonymous=True, endpoint_url=gcs_emulator.endpoint_url)  # fmt: skip


class TestGCPSecretStore(SecretStoreContract):
    @pytest.fixture
    def secret_store(self, drongo: Drongo) -> SecretStore:
        return build_component("secret_store", "gcp", name="gcp", project=PROJECT,
                               anonymous=True, endpoint_url=drongo.endpoint_url)  # fmt: skip


class TestGCPSecretStoreWithoutPrefix(SecretStoreContract):
    @pytest.fixture
    def secret_store(self, drongo: Drongo) -> SecretStore:
        return build_component("secret_store", "gcp", name="gcp", project=PROJECT, prefix="",
                               anonymous=True, endpoint_url=drongo.endpoint_url)  # fmt: skip
