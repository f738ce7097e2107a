"""The ``gcp`` secret store: one Google Cloud Secret Manager secret per Kitaru secret.

Kitaru secret ``llm`` with keys ``{"api_key": ...}`` is the Secret Manager secret
``<prefix>llm`` (default prefix ``kitaru-``) whose latest version holds the JSON object of its
keys. ``set`` adds a version (creating the secret first if it is missing); ``get`` reads
``latest``; ``delete`` deletes the secret with all its versions.

The client uses the REST transport: the same one against Google and against a local stand-in
(drongo), and no gRPC channel to survive a fork.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from kitaru.components.secret_store import SecretStore, values_of
from kitaru.errors import ConfigError, NotFound
from kitaru_gcp._gcp import (
    CALL_TIMEOUT,
    CONNECT_TIMEOUT,
    check_reachable,
    credentials_for,
    describe_error,
    refused_permission,
    where,
)
from kitaru_gcp.config import SECRET_ID, GCPSecretStoreConfig

SECRET_MANAGER_ENDPOINT = "https://secretmanager.googleapis.com"
#: secrets per list page: Secret Manager caps it at 25,000
PAGE_SIZE = 1000


class GCPSecretStore(SecretStore):
    config: GCPSecretStoreConfig
    _client: Any = None
    _project: str | None = None
    _lock = threading.Lock()

    # -- the client ------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """One Secret Manager client, made on first use (once, even when threads race)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud.secretmanager import SecretManagerServiceClient

        credentials, project = credentials_for(self, self.config)
        if not project:
            raise ConfigError(
                f"secret store {self.name!r} has no project",
                hint="set `project` in its config (or GOOGLE_CLOUD_PROJECT, or use credentials "
                "that name one)",
            )
        self._project = project
        endpoint = self.config.endpoint_url
        return SecretManagerServiceClient(
            transport="rest",
            credentials=credentials if credentials is not None else AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=endpoint) if endpoint else None,
        )

    @property
    def project(self) -> str:
        self.client  # noqa: B018 - making the client finds the project
        assert self._project is not None
        return self._project

    def _id(self, name: str) -> str:
        """The Secret Manager secret id of Kitaru secret ``name``."""
        secret_id = f"{self.config.prefix}{name}"
        if not SECRET_ID.match(secret_id):
            raise ConfigError(
                f"secret name {name!r} cannot be stored in Secret Manager as {secret_id!r}: "
                "ids hold letters, digits, '-' and '_' only, at most 255 characters",
                hint="choose a name of letters, digits, '-' and '_' (e.g. "
                f"{''.join(c if c.isalnum() or c in '-_' else '-' for c in name)!r})",
            )
        return secret_id

    def _path(self, name: str) -> str:
        return f"projects/{self.project}/secrets/{self._id(name)}"

    # -- the store -------------------------------------------------------------------------------
    def get(self, name: str) -> dict[str, str]:
        from google.api_core import exceptions

        path = self._path(name)
        try:
            response = self.client.access_secret_version(
                name=f"{path}/versions/latest", timeout=CALL_TIMEOUT
            )
        except exceptions.NotFound:
            # no such secret, or a secret without an enabled version
            raise NotFound(
                f"no secret named {name!r} (Secret Manager secret {self._id(name)!r} in "
                f"project {self.project})",
                hint=f"create it with `kitaru secret set {name} KEY=VALUE`",
            ) from None
        except Exception as exc:
            raise self._error("cannot read", name, exc, "secretmanager.versions.access") from None
        return values_of(
            response.payload.data.decode("utf-8"), f"Secret Manager secret {self._id(name)!r}"
        )

    def set(self, name: str, values: dict[str, str]) -> None:
        from google.api_core import exceptions

        path = self._path(name)
        payload = {"data": json.dumps(dict(values)).encode("utf-8")}
        permission = "secretmanager.versions.add"
        try:
            try:
                self.client.add_secret_version(parent=path, payload=payload, timeout=CALL_TIMEOUT)
                return
            except exceptions.NotFound:
                pass
            permission = "secretmanager.secrets.create"
            try:
                self.client.create_secret(
                    parent=f"projects/{self.project}",
                    secret_id=self._id(name),
                    secret={"replication": {"automatic": {}}, "labels": {"managed-by": "kitaru"}},
                    timeout=CALL_TIMEOUT,
                )
            except exceptions.AlreadyExists:
                pass  # another writer created it meanwhile: add our version to it
            permission = "secretmanager.versions.add"
            self.client.add_secret_version(parent=path, payload=payload, timeout=CALL_TIMEOUT)
        except Exception as exc:
            raise self._error("cannot write", name, exc, permission) from None

    def list(self) -> list[str]:
        # Every secret of the project is read and those under the prefix kept: list filters
        # match words, not prefixes, so the prefix is checked here either way.
        prefix = self.config.prefix
        names: list[str] = []
        try:
            pages = self.client.list_secrets(
                request={"parent": f"projects/{self.project}", "page_size": PAGE_SIZE},
                timeout=CALL_TIMEOUT,
            )
            for secret in pages:
                secret_id = secret.name.rsplit("/", 1)[-1]
                if secret_id.startswith(prefix):
                    names.append(secret_id[len(prefix) :])
        except Exception as exc:
            raise self._error("cannot list", "", exc, "secretmanager.secrets.list") from None
        return sorted(names)

    def delete(self, name: str) -> None:
        from google.api_core import exceptions

        path = self._path(name)
        try:
            self.client.delete_secret(name=path, timeout=CALL_TIMEOUT)
        except exceptions.NotFound:
            raise NotFound(
                f"no secret named {name!r} (Secret Manager secret {self._id(name)!r} in "
                f"project {self.project})"
            ) from None
        except Exception as exc:
            raise self._error("cannot delete", name, exc, "secretmanager.secrets.delete") from None

    def verify(self) -> None:
        """One ListSecrets call of one secret, without retries: fails in seconds when the
        endpoint is down or the credentials are refused."""
        endpoint = self.config.endpoint_url or SECRET_MANAGER_ENDPOINT
        try:
            check_reachable(endpoint)
            self.client.list_secrets(
                request={"parent": f"projects/{self.project}", "page_size": 1},
                timeout=CONNECT_TIMEOUT,
                retry=None,
            )
        except ConfigError:
            raise
        except Exception as exc:
            reason = "refused" if _forbidden(exc) else "unreachable"
            raise ConfigError(
                f"secret store {self.name!r} (Secret Manager, {self._where()}) is {reason}: "
                f"{describe_error(exc)}",
                hint="check the project, the endpoint and the credentials "
                f"({refused_permission(exc, 'secretmanager.secrets.list')})",
            ) from None

    # -- errors ----------------------------------------------------------------------------------
    def _where(self) -> str:
        return where(self._project or self.config.project, self.config.endpoint_url,
                     SECRET_MANAGER_ENDPOINT)  # fmt: skip

    def _error(self, action: str, name: str, exc: Exception, permission: str) -> ConfigError:
        what = f"Secret Manager secret {self._id(name)!r}" if name else "Secret Manager secrets"
        if _forbidden(exc):
            needed = refused_permission(exc, permission)
            return ConfigError(
                f"secret store {self.name!r} {action} {what} ({self._where()}): "
                f"permission {needed} refused",
                hint=f"grant {needed} to the store's credentials (docs/stacks/gcp.md lists "
                "what each operation needs)",
            )
        return ConfigError(
            f"secret store {self.name!r} {action} {what} ({self._where()}): {describe_error(exc)}",
            hint="check the project, the endpoint and the credentials",
        )


def _forbidden(exc: BaseException) -> bool:
    from google.api_core import exceptions

    return isinstance(exc, exceptions.Forbidden)
