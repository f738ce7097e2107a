"""The plugin module (entry point ``kitaru = gcp``): it only describes its flavors and its
stack template.

Config classes live in :mod:`kitaru_gcp.config` (pydantic only), implementations in modules
that import gcsfs and the google libraries, imported only when a stack uses them.
"""

from __future__ import annotations

from kitaru.components.flavor import Flavor
from kitaru.components.standins import StandIn
from kitaru.plugins import hookimpl, templates_in

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
        Flavor(
            name="vertex",
            type="orchestrator",
            config_class="kitaru_gcp.vertex_config:VertexOrchestratorConfig",
            implementation="kitaru_gcp.vertex:VertexOrchestrator",
            install_hint=_HINT,
            description="one Vertex AI CustomJob per unit of work, from `image`",
        ),
        Flavor(
            name="artifact_registry",
            type="container_builder",
            config_class="kitaru_gcp.artifact_registry:ArtifactRegistryBuilderConfig",
            implementation="kitaru_gcp.artifact_registry:ArtifactRegistryBuilder",
            install_hint="pip install 'kitaru-gcp[artifact-registry]'",
            description="the `docker` builder (kitaru-docker), logged in to Artifact Registry",
        ),
    ]


@hookimpl
def kitaru_stack_templates() -> list[tuple[str, str]]:
    """``vertex`` (Vertex AI, Artifact Registry, GCS, Secret Manager, litellm):
    ``kitaru stack register NAME --template vertex``."""
    return templates_in("kitaru_gcp")


@hookimpl
def kitaru_standins() -> list[StandIn]:
    """In a smoke run (``kitaru smoke``) the GCS emulator and drongo stand in for Google Cloud;
    Vertex AI's CustomJobs run in the smoke run's container engine, images go to its registry."""
    return [
        StandIn(
            name="GCS emulator + drongo",
            serves=(
                ("artifact_store", "gcs"),
                ("secret_store", "gcp"),
                ("orchestrator", "vertex"),
                ("container_builder", "artifact_registry"),
            ),
            implementation="kitaru_gcp.smoke.starter:gcp_standins",
            install_hint="pip install 'kitaru-gcp[smoke]'",
            description="gcp-storage-emulator (GCS), drongo (Secret Manager, Vertex AI "
            "CustomJobs run in the engine), the smoke run's registry (Artifact Registry)",
        )
    ]
