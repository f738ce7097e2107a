"""``kitaru smoke examples/review_flow.py:review_flow --stack aws --answer approve_draft=true``
as a user's CI runs it: ``stacks/aws.yaml`` (unchanged) registered with production values (an
eu-west-1 bucket, an ECR registry, a role; no endpoint), a project whose pyproject names the
offline runtime image as its base, podman as the engine and ``podman.sh``'s registry. The smoke
run must stand moto in for S3 / Secrets Manager / ECR / SageMaker (kitaru-aws's
``kitaru_standins``), build and push the image, run the SageMaker jobs in the engine, answer
the wait, and print its report with exit code 0; a bucket name S3 would refuse, or a flow
importing a package the image lacks, must fail it with exit code 1 and a one-line reason
naming the component or the package.

Skipped when there is no engine (``podman.sh`` exits 77)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aws_moto import TIMINGS
from sagemaker_standin import REPO, wheel_cache

pytestmark = pytest.mark.timeout(1500)  # a first podman.sh and wheelhouse take minutes
TEMPLATE = REPO / "stacks" / "aws.yaml"
SEED = REPO / "examples" / "review_flow.py"
#: what a user's CI job exports for stacks/aws.yaml (nothing of it exists on this machine)
PRODUCTION = {
    "AWS_REGION": "eu-west-1",
    "KITARU_S3_PATH": "s3://acme-kitaru-ci/kitaru",
    "KITARU_ECR_REGISTRY": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/kitaru",
    "KITARU_SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/kitaru-sagemaker-job",
}


def ci_env(docker_host: str, cache: Path, **values: str) -> dict[str, str]:
    """The CI job's environment: no Kitaru server, no AWS endpoint or keys of its own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "KITARU_SERVER", "KITARU_API_KEY", "KITARU_STACK"))}  # fmt: skip
    env.update(PRODUCTION, DOCKER_HOST=docker_host, KITARU_SMOKE_REGISTRY="127.0.0.1:5001",
               KITARU_CACHE=str(cache), **values)  # fmt: skip
    return env


def kitaru(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=1200)  # fmt: skip


@pytest.fixture
def project(runtime_image: tuple[str, Path], tmp_path: Path) -> Path:
    """The user's project: the seed flow, unchanged, and the base image of its pyproject."""
    base, _ = runtime_image
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy2(SEED, folder / "review_flow.py")
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "seed"\nversion = "0"\n\n[tool.kitaru.image]\nbase_image = "{base}"\n'
    )
    return folder


def register(env: dict[str, str], cwd: Path) -> None:
    done = kitaru("stack", "register", "aws", "--file", str(TEMPLATE), env=env, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr


def test_smoke_run_of_the_seed_flow_on_the_aws_stack_passes_with_moto_and_podman(
    docker_host: str, runtime_image: tuple[str, Path], project: Path, tmp_path: Path,
    isolated_kitaru_home: Path,
) -> None:  # fmt: skip
    env = ci_env(docker_host, wheel_cache(runtime_image[1], tmp_path / "cache"))
    register(env, project)
    started = time.monotonic()
    done = kitaru("smoke", "review_flow.py:review_flow", "--stack", "aws",
                  "--answer", "approve_draft=true", env=env, cwd=project)  # fmt: skip
    TIMINGS["kitaru smoke --stack aws (s)"] = round(time.monotonic() - started, 1)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    out = done.stdout
    assert out.startswith("kitaru smoke review_flow on stack 'aws': passed"), out
    lines = out.splitlines()

    def line(start: str) -> str:
        (found,) = [x for x in lines if x.strip().startswith(start)]
        return found

    assert "execution " in out and ": completed" in out
    assert line("artifact_store").endswith("(S3); bucket acme-kitaru-ci created")
    assert "s3 → moto 5.2.5 at http://127.0.0.1:" in line("artifact_store")
    assert "(Secrets Manager); empty" in line("secret_store")
    assert ("images pushed to localhost:5001/kitaru in place of "
            f"{PRODUCTION['KITARU_ECR_REGISTRY']}") in line("container_builder")  # fmt: skip
    assert "sagemaker → moto 5.2.5" in line("orchestrator")
    assert "output bucket acme-kitaru-ci" in line("orchestrator")
    assert "litellm → offline" in line("llm_gateway")
    assert "kitaru-server.api_key = the smoke run's server key" in out
    assert "waits answered: approve_draft" in out and "LLM: 2 call(s)" in out
    # each unit the orchestrator submitted ran once in the engine: the run, then the resume
    units = [x for x in lines if x.strip().startswith("unit: SageMaker training job")]
    assert len(units) == 2 and all("exit 0" in x for x in units), units
    assert "(run)" in units[0] and "(resume)" in units[1], units
    assert "times: stand-ins" in out and "deploy (build + push)" in out
    for limit in ("instance_type ml.m5.large", PRODUCTION["KITARU_SAGEMAKER_ROLE_ARN"],
                  "region eu-west-1", "moto says Completed at once"):  # fmt: skip
        assert limit in out, limit
    assert "result: " in out and "Rejected" not in out


def test_a_bucket_name_s3_would_refuse_fails_the_smoke_run_in_one_line(
    docker_host: str, runtime_image: tuple[str, Path], project: Path, tmp_path: Path,
    isolated_kitaru_home: Path,
) -> None:  # fmt: skip
    env = ci_env(docker_host, tmp_path / "cache", KITARU_S3_PATH="s3://Acme_Kitaru_CI/kitaru")
    register(env, project)
    started = time.monotonic()
    done = kitaru("smoke", "review_flow.py:review_flow", "--stack", "aws",
                  "--answer", "approve_draft=true", env=env, cwd=project)  # fmt: skip
    TIMINGS["kitaru smoke, invalid bucket (s)"] = round(time.monotonic() - started, 1)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout.splitlines()[0]
    (reason,) = [x for x in done.stdout.splitlines() if x.startswith("  reason:")]
    assert reason.startswith(
        "  reason: S3 would refuse bucket 'Acme_Kitaru_CI' of artifact_store (s3) path "
        "s3://Acme_Kitaru_CI/kitaru and orchestrator (sagemaker) output_path "
        "s3://Acme_Kitaru_CI/kitaru/sagemaker: 3 to 63 lowercase letters"
    ), reason
    assert "execution" not in done.stdout  # nothing was deployed or run


def test_a_flow_importing_a_package_missing_from_the_image_fails_naming_it(
    docker_host: str, runtime_image: tuple[str, Path], project: Path, tmp_path: Path,
    isolated_kitaru_home: Path,
) -> None:  # fmt: skip
    # moto is installed here (the smoke run imports the flow) but not in the runtime image
    flow = project / "review_flow.py"
    flow.write_text("import moto  # noqa: F401\n" + flow.read_text())
    env = ci_env(docker_host, wheel_cache(runtime_image[1], tmp_path / "cache"))
    register(env, project)
    started = time.monotonic()
    done = kitaru("smoke", "review_flow.py:review_flow", "--stack", "aws",
                  "--answer", "approve_draft=true", env=env, cwd=project)  # fmt: skip
    TIMINGS["kitaru smoke, package missing (s)"] = round(time.monotonic() - started, 1)
    assert done.returncode == 1, done.stdout + done.stderr
    (reason,) = [x for x in done.stdout.splitlines() if x.startswith("  reason:")]
    assert "No module named 'moto'" in reason, done.stdout
    print(reason)
