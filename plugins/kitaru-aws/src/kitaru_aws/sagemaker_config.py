"""The ``sagemaker`` orchestrator's config: validated settings, importable without boto3
(listing and validating flavors imports no implementation)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from kitaru.components.base import OptionalStr
from kitaru.components.job_orchestrator import JobOrchestratorConfig

_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class SageMakerOrchestratorConfig(JobOrchestratorConfig):
    #: the execution role the job assumes (reads the image, the API key secret, S3)
    role_arn: str
    #: where SageMaker writes the job's (empty) model output: ``s3://bucket/prefix``
    output_path: str
    instance_type: str = "ml.m5.large"
    volume_size_gb: int = Field(default=30, ge=1)
    max_runtime_seconds: int = Field(default=24 * 3600, ge=1)
    #: job names are ``<prefix>-<verb>-<random>``
    job_name_prefix: str = "kitaru"
    region: OptionalStr = None
    endpoint_url: OptionalStr = None
    #: run jobs in a VPC: both or neither
    subnets: list[str] = Field(default_factory=list)
    security_group_ids: list[str] = Field(default_factory=list)
    #: tags on every job
    tags: dict[str, str] = Field(default_factory=dict)
    #: the Python that has kitaru and kitaru-aws installed, inside the image
    python: str = "python"
    #: isolated checkpoints' jobs: instance type (default: instance_type), time limit
    checkpoint_instance_type: str | None = None
    checkpoint_timeout_seconds: int = Field(default=24 * 3600, ge=1)
    #: seconds between DescribeTrainingJob calls while a checkpoint's job runs
    poll_interval: float = Field(default=10.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key_secret_id" in data:
            raise ValueError("api_key_secret_id is replaced by api_key: write "
                             "api_key: '{{secret:kitaru-server.api_key}}' (through the stack's "
                             "secret store)")  # fmt: skip
        return data

    @field_validator("output_path")
    @classmethod
    def _s3_url(cls, value: str) -> str:
        if not value.startswith("s3://"):
            raise ValueError("must be an s3:// URL")
        return value

    @field_validator("job_name_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        # SageMaker allows 63: the prefix, "-checkpoint-" (the longest verb) and 16 hex digits
        if not _NAME.match(value) or len(value) > 63 - len("-checkpoint-") - 16:
            raise ValueError("letters, digits and hyphens, at most 35 characters")
        return value
