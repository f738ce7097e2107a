"""The configs of the ``azure`` artifact store and the ``azure`` secret store: pydantic only,
no Azure SDK.

Registering a stack validates its components with these classes; the implementations
(:mod:`kitaru_azure.blob`, :mod:`kitaru_azure.secrets`), which import adlfs and the azure
libraries, are imported only when a stack that uses them is activated.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from kitaru.components.artifact_store import ArtifactStoreConfig
from kitaru.components.base import ComponentConfig, OptionalStr, SecretReference

#: a blob container name: 3-63 lowercase letters, digits and single dashes
_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
#: a storage account name: 3-24 lowercase letters and digits
ACCOUNT = r"^[a-z0-9]{3,24}$"
#: the fsspec schemes adlfs serves
SCHEMES = ("az", "abfs", "abfss")


def _https_or_http(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/") if value else value


class AzureConfig(ComponentConfig):
    """How a flavor signs in to Microsoft Entra ID (Azure AD). Empty ``client_secret``:
    ``DefaultAzureCredential`` (a managed identity on Azure — an AzureML job's — the
    ``AZURE_*`` environment, workload identity, ``az login``); with it, a service principal
    (``tenant_id``, ``client_id`` and the secret, a ``{{secret:name.key}}`` reference)."""

    tenant_id: OptionalStr = None
    client_id: OptionalStr = None
    #: a service principal's client secret: a reference, never the value
    client_secret: SecretReference = None
    #: Entra ID's host for a sovereign cloud (e.g. ``https://login.microsoftonline.us``)
    #: or a private authority; empty: the public cloud's
    authority_host: OptionalStr = None

    @field_validator("authority_host")
    @classmethod
    def _authority(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be an https:// URL, e.g. https://login.microsoftonline.us")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _service_principal(self) -> AzureConfig:
        if self.client_secret and not (self.tenant_id and self.client_id):
            raise ValueError("client_secret needs tenant_id and client_id (a service principal)")
        return self


class AzureBlobArtifactStoreConfig(AzureConfig, ArtifactStoreConfig):
    """``path`` (inherited): ``az://container/prefix`` (``abfs://`` too). One way to
    authenticate: ``connection_string``, ``account_key`` or ``sas_token`` (each a
    ``{{secret:name.key}}`` reference), else Entra ID (:class:`AzureConfig`)."""

    #: the storage account (not needed with a connection string, which names it)
    account_name: OptionalStr = Field(default=None, pattern=ACCOUNT)
    connection_string: SecretReference = None
    account_key: SecretReference = None
    sas_token: SecretReference = None
    #: the blob endpoint, e.g. ``http://127.0.0.1:10000/devstoreaccount1`` (Azurite) or a
    #: private endpoint; empty: ``https://ACCOUNT.blob.core.windows.net``
    endpoint_url: OptionalStr = None

    _endpoint = field_validator("endpoint_url")(_https_or_http)

    @field_validator("path")
    @classmethod
    def _az_url(cls, value: str) -> str:
        scheme, _, rest = value.partition("://")
        container = rest.split("/", 1)[0].split("@", 1)[0]
        if scheme not in SCHEMES or not rest:
            raise ValueError("must be an az:// URL: az://container or az://container/prefix")
        if not _CONTAINER.match(container):
            raise ValueError(f"{container!r} is not a blob container name (lowercase letters, "
                             "digits and single '-', 3 to 63 characters)")  # fmt: skip
        return value

    @model_validator(mode="after")
    def _one_key(self) -> AzureBlobArtifactStoreConfig:
        keys = [k for k in ("connection_string", "account_key", "sas_token") if getattr(self, k)]
        if len(keys) > 1:
            raise ValueError(f"{' and '.join(keys)} exclude each other: set one")
        if keys and self.client_secret:
            raise ValueError(f"{keys[0]} and client_secret exclude each other")
        if not self.connection_string and not self.account_name:
            raise ValueError("set account_name (or a connection_string naming the account)")
        if not keys and (self.endpoint_url or "").startswith("http://"):
            raise ValueError("Entra ID sign-in (no connection_string, account_key or sas_token) "
                             "needs an https:// endpoint_url: a bearer token is never sent over "
                             "http")  # fmt: skip
        return self


class AzureKeyVaultSecretStoreConfig(AzureConfig):
    """Kitaru secret ``NAME`` is the Key Vault secret ``<prefix><NAME encoded>``
    (:mod:`kitaru_azure.names`)."""

    #: the vault, e.g. ``https://my-vault.vault.azure.net``
    vault_url: str
    #: prepended to every secret name; only secrets under it are listed
    prefix: str = Field(default="kitaru-", pattern=r"^[A-Za-z0-9-]*$", max_length=60)
    #: the SDK checks that the vault's auth challenge names a resource of the vault's own
    #: domain (``vault.azure.net``); off only for a vault under another host name
    verify_challenge_resource: bool = True
    #: ``delete`` also purges the soft-deleted secret (needs the purge permission), so that the
    #: name can be used again at once; off: it stays recoverable for the vault's retention
    purge_on_delete: bool = True

    _vault = field_validator("vault_url")(_https_or_http)
