"""What stands in for SageMaker where moto stops: moto records a training job and says it is
``Completed`` at once, without running anything. These helpers run a recorded job's command
with its environment — as a process on this host, or in a podman container from its image —
the way SageMaker would run its container, with the job role's credentials given as moto's
fake keys. Jobs report to a real Kitaru server; their API key is a reference the job resolves
through the stack's secret store, (moto's) Secrets Manager."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.job_standins import kitaru_server, podman_engine, register_stack  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from aws_moto import Moto

    from tests.server.conftest import Server

REPO = Path(__file__).resolve().parents[3]
ROLE = "arn:aws:iam::123456789012:role/kitaru-sagemaker"
SECRET_ID = "kitaru/kitaru-server"
#: the orchestrator's api_key: the secret above through the aws secret store (prefix kitaru/)
API_KEY_REFERENCE = "{{secret:kitaru-server.api_key}}"
#: the job role's credentials as SageMaker would give them (moto accepts any)
ROLE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def store_api_key(moto: Moto, server: Server) -> None:
    """The server's key in Secrets Manager, where the jobs resolve ``API_KEY_REFERENCE``."""
    client: Any = moto.client("secretsmanager")
    client.create_secret(Name=SECRET_ID, SecretString=json.dumps({"api_key": server.admin_key}))


def aws_secret_store(moto: Moto) -> dict[str, Any]:
    """The stack's secret store: moto's Secrets Manager (what the jobs resolve through)."""
    return {"flavor": "aws", "config": {"region": "us-east-1", "endpoint_url": moto.endpoint_url}}


def wheel_cache(wheels: Path, cache: Path) -> Path:
    """A ``KITARU_CACHE`` holding this checkout's Kitaru wheel, as the runtime image does (a
    build installs it from there)."""
    import shutil

    (cache / "wheels").mkdir(parents=True, exist_ok=True)
    for wheel in wheels.glob("kitaru-*.whl"):
        shutil.copy2(wheel, cache / "wheels")
    return cache


def job_command(spec: dict[str, Any]) -> list[str]:
    algorithm = spec["AlgorithmSpecification"]
    return [*algorithm["ContainerEntrypoint"], *algorithm["ContainerArguments"]]


def run_on_host(spec: dict[str, Any], home: Path, timeout: float = 120, check: bool = True) -> str:
    """Run the job's command as a process here (with this venv's python); its output.
    ``check``: fail the test unless it exits 0 (a job whose flow failed exits 1)."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "KITARU_HOME": str(home),
           **spec["Environment"], **ROLE_CREDENTIALS}  # fmt: skip
    done = subprocess.run(job_command(spec), env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    assert done.returncode == 0 or not check, done.stdout + done.stderr
    return done.stdout + done.stderr


def run_in_podman(
    docker_host: str, spec: dict[str, Any], volumes: dict[str, Any] | None = None,
    timeout: float = 300,
) -> str:  # fmt: skip
    """Run the job in a container from its image (host network: the server and moto are on
    127.0.0.1); its logs. Fails the test on a non-zero exit."""
    import uuid

    import docker

    algorithm = spec["AlgorithmSpecification"]
    client = docker.DockerClient(base_url=docker_host, timeout=timeout)
    container = client.containers.run(
        algorithm["TrainingImage"], entrypoint=algorithm["ContainerEntrypoint"],
        command=algorithm["ContainerArguments"], name=f"kitaru-sm-{uuid.uuid4().hex[:8]}",
        detach=True, network_mode="host",
        environment={**spec["Environment"], **ROLE_CREDENTIALS}, volumes=volumes or {},
    )  # fmt: skip
    try:
        code = container.wait(timeout=timeout)["StatusCode"]
        logs: str = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    assert code == 0, logs[-3000:]
    return logs
