"""``kitaru deploy --stack aws`` (``stacks/aws.yaml``, the SageMaker stack) end to end, against
moto and podman, with the seed's ``review_flow`` (examples/review_flow.py, unchanged).

build (podman, FROM an offline image with kitaru-aws's dependencies) -> push: moto's ECR API
issues the login token and gets the repository; the image bytes go to the local registry of
``podman.sh``, standing in for ECR's registry endpoint (moto speaks no registry protocol; the
builder logs in there with the ECR token as it would to a proxy in front of ECR) ->
deployment -> invoke -> a SageMaker training job (moto records it) -> the job's exact command
and environment run in the pushed image (podman, ``sagemaker_standin``) -> the flow calls the
LLM twice with the key from Secrets Manager, writes its values to S3 and waits; its job ends;
the answer submits a resume job -> run the same way -> completed on a real Kitaru server.
The stack's LLM gateway is the offline one (the image has no litellm), keyed like the
template's with ``{{secret:llm.api_key}}``.

Skipped when there is no engine (``podman.sh`` exits 77)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from sagemaker_standin import REPO, ROLE, kitaru_server, run_in_podman, wheel_cache

if TYPE_CHECKING:
    from aws_moto import Moto

    from tests.server.conftest import Server

TEMPLATE = REPO / "stacks" / "aws.yaml"
SEED = REPO / "examples" / "review_flow.py"
SECRET = "sk-kitaru-SAGEMAKER-E2E-5e4d3c2b1a"
#: podman.sh's registry by a name its login API accepts without TLS
REGISTRY = "localhost:5001/kitaru-aws"
pytestmark = pytest.mark.timeout(1500)  # a first podman.sh and wheelhouse take minutes


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with kitaru_server(tmp_path / "server-home") as srv:
        yield srv


def kitaru(*args: str, env: dict[str, str], cwd: Path | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_seed_flow_deployed_to_the_aws_stack_runs_as_sagemaker_jobs_of_the_pushed_image(
    docker_host: str, runtime_image: tuple[str, Path], moto: Moto, bucket: str, server: Server,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_kitaru_home: Path,
) -> None:  # fmt: skip
    from kitaru.client import KitaruClient
    from kitaru.deployments import invoke
    from kitaru.runtime.stacks import stack_of
    from kitaru.store import default_store, reset_default_store

    base, wheels = runtime_image
    shared = tmp_path / "shared"  # mounted into the jobs' containers: the provider's call log
    shared.mkdir()
    stack = yaml.safe_load(TEMPLATE.read_text())
    stack["components"]["llm_gateway"] = {"flavor": "offline", "config": {
        "credentials": {"offline": "{{secret:llm.api_key}}"},
        "calls_log": str(shared / "provider-calls.jsonl")}}  # fmt: skip
    (tmp_path / "aws.yaml").write_text(yaml.safe_dump(stack))
    cache = wheel_cache(wheels, tmp_path / "cache")
    env = server.env(
        AWS_REGION="us-east-1", KITARU_S3_PATH=f"s3://{bucket}/kitaru",
        AWS_ENDPOINT_URL=moto.endpoint_url, KITARU_ECR_REGISTRY=REGISTRY,
        KITARU_SAGEMAKER_ROLE_ARN=ROLE, KITARU_SAGEMAKER_SERVER_URL=server.url,
        DOCKER_HOST=docker_host, KITARU_CACHE=str(cache),
    )  # fmt: skip
    env.pop("KITARU_STACK", None)
    kitaru("stack", "register", "aws", "--file", str(tmp_path / "aws.yaml"), env=env)
    kitaru("secret", "set", "--stack", "aws", "kitaru-server", f"api_key={server.admin_key}",
           env=env)  # fmt: skip
    kitaru("secret", "set", "--stack", "aws", "llm", f"api_key={SECRET}", env=env)

    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(SEED, project / "review_flow.py")  # the seed program, unchanged
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "seed"\nversion = "0"\n\n[tool.kitaru.image]\nbase_image = "{base}"\n'
    )
    started = time.monotonic()
    out = kitaru("deploy", f"{project / 'review_flow.py'}:review_flow", "--stack", "aws",
                 env=env, cwd=project)  # fmt: skip
    print(f"kitaru deploy (build + ECR push): {time.monotonic() - started:.1f} s")
    assert f"pushing {REGISTRY}/review_flow:" in out
    ecr: Any = moto.client("ecr")
    repositories = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert repositories == ["kitaru-aws/review_flow"]  # created before the first push

    monkeypatch.setenv("KITARU_SERVER_URL", server.url)
    monkeypatch.setenv("KITARU_API_KEY", server.admin_key)
    monkeypatch.setenv("KITARU_INLINE_LIMIT", "0")  # passed to the jobs: every value to S3
    reset_default_store()
    try:
        sm = stack_of("aws").orchestrator
        created: list[dict[str, Any]] = []
        real = sm.client.create_training_job
        sm.client.create_training_job = lambda **spec: created.append(spec) or real(**spec)

        handle = invoke("review_flow", {"topic": "Durable agents"})
        image = default_store().get_execution(handle.id).options["deployment"]["image"]
        assert image.startswith(f"{REGISTRY}/review_flow@sha256:")
        (first,) = created
        assert first["AlgorithmSpecification"]["TrainingImage"] == image
        # an invocation creates the pending execution, then launches it: a job that runs it
        assert first["AlgorithmSpecification"]["ContainerArguments"] == ["run", handle.id]
        assert server.admin_key not in json.dumps(first) and SECRET not in json.dumps(first)

        volumes = {str(shared): {"bind": str(shared), "mode": "rw"}}
        started = time.monotonic()
        logs = run_in_podman(docker_host, first, volumes)  # SageMaker runs it: up to the wait
        print(f"first job in the pushed image: {time.monotonic() - started:.1f} s")
        assert default_store().get_execution(handle.id).status == "waiting", logs[-2000:]

        KitaruClient().executions.input(handle.id, True)  # -> the orchestrator submits a job
        _, second = created
        assert second["AlgorithmSpecification"]["ContainerArguments"] == ["resume", handle.id]
        assert second["AlgorithmSpecification"]["TrainingImage"] == image
        run_in_podman(docker_host, second, volumes)
        result = handle.wait(timeout=30)
        assert isinstance(result, str) and result and result != "Rejected"
    finally:
        reset_default_store()

    sagemaker: Any = moto.client("sagemaker")
    jobs = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    assert sorted(j["TrainingJobName"] for j in jobs) == sorted(
        j["TrainingJobName"] for j in created
    )
    # the LLM credential came from Secrets Manager, into both calls made in the container
    calls = [
        json.loads(line) for line in (shared / "provider-calls.jsonl").read_text().splitlines()
    ]
    assert len(calls) == 2 and all(c["with_credential"] for c in calls)
    secrets: Any = moto.client("secretsmanager")
    assert json.loads(secrets.get_secret_value(SecretId="kitaru/llm")["SecretString"]) == {
        "api_key": SECRET
    }
    # the artifacts: blobs in the bucket, none holding the key
    s3: Any = moto.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="kitaru/")["Contents"]]
    blobs = [k for k in keys if not k.endswith(".kitaru-verify")]
    assert len(blobs) >= 3, keys
    for key in blobs:
        assert SECRET.encode() not in s3.get_object(Bucket=bucket, Key=key)["Body"].read()
