"""The ``azureml`` orchestrator's config: pydantic only, importable without any Azure SDK
(listing and validating flavors imports no implementation)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from kitaru.components.base import OptionalStr
from kitaru.components.job_orchestrator import JobOrchestratorConfig
from kitaru_azure.config import AzureConfig

#: AzureML job names and tags: letters, digits, ``-`` and ``_``
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: AzureML job status -> a unit's phase; a status not listed (a new one) counts as running
PHASES = {"NotStarted": "pending", "Queued": "pending", "Preparing": "pending",
          "Provisioning": "pending", "Starting": "pending", "Paused": "pending",
          "Completed": "succeeded", "Failed": "failed", "NotResponding": "failed",
          "CancelRequested": "stopped", "Canceled": "stopped"}  # fmt: skip


class AzureMLOrchestratorConfig(AzureConfig, JobOrchestratorConfig):
    """The credential fields (inherited) are the client's: what submits and watches the jobs.
    What a job itself may do is its compute's managed identity's (``job_identity``)."""

    subscription_id: str = Field(pattern=r"^[0-9A-Za-z-]+$")
    resource_group: str = Field(pattern=r"^[-\w.()]{1,90}$")
    workspace_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$")
    #: the compute cluster jobs run on
    compute: str = Field(default="cpu-cluster", pattern=r"^[A-Za-z][A-Za-z0-9-]{1,31}$")
    #: a VM size / instance type (Kubernetes compute); empty: the compute's own
    instance_type: OptionalStr = None
    #: isolated checkpoints' jobs: compute and instance type (default: the above), time limit
    checkpoint_compute: OptionalStr = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9-]{1,31}$")
    checkpoint_instance_type: OptionalStr = None
    checkpoint_timeout_seconds: int = Field(default=24 * 3600, ge=1)
    #: seconds a job driving an execution may run (``limits.timeout``)
    timeout_seconds: int = Field(default=24 * 3600, ge=1)
    experiment_name: str = Field(default="kitaru", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    #: jobs run as the compute's managed identity (``identity: managed``); this picks a
    #: user-assigned one by client id; empty: the system-assigned one
    job_identity_client_id: OptionalStr = None
    #: tags on every job (Kitaru adds ``kitaru-role``, ``-execution``, ``-orchestrator``)
    tags: dict[str, str] = Field(default_factory=dict)
    #: job names are ``<prefix>-<role>-<16 hex digits>``
    job_name_prefix: str = Field(
        default="kitaru", pattern=r"^[a-z0-9](-*[a-z0-9])*$", max_length=40
    )
    #: the Python that has kitaru and kitaru-azure installed, inside the image
    python: str = "python"
    #: longest pause between two job reads while a checkpoint's job runs
    poll_interval: float = Field(default=10.0, gt=0)
    #: Azure Resource Manager for a sovereign cloud or a stand-in; empty: the public cloud's
    resource_manager_endpoint: OptionalStr = Field(default=None, pattern=r"^https://")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not _JOB_NAME.match(key) or key.startswith("kitaru-"):
                raise ValueError(f"tag {key!r}: letters, digits, '-' and '_'; kitaru-* tags "
                                 "are Kitaru's own")  # fmt: skip
        return value
