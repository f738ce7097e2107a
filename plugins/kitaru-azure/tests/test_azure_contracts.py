"""The artifact and secret stores pass Kitaru's contract suites against the stand-ins
(Azurite; the Key Vault fake), found through the plugin's entry point like any installed
plugin; the name encoding round-trips."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest
from azure_standins import ACCOUNT, ACCOUNT_KEY

from kitaru.components.artifact_store import ArtifactStore
from kitaru.components.secret_store import SecretStore
from kitaru.testing import ArtifactStoreContract, SecretStoreContract, build_component

if TYPE_CHECKING:
    from azure_standins import Azurite
    from fake_azure import FakeAzure


def keys(**values: str) -> Any:
    """A resolver of ``{{secret:azure.KEY}}`` to ``values[KEY]`` (a stack's secret store)."""
    return lambda reference: values[reference.removeprefix("{{secret:azure.").removesuffix("}}")]


class TestBlobStoreByConnectionString(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, azurite: Azurite, container: str) -> ArtifactStore:
        return build_component("artifact_store", "azure", name="az",
                               path=f"az://{container}/runs/{uuid.uuid4().hex[:6]}",
                               connection_string="{{secret:azure.conn}}",
                               secrets=keys(conn=azurite.connection_string))  # fmt: skip


class TestBlobStoreByAccountKeyAtContainerRoot(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, azurite: Azurite, container: str) -> ArtifactStore:
        return build_component("artifact_store", "azure", name="az", path=f"az://{container}",
                               account_name=ACCOUNT, account_key="{{secret:azure.key}}",
                               endpoint_url=azurite.endpoint_url,
                               secrets=keys(key=ACCOUNT_KEY))  # fmt: skip


class TestBlobStoreBySASToken(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, azurite: Azurite, container: str) -> ArtifactStore:
        from datetime import UTC, datetime, timedelta

        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        sas = generate_container_sas(ACCOUNT, container, account_key=ACCOUNT_KEY,
                                     permission=ContainerSasPermissions(read=True, write=True,
                                                                        delete=True, list=True),
                                     expiry=datetime.now(UTC) + timedelta(hours=1))  # fmt: skip
        return build_component("artifact_store", "azure", name="az", path=f"az://{container}/sas",
                               account_name=ACCOUNT, sas_token="{{secret:azure.sas}}",
                               endpoint_url=azurite.endpoint_url, secrets=keys(sas=sas))  # fmt: skip


class TestKeyVaultSecretStore(SecretStoreContract):
    @pytest.fixture
    def secret_store(self, fake: FakeAzure) -> SecretStore:
        return build_component("secret_store", "azure", name="kv", vault_url=fake.vault_url,
                               verify_challenge_resource=False)  # fmt: skip


class TestKeyVaultSecretStoreWithoutPrefix(SecretStoreContract):
    @pytest.fixture
    def secret_store(self, fake: FakeAzure) -> SecretStore:
        return build_component("secret_store", "azure", name="kv", vault_url=fake.vault_url,
                               prefix="", verify_challenge_resource=False)  # fmt: skip
