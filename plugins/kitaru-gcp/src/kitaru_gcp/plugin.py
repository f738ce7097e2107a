"""The plugin module (entry point ``kitaru = gcp``): it only describes its flavors.

Config classes live in :mod:`kitaru_gcp.config` (pydantic only), implementations in modules
that import gcsfs and the google libraries, imported only when a stack uses them.
"""

from __future__ import annotations

from kitaru.components.flavor import Flavor
from kitaru.plugins import hookimpl

_HINT = "pip install kitaru-gcp"


@hookimpl
def kitaru_flavors() -> list[Flavor]:
    return [
        Flavor(
            name="gcs",
            type="artifact_store",
            config_class="kitaru_gcp.config:GCSArtifactStoreConfig",
            implementation="kitaru_gcp.gcs:GCSArtifactStore",
            install_hint=_HINT,
            description="blobs in a GCS bucket (`path: gs://bucket/prefix`), through gcsfs",
            schemes=("gs", "gcs"),
        ),
        Flavor(
            name="gcp",
            type="secret_store",
            config_class="kitaru_gcp.config:GCPSecretStoreConfig",
            implementation="kitaru_gcp.secrets:GCPSecretStore",
            install_hint=_HINT,
            description="one Secret Manager secret (JSON) per Kitaru secret, under `prefix`",
        ),
    ]
