"""Closing the loop moto leaves open: the ``sagemaker`` orchestrator submits a training job to
moto, and this test runs that job's exact command and environment in a local container (the
podman engine of ``scripts/standins/podman.sh``, host network), the way SageMaker would. The
job resolves its API key reference through (moto's) Secrets Manager and the execution completes on a
real Kitaru server.

What stands in for SageMaker: the image is the offline Debian + python3 base with this
checkout's venv mounted read-only (test_aws_deploy.py runs jobs in a built and pushed image),
and the job role's credentials are moto's fake keys passed as environment (SageMaker gives a
job its role). Skipped when there is no engine (``podman.sh`` exits 77)."""

from __future__ import annotations

import json
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sagemaker_standin import (
    API_KEY_REFERENCE,
    REPO,
    ROLE,
    aws_secret_store,
    kitaru_server,
    podman_engine,
    register_stack,
    run_in_podman,
    store_api_key,
)

from kitaru.testing import run_on

if TYPE_CHECKING:
    from aws_moto import Moto

    from tests.server.conftest import Server

BASE_IMAGE = "localhost/kitaru/debian-python:bookworm"
STACK = "sm-container"
SITE = sysconfig.get_paths()["purelib"]
#: what the host venv's .pth files add (the workspace's editable installs), then the venv
PYTHONPATH = ":".join([str(REPO / "kitaru_core" / "src"), str(REPO / "plugins" / "kitaru-aws" / "src"),
                       str(REPO / "plugins" / "kitaru-docker" / "src"), SITE])  # fmt: skip


@pytest.fixture(scope="module")
def docker_host() -> str:
    return podman_engine()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with kitaru_server(tmp_path / "server-home") as srv:
        yield srv


# a first podman.sh (engine, base image) takes minutes; pytest-timeout counts fixture setup
@pytest.mark.timeout(1500)
def test_the_submitted_job_runs_in_a_container_and_completes(
    docker_host: str, moto: Moto, bucket: str, server: Server, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, isolated_kitaru_home: Path,
) -> None:  # fmt: skip
    from kitaru.runtime.stacks import stack_of
    from kitaru.store import default_store, reset_default_store
    from kitaru.testing.flows import tiny

    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    register_stack(server, {"name": STACK, "components": {
        "orchestrator": {"flavor": "sagemaker", "config": {
            "image": BASE_IMAGE, "role_arn": ROLE, "output_path": f"s3://{bucket}/sagemaker",
            "region": "us-east-1", "endpoint_url": moto.endpoint_url, "server_url": server.url,
            "api_key": API_KEY_REFERENCE, "python": "python3",
            # what the image would carry; AWS_ENDPOINT_URL: the job's Secrets Manager is moto
            "environment": {"PYTHONPATH": PYTHONPATH, "AWS_ENDPOINT_URL": moto.endpoint_url}}},
        "artifact_store": {"flavor": "local", "config": {"path": str(artifacts)}},
        "secret_store": aws_secret_store(moto),
    }}, tmp_path)  # fmt: skip
    store_api_key(moto, server)

    monkeypatch.setenv("KITARU_SERVER_URL", server.url)
    monkeypatch.setenv("KITARU_API_KEY", server.admin_key)
    monkeypatch.setenv("KITARU_STACK", STACK)
    monkeypatch.delenv("KITARU_DB_URL", raising=False)
    reset_default_store()
    try:
        sm: Any = stack_of(STACK).orchestrator
        sent: list[dict[str, Any]] = []
        real = sm.job_spec
        sm.job_spec = lambda spec: sent.append(real(spec)) or sent[-1]
        handle = run_on(sm, tiny, {"x": 20})
        (spec,) = sent

        # the job as moto records it: image and command; the environment as it was sent
        # (DescribeTrainingJob does not return it)
        sm_client: Any = moto.client("sagemaker")
        job = sm_client.describe_training_job(TrainingJobName=spec["TrainingJobName"])
        spec = {**spec, "AlgorithmSpecification": {**spec["AlgorithmSpecification"],
                                                   **job["AlgorithmSpecification"]}}  # fmt: skip
        assert "KITARU_API_KEY" not in spec["Environment"]
        assert server.admin_key not in json.dumps(job, default=str) + json.dumps(spec)

        logs = run_in_podman(docker_host, spec, volumes={
            str(REPO): {"bind": str(REPO), "mode": "ro"}, SITE: {"bind": SITE, "mode": "ro"},
            str(artifacts): {"bind": str(artifacts), "mode": "rw"}})  # fmt: skip
        assert "tiny flow got 20" in logs
        assert handle.wait(timeout=30) == 41
        assert default_store().get_execution(handle.id).status == "completed"
    finally:
        reset_default_store()
