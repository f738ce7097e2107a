"""``kitaru deploy --stack`` on a SageMaker stack, end to end against moto and podman.

build (podman, FROM an offline image with kitaru-aws's dependencies) -> push: moto's ECR API
issues the login token and gets the repository; the image bytes go to the local registry of
``podman.sh``, standing in for ECR's registry endpoint (moto speaks no registry protocol; the
builder logs in there with the ECR token as it would to a proxy in front of ECR) ->
deployment -> invoke -> a SageMaker training job (moto records it) -> the job's exact command
and environment run in the pushed image (podman, ``sagemaker_standin``) -> the flow waits and
its job ends; the answer submits a resume job -> run the same way -> completed. Artifacts go
to moto's S3; the job's API key comes from moto's Secrets Manager.

Skipped when there is no engine (``podman.sh`` exits 77)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sagemaker_standin import (
    REPO,
    ROLE,
    SECRET_ID,
    podman_engine,
    register_stack,
    run_in_podman,
    store_api_key,
)

if TYPE_CHECKING:
    from conftest import Moto

    from tests.server.conftest import Server

ACCOUNT = "123456789012"
STACK = "aws-deploy"
#: podman.sh's registry by a name its login API accepts without TLS
REGISTRY = "localhost:5001/kitaru-aws"
DEBIAN_PYTHON = "localhost/kitaru/debian-python:bookworm"
RUNTIME_DOCKERFILE = f"""\
FROM {DEBIAN_PYTHON}
COPY deps /wheels/deps
RUN python3 -m venv /opt/kitaru \\
 && /opt/kitaru/bin/pip install -q --no-index --no-deps -r /wheels/deps/requirements.txt \\
      --find-links /wheels/deps
COPY kitaru /wheels/kitaru
RUN /opt/kitaru/bin/pip install -q --no-index --no-deps /wheels/kitaru/*.whl
ENV PATH=/opt/kitaru/bin:$PATH PYTHONUNBUFFERED=1
"""
FLOW = """
import os

from kitaru import checkpoint, flow, save, wait


@checkpoint
def square(x: int) -> int:
    return x * x


@flow
def shipped_aws(x: int) -> dict:
    squared = square(x)
    save("report", "r" * 100_000)  # large: a blob in the S3 artifact store
    ok = wait(name="approve", question=f"ship {squared}?", schema=bool)
    return {"squared": squared, "approved": ok, "container": os.path.exists("/run/.containerenv")}
"""

pytestmark = pytest.mark.timeout(1500)  # a first podman.sh and wheelhouse take minutes


@pytest.fixture(scope="module")
def docker_host() -> str:
    return podman_engine()


@pytest.fixture(scope="module")
def runtime_image(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Debian + python3 with kitaru and kitaru-aws (and their pinned dependencies) installed
    from a local wheelhouse; its tag and the wheels of this checkout."""
    import docker

    context = tmp_path_factory.mktemp("aws-runtime")
    script = REPO / "scripts" / "standins" / "kitaru_wheelhouse.sh"
    proc = subprocess.run(["bash", str(script), str(context), "kitaru-aws"], capture_output=True,
                          text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (context / "Dockerfile").write_text(RUNTIME_DOCKERFILE)
    digest = hashlib.sha256()
    for path in sorted(context.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    tag = f"localhost/kitaru/aws-runtime-test:{digest.hexdigest()[:16]}"
    client = docker.DockerClient(base_url=docker_host, timeout=600)
    if not client.images.list(name=tag):
        client.images.build(path=str(context), tag=tag, rm=True)
    return tag, context / "kitaru"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    from tests.server.conftest import start_server, stop

    srv = start_server(tmp_path / "server-home")
    assert srv.admin_key, srv.log.read_text()
    yield srv
    stop(srv)


def test_deploy_pushes_to_ecr_and_the_jobs_run_the_pushed_image(
    docker_host: str, runtime_image: tuple[str, Path], moto: Moto, bucket: str, server: Server,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_kitaru_home: Path,
) -> None:  # fmt: skip
    from kitaru.client import KitaruClient
    from kitaru.deployments import invoke
    from kitaru.runtime.stacks import stack_of
    from kitaru.store import default_store, reset_default_store

    base, wheels = runtime_image
    register_stack(server, {"name": STACK, "components": {
        "orchestrator": {"flavor": "sagemaker", "config": {
            "role_arn": ROLE, "output_path": f"s3://{bucket}/sagemaker", "region": "us-east-1",
            "endpoint_url": moto.endpoint_url, "server_url": server.url,
            "api_key_secret_id": SECRET_ID,
            "environment": {"AWS_ENDPOINT_URL": moto.endpoint_url}}},  # the job's AWS is moto
        "container_builder": {"flavor": "ecr", "config": {
            "registry": REGISTRY, "registry_id": ACCOUNT, "region": "us-east-1",
            "endpoint_url": moto.endpoint_url, "base_url": docker_host}},
        "artifact_store": {"flavor": "s3", "config": {
            "path": f"s3://{bucket}/kitaru", "region": "us-east-1",
            "endpoint_url": moto.endpoint_url}},
    }}, tmp_path)  # fmt: skip
    store_api_key(moto, server)

    project = tmp_path / "project"
    project.mkdir()
    (project / "shipped_aws.py").write_text(FLOW)
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "shipped-aws"\nversion = "0"\n\n[tool.kitaru.image]\nbase_image = "{base}"\n'
    )
    # the Kitaru wheel `kitaru build` puts in the image: this checkout's, as in the base image
    cache = tmp_path / "cache"
    (cache / "wheels").mkdir(parents=True)
    for wheel in wheels.glob("kitaru-*.whl"):
        shutil.copy2(wheel, cache / "wheels")
    env = server.env(KITARU_CACHE=str(cache))
    env.pop("KITARU_STACK", None)
    started = time.monotonic()
    deployed = subprocess.run(
        [sys.executable, "-m", "kitaru.cli", "deploy", f"{project / 'shipped_aws.py'}:shipped_aws",
         "--stack", STACK],
        env=env, capture_output=True, text=True, cwd=project, timeout=900,
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    print(f"kitaru deploy (build + ECR push): {time.monotonic() - started:.1f} s")
    assert f"pushing {REGISTRY}/shipped_aws:" in deployed.stdout
    ecr: Any = moto.client("ecr")
    repositories = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert repositories == ["kitaru-aws/shipped_aws"]  # created before the first push

    monkeypatch.setenv("KITARU_SERVER_URL", server.url)
    monkeypatch.setenv("KITARU_API_KEY", server.admin_key)
    reset_default_store()
    try:
        sm = stack_of(STACK).orchestrator
        created: list[dict[str, Any]] = []
        real = sm.client.create_training_job
        sm.client.create_training_job = lambda **spec: created.append(spec) or real(**spec)

        handle = invoke("shipped_aws", {"x": 7})
        image = default_store().get_execution(handle.id).options["deployment"]["image"]
        assert image.startswith(f"{REGISTRY}/shipped_aws@sha256:")
        (run_job,) = created
        assert run_job["AlgorithmSpecification"]["TrainingImage"] == image
        # an invocation creates the pending execution itself, then has the orchestrator resume it
        assert run_job["AlgorithmSpecification"]["ContainerArguments"] == ["resume", handle.id]

        started = time.monotonic()
        logs = run_in_podman(docker_host, run_job)  # SageMaker runs the job: up to the wait
        print(f"run job in the pushed image: {time.monotonic() - started:.1f} s")
        assert default_store().get_execution(handle.id).status == "waiting", logs[-2000:]

        KitaruClient().executions.input(handle.id, True)  # -> the orchestrator submits a job
        _, resume_job = created
        assert resume_job["AlgorithmSpecification"]["ContainerArguments"] == ["resume", handle.id]
        assert resume_job["AlgorithmSpecification"]["TrainingImage"] == image
        run_in_podman(docker_host, resume_job)
        assert handle.wait(timeout=30) == {"squared": 49, "approved": True, "container": True}
    finally:
        reset_default_store()

    sagemaker: Any = moto.client("sagemaker")
    jobs = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    assert sorted(j["TrainingJobName"] for j in jobs) == sorted(
        j["TrainingJobName"] for j in created
    )
    s3: Any = moto.client("s3")
    blobs = s3.list_objects_v2(Bucket=bucket, Prefix="kitaru/")["Contents"]
    assert any(o["Size"] >= 100_000 for o in blobs)  # the report, written from the container
