"""The ``azure`` secret store: one Azure Key Vault secret per Kitaru secret.

Kitaru secret ``llm`` with keys ``{"api_key": ...}`` is the Key Vault secret
``<prefix><encoded name>`` (default prefix ``kitaru-``; names are encoded as
:mod:`kitaru_azure.names` says) whose current version holds the JSON object of its keys,
content type ``application/json``, tagged ``managed-by: kitaru``. ``set`` adds a version;
``get`` reads the current one; ``delete`` soft-deletes the secret and, with
``purge_on_delete``, purges it so that the name is free again at once.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from kitaru.components.secret_store import SecretStore, values_of
from kitaru.errors import ConfigError, NotFound
from kitaru_azure import names
from kitaru_azure._azure import (
    CONNECT_TIMEOUT,
    check_reachable,
    credential_for,
    describe_error,
    is_forbidden,
    is_not_found,
    refused_action,
)
from kitaru_azure.config import AzureKeyVaultSecretStoreConfig

#: the data actions of Key Vault's RBAC model, by operation
ACTIONS = {
    "get": "Microsoft.KeyVault/vaults/secrets/getSecret/action",
    "set": "Microsoft.KeyVault/vaults/secrets/setSecret/action",
    "list": "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    "delete": "Microsoft.KeyVault/vaults/secrets/delete",
    "purge": "Microsoft.KeyVault/vaults/deletedSecrets/purge/action",
    "recover": "Microsoft.KeyVault/vaults/deletedSecrets/recover/action",
}


class AzureKeyVaultSecretStore(SecretStore):
    config: AzureKeyVaultSecretStoreConfig
    _client: Any = None
    _lock = threading.Lock()

    @property
    def client(self) -> Any:
        """One ``SecretClient``, made on first use (once, even when threads race)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from azure.keyvault.secrets import SecretClient

                    # azure-core waits 300 s for a connection by default: a vault that does
                    # not answer should fail in seconds (a refused connection is retried 3x)
                    self._client = SecretClient(
                        self.config.vault_url, credential_for(self, self.config),
                        verify_challenge_resource=self.config.verify_challenge_resource,
                        connection_timeout=CONNECT_TIMEOUT * 2, read_timeout=60,
                    )  # fmt: skip
        return self._client

    def vault_name(self, name: str) -> str:
        """The Key Vault secret name of Kitaru secret ``name``."""
        encoded = f"{self.config.prefix}{names.encode(name)}"
        if not name or len(encoded) > names.MAX_LENGTH:
            raise ConfigError(
                f"secret name {name!r} does not fit a Key Vault secret name ({encoded!r}: "
                f"at most {names.MAX_LENGTH} characters once encoded)",
                hint="choose a shorter name (capitals and characters other than letters and "
                "digits take three characters each)",
            )
        return encoded

    # -- the store -------------------------------------------------------------------------------
    def get(self, name: str) -> dict[str, str]:
        vault_name = self.vault_name(name)
        try:
            secret = self.client.get_secret(vault_name)
        except Exception as exc:
            if is_not_found(exc):  # SecretNotFound, or a soft-deleted secret
                raise NotFound(f"no secret named {name!r} (Key Vault secret {vault_name!r} in "
                               f"{self.config.vault_url})",
                               hint=f"create it with `kitaru secret set {name} KEY=VALUE`") from None  # fmt: skip
            raise self._error("cannot read", vault_name, exc, "get") from None
        return values_of(secret.value, f"Key Vault secret {vault_name!r}")

    def set(self, name: str, values: dict[str, str]) -> None:
        vault_name = self.vault_name(name)
        value = json.dumps(dict(values))
        try:
            self.client.set_secret(vault_name, value, content_type="application/json",
                                   tags={"managed-by": "kitaru", "kitaru-name": name[:256]})  # fmt: skip
        except Exception as exc:
            if getattr(exc, "status_code", None) == 409:  # deleted, not purged: the name is held
                raise ConfigError(
                    f"secret store {self.name!r} cannot write Key Vault secret {vault_name!r}: "
                    "it is deleted but recoverable (soft delete)",
                    hint=f"recover it (`az keyvault secret recover --vault-name VAULT --name "
                    f"{vault_name}`) or purge it, then set it again",
                ) from None
            raise self._error("cannot write", vault_name, exc, "set") from None

    def list(self) -> list[str]:
        prefix = self.config.prefix.lower()
        found: list[str] = []
        try:
            for props in self.client.list_properties_of_secrets():
                vault_name = str(props.name)
                if vault_name.lower().startswith(prefix):
                    name = names.decode(vault_name[len(prefix) :])
                    if name is not None:  # another writer's secret under the prefix: skipped
                        found.append(name)
        except Exception as exc:
            raise self._error("cannot list", "", exc, "list") from None
        return sorted(found)

    def delete(self, name: str) -> None:
        vault_name = self.vault_name(name)
        try:
            self.client.begin_delete_secret(vault_name).wait()
        except Exception as exc:
            if is_not_found(exc):
                raise NotFound(f"no secret named {name!r} (Key Vault secret {vault_name!r} in "
                               f"{self.config.vault_url})") from None  # fmt: skip
            raise self._error("cannot delete", vault_name, exc, "delete") from None
        if self.config.purge_on_delete:
            try:
                self.client.purge_deleted_secret(vault_name)
            except Exception as exc:
                raise self._error("cannot purge", vault_name, exc, "purge") from None

    def verify(self) -> None:
        """The vault answers and lets the credential list secrets (one page), in seconds."""
        try:
            check_reachable(self.config.vault_url)
            next(iter(self.client.list_properties_of_secrets(max_page_size=1)), None)
        except ConfigError:
            raise
        except Exception as exc:
            reason = "refused" if is_forbidden(exc) else "unreachable"
            raise ConfigError(
                f"secret store {self.name!r} (Key Vault {self.config.vault_url}) is {reason}: "
                f"{describe_error(exc)}",
                hint="check the vault URL and the credentials "
                f"({refused_action(exc, ACTIONS['list'])})",
            ) from None

    def _error(self, action: str, vault_name: str, exc: Exception, operation: str) -> ConfigError:
        what = f"Key Vault secret {vault_name!r}" if vault_name else "Key Vault secrets"
        where = self.config.vault_url
        if is_forbidden(exc):
            needed = refused_action(exc, ACTIONS[operation])
            return ConfigError(
                f"secret store {self.name!r} {action} {what} ({where}): {needed} refused",
                hint="assign the identity a role holding it (rbac/ and docs/stacks/azure.md "
                "list what each operation needs)",
            )
        return ConfigError(f"secret store {self.name!r} {action} {what} ({where}): "
                           f"{describe_error(exc)}",
                           hint="check the vault URL, the network and the credentials")  # fmt: skip
