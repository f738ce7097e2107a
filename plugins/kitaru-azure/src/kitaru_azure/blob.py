"""The ``azure`` artifact store: the fsspec base store over adlfs (Azure Blob Storage).

``path: az://container/prefix``. Credentials: a connection string, an account key or a SAS
token (each a ``{{secret:name.key}}`` reference resolved through the stack's secret store when
the store is first used), else Entra ID (``DefaultAzureCredential`` or a service principal).
With ``endpoint_url`` (Azurite, a private endpoint) keys go through a connection string naming
that endpoint, the form azure-storage-blob accepts for any host; Entra ID goes to that endpoint
(HTTPS only: a bearer token is never sent over HTTP), path included.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from kitaru.components.artifact_store import ArtifactStore
from kitaru.errors import ConfigError
from kitaru_azure._azure import (
    check_reachable,
    credential_for,
    describe_error,
    is_forbidden,
    refused_action,
)
from kitaru_azure.config import AzureBlobArtifactStoreConfig

#: what a 403 on a blob means: the data action the store's identity lacks
WRITE = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
DELETE = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete"

# adlfs and azure-core log each failed request (with headers); this store raises one line
logging.getLogger("azure").setLevel(logging.WARNING)
logging.getLogger("adlfs").addHandler(logging.NullHandler())


class AzureBlobArtifactStore(ArtifactStore):
    """Blobs under ``az://container/prefix/<sha[:2]>/<sha>``. A blob upload is atomic, so a
    put is one upload: concurrent writers of the same bytes are harmless."""

    config: AzureBlobArtifactStoreConfig
    _fs: Any

    @property
    def container(self) -> str:
        return self.root.partition("://")[2].split("/", 1)[0].split("@", 1)[0]

    @property
    def endpoint(self) -> str:
        """The blob endpoint: the config's, the connection string's, else the account's."""
        if self.config.endpoint_url:
            return self.config.endpoint_url
        account, suffix = self.config.account_name, "core.windows.net"
        if self.config.connection_string:  # its endpoint names no secret; its key is not kept
            fields = dict(part.split("=", 1) for part in
                          self.secret(self.config.connection_string).split(";") if "=" in part)  # fmt: skip
            if fields.get("BlobEndpoint"):
                return fields["BlobEndpoint"].rstrip("/")
            account, suffix = fields.get("AccountName"), fields.get("EndpointSuffix", suffix)
        return f"https://{account}.blob.{suffix}"

    def storage_options(self) -> dict[str, Any]:
        """adlfs options: a connection string when a key names an endpoint, else the account
        and the key or credential."""
        c = self.config
        options: dict[str, Any] = {"skip_instance_cache": True, "assume_container_exists": True}
        if c.connection_string:
            return options | {"connection_string": self.secret(c.connection_string)}
        endpoint = c.endpoint_url
        if c.account_key or c.sas_token:
            if endpoint:  # adlfs's account_host is https-only; a connection string is not
                key = (f"AccountKey={self.secret(c.account_key)}" if c.account_key
                       else f"SharedAccessSignature={self.secret(c.sas_token or '').lstrip('?')}")  # fmt: skip
                scheme = urlsplit(endpoint).scheme
                return options | {"connection_string": f"DefaultEndpointsProtocol={scheme};"
                                  f"AccountName={c.account_name};{key};BlobEndpoint={endpoint};"}  # fmt: skip
            options["account_name"] = c.account_name
            if c.account_key:
                return options | {"account_key": self.secret(c.account_key)}
            return options | {"sas_token": self.secret(c.sas_token or "")}
        options |= {"account_name": c.account_name, "credential": credential_for(self, c)}
        if endpoint:  # adlfs prefixes https://; a path (Azurite's /ACCOUNT) is kept
            parts = urlsplit(endpoint)
            options["account_host"] = (parts.netloc + parts.path).rstrip("/")
        return options

    @property
    def fs(self) -> Any:
        if self._fs is None:
            from adlfs import AzureBlobFileSystem

            self._fs = AzureBlobFileSystem(**self.storage_options())
        return self._fs

    def put(self, sha256: str, data: bytes) -> str:
        uri = self.uri_for(sha256)
        if self.exists(uri):
            return uri
        with self._refused("write", uri, WRITE):
            self.fs.pipe_file(self._path(uri), data)
        return uri

    def get(self, uri: str) -> bytes:
        with self._refused("read", uri, READ):
            return bytes(self.fs.cat_file(self._path(uri)))

    def exists(self, uri: str) -> bool:
        # ask the service, not adlfs's listing cache: another process may have written it
        with self._refused("look up", uri, READ):
            self.fs.invalidate_cache(self._path(uri))
            return bool(self.fs.exists(self._path(uri)))

    @contextlib.contextmanager
    def _refused(self, verb: str, uri: str, action: str) -> Iterator[None]:
        """A refusal (403), an unreachable endpoint or an error: one line naming the store, the
        blob and the RBAC data action. A missing blob is the caller's (FileNotFoundError); a
        missing container is an error."""
        try:
            yield
        except FileNotFoundError:
            if verb == "write":
                raise self._no_container(uri) from None
            raise
        except ConfigError:
            raise
        except Exception as exc:
            if "ContainerNotFound" in str(exc):
                raise self._no_container(uri) from None
            if "failed to authenticate" in str(exc):  # a wrong key or SAS: a 403 as well
                raise ConfigError(
                    f"artifact store {self.name!r} cannot {verb} {uri} ({self.endpoint}): the "
                    "service could not authenticate the request",
                    hint="check the account key, SAS token or connection string (and the "
                    "clock: a signature expires)",
                ) from None
            refused = is_forbidden(exc) or "AuthorizationPermissionMismatch" in str(exc)
            needed = refused_action(exc, action)
            reason = f"{needed} refused" if refused else describe_error(exc)
            raise ConfigError(
                f"artifact store {self.name!r} cannot {verb} {uri} ({self.endpoint}): {reason}",
                hint=f"assign Storage Blob Data Contributor on container {self.container!r} to "
                "the store's identity, or check its key" if refused
                else f"check the endpoint, the network and the credentials ({action})",
            ) from None  # fmt: skip

    def _no_container(self, uri: str) -> ConfigError:
        return ConfigError(
            f"artifact store {self.name!r} cannot write {uri} ({self.endpoint}): container "
            f"{self.container!r} does not exist",
            hint=f"create it (`az storage container create -n {self.container}`): Kitaru never "
            "creates containers",
        )

    def verify(self) -> None:
        """Write and delete a probe blob under the prefix (never creates the container); an
        endpoint where nothing listens fails in seconds."""
        probe = f"{self._path(self.root)}/.kitaru-verify"
        try:
            check_reachable(self.endpoint)
        except OSError as exc:
            raise ConfigError(
                f"artifact store {self.name!r} at {self.root} ({self.endpoint}) is not "
                f"writable: {self.endpoint} is unreachable: {describe_error(exc)}",
                hint="check the endpoint_url / account_name and the network",
            ) from None
        with self._refused("write", probe, WRITE):
            self.fs.pipe_file(probe, b"ok")
        with self._refused("delete", probe, DELETE):
            self.fs.rm_file(probe)
