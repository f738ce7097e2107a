"""The artifact and secret stores pass Kitaru's contract suites against the stand-ins
(Azurite; the Key Vault fake), found through the plugin's entry point like any installed
plugin, with every way the artifact store signs in: a connection string, an account key, a SAS
token, and Entra ID (``DefaultAzureCredential``, here the fake's managed identity, against an
Azurite that checks bearer tokens); the name encoding round-trips."""

from __future__ import annotations

import hashlib
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


class TestBlobStoreByDefaultAzureCredential(ArtifactStoreContract):
    """No key: ``DefaultAzureCredential`` finds the AzureML compute's managed identity
    (``MSI_ENDPOINT``, the fake's), whose token for ``https://storage.azure.com`` the OAuth
    Azurite checks (HTTPS, ``--oauth basic``); the endpoint's path (``/devstoreaccount1``)
    carries over to adlfs's ``account_host``."""

    @pytest.fixture
    def artifact_store(self, fake: FakeAzure, azurite_oauth: Azurite,
                       oauth_container: str) -> ArtifactStore:  # fmt: skip
        return build_component("artifact_store", "azure", name="az",
                               path=f"az://{oauth_container}/entra", account_name=ACCOUNT,
                               endpoint_url=azurite_oauth.endpoint_url)  # fmt: skip

    def test_it_signs_in_with_the_managed_identitys_storage_token(
        self, artifact_store: ArtifactStore, fake: FakeAzure, azurite_oauth: Azurite,
        oauth_container: str,
    ) -> None:  # fmt: skip
        """Neither a key nor anonymous access: the blob is written with a bearer token the
        managed identity issued for Azure Storage."""
        options = artifact_store.storage_options()  # type: ignore[attr-defined]
        assert not {"connection_string", "account_key", "sas_token"} & set(options)
        assert options["account_host"] == azurite_oauth.endpoint_url.removeprefix("https://")
        sha = hashlib.sha256(b"entra").hexdigest()
        uri = artifact_store.put(sha, b"entra")
        assert artifact_store.get(uri) == b"entra"
        assert ("msi:system", "https://storage.azure.com") in fake.issued
        assert azurite_oauth.blobs(oauth_container) == {f"entra/{sha[:2]}/{sha}": b"entra"}


def test_azurite_refuses_a_token_that_is_not_for_storage(
    fake: FakeAzure, azurite_oauth: Azurite, oauth_container: str
) -> None:
    """The OAuth Azurite does check bearer tokens: an opaque one (what the fake issues for any
    other resource) is refused, so the contract above passes on the storage token's claims."""
    from azure.core.credentials import AccessToken
    from azure.core.exceptions import ClientAuthenticationError
    from azure.storage.blob import BlobServiceClient

    class Opaque:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken(str(fake.issue("msi:system", "https://vault.azure.net")
                                   ["access_token"]), 2**31)  # fmt: skip

    client = BlobServiceClient(azurite_oauth.endpoint_url, credential=Opaque())
    with pytest.raises(ClientAuthenticationError):
        client.get_container_client(oauth_container).upload_blob("x", b"x")


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
