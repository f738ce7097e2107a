"""Both flavors pass Kitaru's contract suites against moto in server mode, found through the
plugin's entry point like any installed plugin."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

from kitaru.components.artifact_store import ArtifactStore
from kitaru.components.secret_store import SecretStore
from kitaru.testing import ArtifactStoreContract, SecretStoreContract, build_component

if TYPE_CHECKING:
    from aws_moto import Moto


class TestS3ArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, moto: Moto, bucket: str) -> ArtifactStore:
        return build_component("artifact_store", "s3", name="s3",
                               path=f"s3://{bucket}/runs/{uuid.uuid4().hex[:6]}",
                               region="us-east-1", endpoint_url=moto.endpoint_url)  # fmt: skip


class TestS3ArtifactStoreAtBucketRoot(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, moto: Moto, bucket: str) -> ArtifactStore:
        return build_component("artifact_store", "s3", name="s3", path=f"s3://{bucket}",
                               endpoint_url=moto.endpoint_url)  # fmt: skip


class TestAWSSecretStore(SecretStoreContract):
    @pytest.fixture
    def secret_store(self, moto: Moto) -> SecretStore:
        return build_component("secret_store", "aws", name="aws", region="us-east-1",
                               endpoint_url=moto.endpoint_url)  # fmt: skip
