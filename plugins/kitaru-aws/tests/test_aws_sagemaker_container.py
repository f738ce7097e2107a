"""Closing the loop moto leaves open: the ``sagemaker`` orchestrator submits a training job to
moto, and this test runs that job's exact command and environment in a local container (the
podman engine of ``scripts/standins/podman.sh``, host network), the way SageMaker would. The
job's shim reads the API key from (moto's) Secrets Manager and the execution completes on a
real Kitaru server.

What stands in for SageMaker: the image is the offline Debian + python3 base with this
checkout's venv mounted read-only (not an image with kitaru installed), and the job role's
credentials are moto's fake keys passed as environment (SageMaker gives a job its role).
Skipped when there is no engine (``podman.sh`` exits 77)."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Moto

    from tests.server.conftest import Server

REPO = Path(__file__).resolve().parents[3]
BASE_IMAGE = "localhost/kitaru/debian-python:bookworm"
STACK = "sm-container"
ROLE = "arn:aws:iam::123456789012:role/kitaru-sagemaker"
SITE = sysconfig.get_paths()["purelib"]
#: what the host venv's .pth files add (the workspace's editable installs), then the venv
PYTHONPATH = ":".join([str(REPO / "kitaru_core" / "src"), str(REPO / "plugins" / "kitaru-aws" / "src"),
                       str(REPO / "plugins" / "kitaru-docker" / "src"), SITE])  # fmt: skip


@pytest.fixture(scope="module")
def docker_host() -> str:
    proc = subprocess.run(["bash", str(REPO / "scripts" / "standins" / "podman.sh")],
                          capture_output=True, text=True, timeout=1200)  # fmt: skip
    if proc.returncode == 77:
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("export DOCKER_HOST=")]
    return line.split("=", 1)[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    from tests.server.conftest import start_server, stop

    srv = start_server(tmp_path / "server-home")
    assert srv.admin_key, srv.log.read_text()
    yield srv
    stop(srv)


# a first podman.sh (engine, base image) takes minutes; pytest-timeout counts fixture setup
@pytest.mark.timeout(1500)
def test_the_submitted_job_runs_in_a_container_and_completes(
    docker_host: str, moto: Moto, bucket: str, server: Server, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, isolated_kitaru_home: Path,
) -> None:  # fmt: skip
    import docker

    from kitaru.runtime.stacks import stack_of
    from kitaru.store import default_store, reset_default_store
    from kitaru.testing.flows import tiny

    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    stack_file = tmp_path / "stack.json"
    stack_file.write_text(json.dumps({"name": STACK, "components": {
        "orchestrator": {"flavor": "sagemaker", "config": {
            "image": BASE_IMAGE, "role_arn": ROLE, "output_path": f"s3://{bucket}/sagemaker",
            "region": "us-east-1", "endpoint_url": moto.endpoint_url, "server_url": server.url,
            "api_key_secret_id": "kitaru/kitaru-server", "python": "python3",
            # what the image would carry; AWS_ENDPOINT_URL: the job's Secrets Manager is moto
            "environment": {"PYTHONPATH": PYTHONPATH, "AWS_ENDPOINT_URL": moto.endpoint_url}}},
        "artifact_store": {"flavor": "local", "config": {"path": str(artifacts)}},
    }}))  # fmt: skip
    env = server.env()
    env.pop("KITARU_STACK", None)
    registered = subprocess.run(
        [sys.executable, "-m", "kitaru.cli", "stack", "register", "--file", str(stack_file)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr + registered.stdout
    secrets: Any = moto.client("secretsmanager")
    secrets.create_secret(Name="kitaru/kitaru-server",
                          SecretString=json.dumps({"api_key": server.admin_key}))  # fmt: skip

    monkeypatch.setenv("KITARU_SERVER_URL", server.url)
    monkeypatch.setenv("KITARU_API_KEY", server.admin_key)
    monkeypatch.setenv("KITARU_STACK", STACK)
    monkeypatch.delenv("KITARU_DB_URL", raising=False)
    reset_default_store()
    try:
        sm: Any = stack_of(STACK).orchestrator
        sent: list[dict[str, Any]] = []
        real = sm.job_spec
        sm.job_spec = lambda execution, verb: sent.append(real(execution, verb)) or sent[-1]
        handle = sm.run(tiny, {"x": 20})
        (spec,) = sent

        # the job as moto records it: image and command; the environment as it was sent
        # (DescribeTrainingJob does not return it)
        sm_client: Any = moto.client("sagemaker")
        job = sm_client.describe_training_job(TrainingJobName=spec["TrainingJobName"])
        algorithm = {**spec["AlgorithmSpecification"], **job["AlgorithmSpecification"]}
        environment = dict(spec["Environment"])
        assert "KITARU_API_KEY" not in environment
        assert server.admin_key not in json.dumps(job, default=str) + json.dumps(spec)

        client = docker.DockerClient(base_url=docker_host, timeout=120)
        name = f"kitaru-sm-{uuid.uuid4().hex[:8]}"
        container = client.containers.run(
            algorithm["TrainingImage"], entrypoint=algorithm["ContainerEntrypoint"],
            command=algorithm["ContainerArguments"], name=name, detach=True,
            network_mode="host",
            environment={**environment, "AWS_ACCESS_KEY_ID": "testing",
                         "AWS_SECRET_ACCESS_KEY": "testing"},  # the job role, as SageMaker gives it
            volumes={str(REPO): {"bind": str(REPO), "mode": "ro"},
                     SITE: {"bind": SITE, "mode": "ro"},
                     str(artifacts): {"bind": str(artifacts), "mode": "rw"}},
        )  # fmt: skip
        try:
            exit_code = container.wait(timeout=180)["StatusCode"]
            logs = container.logs().decode(errors="replace")
        finally:
            container.remove(force=True)
        assert exit_code == 0, logs[-3000:]
        assert "tiny flow got 20" in logs
        assert handle.wait(timeout=30) == 41
        assert default_store().get_execution(handle.id).status == "completed"
    finally:
        reset_default_store()
