"""The configs of the ``gcs`` and ``gcp`` flavors: pydantic only, no Google SDK.

Registering a stack validates its components with these classes; the implementations
(:mod:`kitaru_gcp.gcs`, :mod:`kitaru_gcp.secrets`), which import gcsfs and the google
libraries, are imported only when a stack that uses them is activated.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from kitaru.components.artifact_store import ArtifactStoreConfig
from kitaru.components.base import ComponentConfig, OptionalStr

#: a bucket name as GCS allows it (3-63 characters, or up to 222 with dots)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
#: what a project id may hold here (``example.com:my-project`` included): it goes into paths
PROJECT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.:_-]*$"
#: Secret Manager secret ids: letters, digits, ``-`` and ``_``, at most 255 characters
SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def _credentials(value: str | None) -> str | None:
    from kitaru.stack.references import is_secret_reference

    if value is None or is_secret_reference(value):
        return value
    raise ValueError(
        "must be a {{secret:name.key}} reference holding a service-account key (JSON), or "
        "empty for application default credentials (`anonymous: true` for an emulator)"
    )


#: how a flavor authenticates: empty for application default credentials (ADC:
#: GOOGLE_APPLICATION_CREDENTIALS, ``gcloud auth application-default login``, the metadata
#: server of GCE/GKE/Cloud Run/Vertex), or a ``{{secret:name.key}}`` reference whose value is a
#: service-account key file's JSON (or an ``authorized_user`` one); never the JSON itself
GCPCredentials = Annotated[
    str | None, BeforeValidator(lambda value: value or None), AfterValidator(_credentials)
]


class GCPConfig(ComponentConfig):
    """What every flavor talking to Google Cloud takes."""

    #: the project; empty: the one of the credentials (a service-account key's
    #: ``project_id``, ADC's project, GOOGLE_CLOUD_PROJECT)
    project: OptionalStr = Field(default=None, pattern=PROJECT_PATTERN)
    credentials: GCPCredentials = None
    #: no credentials at all, no Authorization header: an emulator (the GCS emulator, drongo)
    anonymous: bool = False
    #: another endpoint (an emulator, a private endpoint); empty: Google's
    endpoint_url: OptionalStr = None

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:9023")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> GCPConfig:
        if self.anonymous and self.credentials:
            raise ValueError("`anonymous: true` and `credentials` exclude each other")
        return self


class GCSArtifactStoreConfig(GCPConfig, ArtifactStoreConfig):
    """``path`` (inherited): ``gs://bucket`` or ``gs://bucket/prefix``."""

    @field_validator("path")
    @classmethod
    def _gs_url(cls, value: str) -> str:
        scheme, _, rest = value.partition("://")
        bucket = rest.split("/", 1)[0]
        if scheme not in ("gs", "gcs") or not rest:
            raise ValueError("must be a gs:// URL: gs://bucket or gs://bucket/prefix")
        if not _BUCKET.match(bucket):
            raise ValueError(
                f"{bucket!r} is not a bucket name (lowercase letters, digits, '-', '_' and '.', "
                "3 to 63 characters)"
            )
        return value


class GCPSecretStoreConfig(GCPConfig):
    """Kitaru secret ``NAME`` is the Secret Manager secret ``<prefix>NAME``."""

    #: prepended to every Kitaru secret name; only secrets under it are listed
    prefix: str = Field(default="kitaru-", pattern=r"^[A-Za-z0-9_-]*$", max_length=200)
