"""The ``s3`` artifact store: the fsspec base store over s3fs.

``path: s3://bucket/prefix``; credentials come from the default AWS chain (environment,
profile, instance/task role) unless the config names them, as ``{{secret:name.key}}``
references resolved through the stack's secret store when the store is first used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from pydantic import field_validator

from kitaru.components.artifact_store import ArtifactStore, ArtifactStoreConfig
from kitaru.components.base import OptionalStr, SecretReference
from kitaru.errors import ConfigError
from kitaru_aws._aws import CONNECT_TIMEOUT, MAX_ATTEMPTS, READ_TIMEOUT, describe_error, where


class S3ArtifactStoreConfig(ArtifactStoreConfig):
    """``path`` (inherited): ``s3://bucket`` or ``s3://bucket/prefix``."""

    #: the bucket's region; empty: the default chain's (AWS_REGION, AWS_DEFAULT_REGION, profile)
    region: OptionalStr = None
    #: another S3 endpoint (moto, MinIO, a VPC endpoint); empty: AWS's
    endpoint_url: OptionalStr = None
    #: access key id, plain or a ``{{secret:name.key}}`` reference; empty: the default chain
    access_key_id: OptionalStr = None
    secret_access_key: SecretReference = None
    session_token: SecretReference = None

    @field_validator("path")
    @classmethod
    def _s3_url(cls, value: str) -> str:
        if not value.startswith("s3://") or not value[5:].strip("/"):
            raise ValueError("must be an s3:// URL: s3://bucket or s3://bucket/prefix")
        return value


class S3ArtifactStore(ArtifactStore):
    """Blobs under ``s3://bucket/prefix/<sha[:2]>/<sha>``. S3 writes are atomic, so a put is
    one PUT (no temporary object and copy): concurrent writers of the same bytes are harmless."""

    config: S3ArtifactStoreConfig

    @property
    def bucket(self) -> str:
        return self.root[len("s3://") :].split("/", 1)[0]

    def storage_options(self) -> dict[str, Any]:
        config = self.config
        options: dict[str, Any] = {
            "config_kwargs": {
                "connect_timeout": CONNECT_TIMEOUT,
                "read_timeout": READ_TIMEOUT,
                "retries": {"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            },
            # a store per component: never share s3fs's cached instance (and its listings)
            "skip_instance_cache": True,
        }
        if config.region:
            options["client_kwargs"] = {"region_name": config.region}
        if config.endpoint_url:
            options["endpoint_url"] = config.endpoint_url
        if config.access_key_id:
            options["key"] = self.secret(config.access_key_id)
        if config.secret_access_key:
            options["secret"] = self.secret(config.secret_access_key)
        if config.session_token:
            options["token"] = self.secret(config.session_token)
        return options

    def put(self, sha256: str, data: bytes) -> str:
        uri = self.uri_for(sha256)
        path = self._path(uri)
        with self._refused("write", uri, "s3:PutObject and s3:GetObject"):
            if not self.fs.exists(path):
                self.fs.pipe_file(path, data)
        return uri

    def get(self, uri: str) -> bytes:
        with self._refused("read", uri, "s3:GetObject"):
            return super().get(uri)

    def exists(self, uri: str) -> bool:
        # ask S3, not s3fs's listing cache: another process may have written it
        with self._refused("look up", uri, "s3:GetObject"):
            self.fs.invalidate_cache(self._path(uri))
            return bool(self.fs.exists(self._path(uri)))

    @contextlib.contextmanager
    def _refused(self, verb: str, uri: str, permission: str) -> Iterator[None]:
        """S3 refusing (403: s3fs raises a bare ``PermissionError: Forbidden``) or unreachable:
        one line naming the store, the object and the permission. A missing object is not an
        error here (callers handle FileNotFoundError)."""
        try:
            yield
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise ConfigError(
                f"artifact store {self.name!r} cannot {verb} {uri} ({self._where()}): "
                f"{describe_error(exc)}",
                hint=f"check the credentials and {permission} on {self.root}/*",
            ) from None

    def verify(self) -> None:
        """Write and delete a probe object under the prefix (never creates the bucket)."""
        from fsspec.core import url_to_fs

        options = self.storage_options()
        # one attempt: a wrong endpoint or missing credentials fail in about a second
        options["config_kwargs"] = {**options["config_kwargs"], "retries": {"max_attempts": 1}}
        probe = f"{self._path(self.root)}/.kitaru-verify"
        try:
            fs, _ = url_to_fs(self.root, **options)
            fs.pipe_file(probe, b"ok")
            fs.rm_file(probe)
        except Exception as exc:
            raise ConfigError(
                f"artifact store {self.name!r} at {self.root} ({self._where()}) is not "
                f"writable: {describe_error(exc)}",
                hint=f"check that bucket {self.bucket!r} exists, the endpoint and the credentials",
            ) from None

    def _where(self) -> str:
        return where(self.config.region, self.config.endpoint_url)
