"""What stands in for SageMaker where moto stops: moto records a training job and says it is
``Completed`` at once, without running anything. These helpers run a recorded job's command
with its environment — as a process on this host, or in a podman container from its image —
the way SageMaker would run its container, with the job role's credentials given as moto's
fake keys. Jobs report to a real Kitaru server; their API key is a reference the job resolves
through the stack's secret store, (moto's) Secrets Manager."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


@contextlib.contextmanager
def kitaru_server(home: Path) -> Iterator[Server]:
    """A real Kitaru server (SQLite under ``home``) the jobs report to; its admin key."""
    from tests.server.conftest import start_server, stop

    server = start_server(home)
    assert server.admin_key, server.log.read_text()
    try:
        yield server
    finally:
        stop(server)


def store_api_key(moto: Moto, server: Server) -> None:
    """The server's key in Secrets Manager, where the jobs resolve ``API_KEY_REFERENCE``."""
    client: Any = moto.client("secretsmanager")
    client.create_secret(Name=SECRET_ID, SecretString=json.dumps({"api_key": server.admin_key}))


def aws_secret_store(moto: Moto) -> dict[str, Any]:
    """The stack's secret store: moto's Secrets Manager (what the jobs resolve through)."""
    return {"flavor": "aws", "config": {"region": "us-east-1", "endpoint_url": moto.endpoint_url}}


def register_stack(server: Server, stack: dict[str, Any], tmp_path: Path) -> None:
    """``kitaru stack register --file`` against the server (where the jobs look it up)."""
    stack_file = tmp_path / f"{stack['name']}.json"
    stack_file.write_text(json.dumps(stack))
    env = server.env()
    env.pop("KITARU_STACK", None)
    done = subprocess.run(
        [sys.executable, "-m", "kitaru.cli", "stack", "register", "--file", str(stack_file)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout


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


def podman_engine() -> str:
    """``DOCKER_HOST`` of the podman engine of ``scripts/standins/podman.sh`` (skips the test
    when it cannot run here: exit 77)."""
    import pytest

    proc = subprocess.run(["bash", str(REPO / "scripts" / "standins" / "podman.sh")],
                          capture_output=True, text=True, timeout=1200)  # fmt: skip
    if proc.returncode == 77:
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("export DOCKER_HOST=")]
    return line.split("=", 1)[1]
