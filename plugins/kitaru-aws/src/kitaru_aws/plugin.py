"""The plugin module (entry point ``kitaru = aws``): it only describes its flavors, templates
and stand-ins (nothing here imports boto3 or moto)."""

from __future__ import annotations

from kitaru.components.flavor import Flavor
from kitaru.components.standins import StandIn
from kitaru.plugins import hookimpl, templates_in

_HINT = "pip install kitaru-aws"


@hookimpl
def kitaru_flavors() -> list[Flavor]:
    return [
        Flavor(
            name="s3",
            type="artifact_store",
            config_class="kitaru_aws.s3:S3ArtifactStoreConfig",
            implementation="kitaru_aws.s3:S3ArtifactStore",
            install_hint=_HINT,
            description="blobs in an S3 bucket (`path: s3://bucket/prefix`), through s3fs",
            schemes=("s3",),
        ),
        Flavor(
            name="aws",
            type="secret_store",
            config_class="kitaru_aws.secrets:AWSSecretStoreConfig",
            implementation="kitaru_aws.secrets:AWSSecretStore",
            install_hint=_HINT,
            description="one AWS Secrets Manager secret (JSON) per Kitaru secret, under `prefix`",
        ),
        Flavor(
            name="sagemaker",
            type="orchestrator",
            config_class="kitaru_aws.sagemaker_config:SageMakerOrchestratorConfig",
            implementation="kitaru_aws.sagemaker:SageMakerOrchestrator",
            install_hint=_HINT,
            description="one SageMaker training job per execution, from `image`",
        ),
        Flavor(
            name="ecr",
            type="container_builder",
            config_class="kitaru_aws.ecr:ECRContainerBuilderConfig",
            implementation="kitaru_aws.ecr:ECRContainerBuilder",
            install_hint="pip install 'kitaru-aws[ecr]'",
            description="the `docker` builder (kitaru-docker), logged in to Amazon ECR",
        ),
    ]


@hookimpl
def kitaru_stack_templates() -> list[tuple[str, str]]:
    """``aws`` (SageMaker, ECR, S3, Secrets Manager) and ``aws-local`` (S3 and Secrets Manager,
    local execution): ``kitaru stack register NAME --template aws``."""
    return templates_in("kitaru_aws")


@hookimpl
def kitaru_standins() -> list[StandIn]:
    """In a smoke run moto (server mode) stands in for S3, Secrets Manager, ECR's API and
    SageMaker; the training jobs it records run as containers on the smoke run's engine, the
    images go to its registry (:mod:`kitaru_aws.smoke`)."""
    return [
        StandIn(
            name="moto",
            serves=(
                ("artifact_store", "s3"),
                ("secret_store", "aws"),
                ("container_builder", "ecr"),
                ("orchestrator", "sagemaker"),
            ),
            implementation="kitaru_aws.smoke:moto",
            install_hint="pip install 'kitaru-aws[smoke]'",
            description="moto_server on 127.0.0.1; SageMaker jobs run in the engine (DOCKER_HOST)",
        )
    ]
