"""The ``vertex`` orchestrator's config: pydantic only, importable without any Google SDK
(listing and validating flavors imports no implementation)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from kitaru.components.base import OptionalStr
from kitaru.components.job_orchestrator import JobOrchestratorConfig
from kitaru_gcp.config import GCPConfig

#: a Vertex AI label key (values may also be empty): lowercase letters, digits, ``_`` and ``-``
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_NOT_LABEL = re.compile(r"[^a-z0-9_-]+")


def label(value: str) -> str:
    """``value`` as a Vertex AI label value (lowercase, ``[a-z0-9_-]``, 63 at most)."""
    return _NOT_LABEL.sub("-", value.lower())[:63]


class VertexOrchestratorConfig(GCPConfig, JobOrchestratorConfig):
    """``project``, ``credentials``, ``anonymous`` and ``endpoint_url`` (inherited) are the
    client's: what submits and watches the CustomJobs. What a job itself may do is its
    ``service_account``'s."""

    #: the region jobs run in; the API endpoint is ``https://LOCATION-aiplatform.googleapis.com``
    location: str = Field(default="us-central1", pattern=r"^[a-z]+(-[a-z0-9]+)+$")
    machine_type: str = "n1-standard-4"
    #: e.g. ``NVIDIA_TESLA_T4``; empty: none
    accelerator_type: OptionalStr = Field(default=None, pattern=r"^[A-Z0-9_]+$")
    accelerator_count: int = Field(default=0, ge=0)
    #: the job's service account (reads the image, the API key secret, the bucket); empty:
    #: Vertex AI's default service agent
    service_account: OptionalStr = None
    #: a VPC to peer the job with: ``projects/NUMBER/global/networks/NAME``
    network: OptionalStr = Field(default=None, pattern=r"^projects/[^/]+/global/networks/[^/]+$")
    #: labels on every job (Kitaru adds ``kitaru-unit``, ``-execution``, ``-role``, ``-orchestrator``)
    labels: dict[str, str] = Field(default_factory=dict)
    #: seconds a job driving an execution may run (``scheduling.timeout``)
    timeout_seconds: int = Field(default=24 * 3600, ge=1)
    #: ``gs://bucket/prefix``: the job's ``base_output_directory`` (AIP_MODEL_DIR etc.); empty:
    #: none (Kitaru's values go to the artifact store)
    staging_bucket: OptionalStr = Field(default=None, pattern=r"^gs://[a-z0-9][a-z0-9._-]+(/.*)?$")
    boot_disk_size_gb: int = Field(default=100, ge=10)
    #: job display names are ``<prefix>-<role>-<16 hex digits>``; a label value too (kitaru-unit),
    #: so lowercase, and short enough for 63 characters with "-checkpoint-" and 16 hex digits
    job_name_prefix: str = Field(default="kitaru", pattern=r"^[a-z0-9](-*[a-z0-9])*$",
                                 max_length=63 - len("-checkpoint-") - 16)  # fmt: skip
    #: the Python that has kitaru and kitaru-gcp installed, inside the image
    python: str = "python"
    #: isolated checkpoints' jobs: machine type (default: machine_type), time limit
    checkpoint_machine_type: OptionalStr = None
    checkpoint_timeout_seconds: int = Field(default=24 * 3600, ge=1)
    #: longest pause between two GetCustomJob calls while a checkpoint's job runs
    poll_interval: float = Field(default=10.0, gt=0)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, label in value.items():
            if not LABEL_KEY.match(key) or not LABEL_VALUE.match(label):
                raise ValueError(f"label {key}={label!r}: keys and values take lowercase "
                                 "letters, digits, '_' and '-' (63 at most; keys start with a "
                                 "letter)")  # fmt: skip
            if key.startswith("kitaru-"):
                raise ValueError(f"label {key!r}: kitaru-* labels are Kitaru's own")
        return value

    @model_validator(mode="after")
    def _accelerator(self) -> VertexOrchestratorConfig:
        if bool(self.accelerator_type) != bool(self.accelerator_count):
            raise ValueError("accelerator_type and accelerator_count go together "
                             "(e.g. NVIDIA_TESLA_T4 and 1), or neither")  # fmt: skip
        return self
