"""The ``gcs`` artifact store: the fsspec base store over gcsfs.

``path: gs://bucket/prefix``; credentials are application default credentials unless the config
names a ``{{secret:name.key}}`` reference holding a credentials JSON (resolved through the
stack's secret store when the store is first used), or ``anonymous`` for an emulator.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from kitaru.components.artifact_store import ArtifactStore
from kitaru.errors import ConfigError
from kitaru_gcp._gcp import (
    check_reachable,
    credentials_for,
    describe_error,
    refused_permission,
    where,
)
from kitaru_gcp.config import GCSArtifactStoreConfig

#: where gcsfs sends requests unless ``endpoint_url`` says otherwise
GCS_ENDPOINT = "https://storage.googleapis.com"

# gcsfs logs every failed request with its traceback (logger.exception); with no logging
# configured Python prints those on stderr. This store raises one line instead.
logging.getLogger("gcsfs").addHandler(logging.NullHandler())


class GCSArtifactStore(ArtifactStore):
    """Blobs under ``gs://bucket/prefix/<sha[:2]>/<sha>``. A GCS object write is atomic, so a
    put is one upload (no temporary object and copy): concurrent writers of the same bytes are
    harmless."""

    config: GCSArtifactStoreConfig
    _fs: Any

    @property
    def bucket(self) -> str:
        return self.root.partition("://")[2].split("/", 1)[0]

    def storage_options(self) -> dict[str, Any]:
        """gcsfs options: the project, the credentials, the endpoint."""
        credentials, project = credentials_for(self, self.config)
        options: dict[str, Any] = {
            # anonymous: gcsfs sends no Authorization header
            "token": "anon" if credentials is None else credentials,
            "requests_timeout": 60,
            # a store per component: never share gcsfs's cached instance (and its listings)
            "skip_instance_cache": True,
        }
        if project:
            options["project"] = project
        if self.config.endpoint_url:
            options["endpoint_url"] = self.config.endpoint_url
        return options

    @property
    def fs(self) -> Any:
        """gcsfs's plain JSON-API filesystem, whatever GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT says.

        gcsfs 2026.x picks an experimental subclass unless that variable is ``false``; it first
        asks the Storage Control gRPC API for each bucket's layout, which an emulator does not
        serve (60 s per operation) and which needs a permission beyond ``storage.objects.*``.
        A content-addressed store writes whole objects and needs none of it."""
        if self._fs is None:
            from gcsfs.core import GCSFileSystem

            self._fs = GCSFileSystem(**self.storage_options())
        return self._fs

    def put(self, sha256: str, data: bytes) -> str:
        uri = self.uri_for(sha256)
        if self.exists(uri):
            return uri
        with self._refused("write", uri, "storage.objects.create"):
            self.fs.pipe_file(self._path(uri), data)
        return uri

    def get(self, uri: str) -> bytes:
        with self._refused("read", uri, "storage.objects.get"):
            return bytes(self.fs.cat_file(self._path(uri)))

    def exists(self, uri: str) -> bool:
        # ask GCS, not gcsfs's listing cache: another process may have written it
        with self._refused("look up", uri, "storage.objects.get"):
            self.fs.invalidate_cache(self._path(uri))
            return bool(self.fs.exists(self._path(uri)))

    @contextlib.contextmanager
    def _refused(self, verb: str, uri: str, permission: str) -> Iterator[None]:
        """GCS refusing (403: gcsfs raises ``OSError: Forbidden: ...``), unreachable or
        answering an error: one line naming the store, the object and the permission. A missing
        object is not an error here (callers handle FileNotFoundError); a missing bucket is."""
        try:
            yield
        except FileNotFoundError:
            if verb == "write":  # an upload answered 404: the bucket is not there
                raise ConfigError(
                    f"artifact store {self.name!r} cannot write {uri} ({self._where()}): "
                    f"bucket {self.bucket!r} does not exist",
                    hint=f"create it (`gcloud storage buckets create gs://{self.bucket}`): "
                    "Kitaru never creates buckets",
                ) from None
            raise
        except ConfigError:
            raise
        except Exception as exc:
            refused = "Forbidden" in str(exc) or "403" in str(exc)
            needed = refused_permission(exc, permission) if refused else permission
            reason = f"permission {needed} refused" if refused else describe_error(exc)
            raise ConfigError(
                f"artifact store {self.name!r} cannot {verb} {uri} ({self._where()}): {reason}",
                hint=f"grant {needed} on gs://{self.bucket} to the store's credentials"
                if refused
                else f"check the endpoint, the network and the credentials ({permission})",
            ) from None

    def verify(self) -> None:
        """Write and delete a probe object under the prefix (never creates the bucket); an
        endpoint where nothing listens fails in seconds (gcsfs would retry for half a
        minute)."""
        probe = f"{self._path(self.root)}/.kitaru-verify"
        endpoint = self.config.endpoint_url or GCS_ENDPOINT
        try:
            check_reachable(endpoint)
        except OSError as exc:
            raise ConfigError(
                f"artifact store {self.name!r} at {self.root} ({self._where()}) is not "
                f"writable: {endpoint} is unreachable: {describe_error(exc)}",
                hint="check the endpoint_url and the network",
            ) from None
        try:
            self.fs.pipe_file(probe, b"ok")
            self.fs.rm_file(probe)
        except ConfigError:
            raise
        except Exception as exc:
            missing = isinstance(exc, FileNotFoundError)
            reason = f"bucket {self.bucket!r} does not exist" if missing else describe_error(exc)
            raise ConfigError(
                f"artifact store {self.name!r} at {self.root} ({self._where()}) is not "
                f"writable: {reason}",
                hint=f"check that bucket {self.bucket!r} exists and that the credentials have "
                "storage.objects.create and storage.objects.delete on it",
            ) from None

    def _where(self) -> str:
        return where(self.config.project, self.config.endpoint_url, GCS_ENDPOINT)
