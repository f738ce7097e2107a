"""``stacks/aws.yaml`` (the SageMaker stack) against moto: it registers with the sagemaker orchestrator and
the ecr builder, and ``kitaru stack verify`` reaches SageMaker, ECR (a login token), S3 and
Secrets Manager; the builder's Docker engine is deliberately absent here (one line). With moto
down, each component fails in one line saying why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    pass

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "stacks" / "aws.yaml"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/kitaru"
ROLE = "arn:aws:iam::123456789012:role/kitaru-sagemaker-job"


def kitaru(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture
def sm_env(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``aws_env`` plus what the SageMaker template reads."""
    values = {
        "KITARU_ECR_REGISTRY": REGISTRY,
        "KITARU_SAGEMAKER_ROLE_ARN": ROLE,
        "KITARU_SAGEMAKER_SERVER_URL": "https://kitaru.example.com",
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return dict(os.environ)


def test_sagemaker_template_registers_and_verifies(sm_env: dict[str, str]) -> None:
    registered = kitaru("stack", "register", "sm", "--file", str(TEMPLATE), env=sm_env)
    assert registered.returncode == 0, registered.stderr
    shown = kitaru("stack", "export", "sm", env=sm_env)
    assert shown.returncode == 0, shown.stderr
    assert "flavor: sagemaker" in shown.stdout and "flavor: ecr" in shown.stdout
    assert ROLE in shown.stdout and "api_key: '{{secret:kitaru-server.api_key}}'" in shown.stdout
    stored = kitaru("secret", "set", "--stack", "sm", "llm", "api_key=sk-test", env=sm_env)
    assert stored.returncode == 0, stored.stderr
    # the orchestrator's api_key reference must resolve too (verify resolves every reference)
    stored = kitaru("secret", "set", "--stack", "sm", "kitaru-server", "api_key=kit_x", env=sm_env)
    assert stored.returncode == 0, stored.stderr
    verify = kitaru("stack", "verify", "sm", env=sm_env)
    out = verify.stdout
    assert "ok    orchestrator sm (sagemaker)" in out, out
    assert "ok    artifact_store sm (s3)" in out, out
    assert "ok    secret_store sm (aws)" in out, out
    (builder,) = [line for line in out.splitlines() if "container_builder" in line]
    # the ECR token came from moto; only the engine is missing
    assert "FAIL" in builder and "/nonexistent/docker.sock" in builder, out
    assert verify.returncode == 1


def test_sagemaker_template_with_moto_down_fails_one_line_per_component(
    sm_env: dict[str, str], tmp_path: Path
) -> None:
    from aws_moto import running_moto

    with running_moto(tmp_path / "own-moto.log") as own:
        env = {**sm_env, "AWS_ENDPOINT_URL": own.endpoint_url}
        registered = kitaru("stack", "register", "aws", "--file", str(TEMPLATE), env=env)
        assert registered.returncode == 0, registered.stderr
    down = kitaru("stack", "verify", "aws", env=env)
    assert down.returncode == 1
    failed = {line.split()[1]: line for line in down.stdout.splitlines() if "FAIL" in line}
    assert set(failed) == {"orchestrator", "container_builder", "artifact_store", "secret_store",
                           "llm_gateway"}, down.stdout  # fmt: skip
    assert "SageMaker" in failed["orchestrator"] and "unreachable" in failed["orchestrator"]
    assert "cannot get an ECR login token" in failed["container_builder"]
    assert "not writable" in failed["artifact_store"]
    assert "unreachable" in failed["secret_store"]
    assert "cannot read AWS secret 'kitaru/llm'" in failed["llm_gateway"]
    for line in failed.values():
        assert own.endpoint_url in line and "Could not connect" in line, line
