"""``kitaru deploy --stack vertex`` (``stacks/vertex.yaml``) end to end, against drongo, the GCS
emulator and podman, with the seed's ``review_flow`` (examples/review_flow.py, unchanged).

build (podman, FROM an offline image with kitaru-gcp's dependencies) -> push to the local
registry of ``podman.sh``, standing in for Artifact Registry's ``LOCATION-docker.pkg.dev``
endpoint (the stack's ``registry`` override; anonymous: the token login is
``test_gcp_artifact_registry``'s) -> deployment -> invoke -> a CustomJob (drongo records it)
-> ``vertex_standin`` runs the job's exact container spec in the pushed image (podman) -> the
flow calls the LLM twice with the key it read from Secret Manager (drongo) inside the job,
writes its values to GCS and waits; its job ends; ``kitaru executions input ID --value true``
submits a resume CustomJob -> run the same way -> completed on a real Kitaru server. A second
deploy of the same code builds nothing. The stack's LLM gateway is the offline one (the image
has no litellm), keyed like the template's with ``{{secret:llm.api_key}}``.

Skipped when there is no engine (``podman.sh`` exits 77)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from gcp_standins import PROJECT, TIMINGS
from vertex_standin import REPO, VertexScheduler, in_podman, kitaru_server

if TYPE_CHECKING:
    from gcp_standins import Drongo, GCSEmulator

    from tests.server.conftest import Server

TEMPLATE = REPO / "stacks" / "vertex.yaml"
SEED = REPO / "examples" / "review_flow.py"
SECRET = "sk-kitaru-VERTEX-E2E-7f6e5d4c3b2a"
#: podman.sh's registry by a name its login API accepts without TLS
REGISTRY = "localhost:5001/kitaru-gcp"
pytestmark = pytest.mark.timeout(1500)  # a first podman.sh and wheelhouse take minutes


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with kitaru_server(tmp_path / "server-home") as srv:
        yield srv


def kitaru(*args: str, env: dict[str, str], cwd: Path | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_seed_flow_deployed_to_the_vertex_stack_runs_as_custom_jobs_of_the_pushed_image(
    docker_host: str, runtime_image: tuple[str, Path], drongo: Drongo,
    gcs_emulator: GCSEmulator, bucket: str, server: Server, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, isolated_kitaru_home: Path,
) -> None:  # fmt: skip
    from kitaru.deployments import invoke
    from kitaru.store import default_store, reset_default_store

    base, wheels = runtime_image
    shared = tmp_path / "shared"  # mounted into the jobs' containers: the provider's call log
    shared.mkdir()
    stack = yaml.safe_load(TEMPLATE.read_text())
    stack["components"]["llm_gateway"] = {"flavor": "offline", "config": {
        "credentials": {"offline": "{{secret:llm.api_key}}"},
        "calls_log": str(shared / "provider-calls.jsonl")}}  # fmt: skip
    (tmp_path / "vertex.yaml").write_text(yaml.safe_dump(stack))
    # the cache holds this checkout's Kitaru wheel, as in the base image
    cache = tmp_path / "cache"
    (cache / "wheels").mkdir(parents=True)
    for wheel in wheels.glob("kitaru-*.whl"):
        shutil.copy2(wheel, cache / "wheels")
    env = server.env(
        GOOGLE_CLOUD_PROJECT=PROJECT, KITARU_GCP_LOCATION="us-central1",
        KITARU_GCS_PATH=f"gs://{bucket}/kitaru", KITARU_GCP_ANONYMOUS="true",
        STORAGE_ENDPOINT=gcs_emulator.endpoint_url, SECRET_MANAGER_ENDPOINT=drongo.endpoint_url,
        KITARU_VERTEX_ENDPOINT=drongo.endpoint_url, KITARU_AR_REGISTRY=REGISTRY,
        KITARU_VERTEX_SERVER_URL=server.url, DOCKER_HOST=docker_host, KITARU_CACHE=str(cache),
        KITARU_INLINE_LIMIT="0",  # passed to the jobs: every value to GCS
    )  # fmt: skip
    env.pop("KITARU_STACK", None)
    kitaru("stack", "register", "vertex", "--file", str(tmp_path / "vertex.yaml"), env=env)
    kitaru("secret", "set", "--stack", "vertex", "kitaru-server", f"api_key={server.admin_key}",
           env=env)  # fmt: skip
    kitaru("secret", "set", "--stack", "vertex", "llm", f"api_key={SECRET}", env=env)

    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(SEED, project / "review_flow.py")  # the seed program, unchanged
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "seed"\nversion = "0"\n\n[tool.kitaru.image]\nbase_image = "{base}"\n'
    )
    target = f"{project / 'review_flow.py'}:review_flow"
    started = time.monotonic()
    out = kitaru("deploy", target, "--stack", "vertex", env=env, cwd=project)
    TIMINGS["kitaru deploy: build + push (s)"] = round(time.monotonic() - started, 1)
    assert f"pushing {REGISTRY}/review_flow:" in out
    started = time.monotonic()
    again = kitaru("deploy", target, "--stack", "vertex", env=env, cwd=project)
    TIMINGS["kitaru deploy again (s)"] = round(time.monotonic() - started, 1)
    assert "is up to date: nothing to build" in again and "building" not in again

    for name, value in env.items():
        if name.startswith(("KITARU_", "GOOGLE_")):
            monkeypatch.setenv(name, value)
    reset_default_store()
    volumes = {str(shared): {"bind": str(shared), "mode": "rw"}}
    scheduler = VertexScheduler(drongo, in_podman(docker_host, volumes))
    try:
        with scheduler.running():
            started = time.monotonic()
            handle = invoke("review_flow", {"topic": "Durable agents"})
            image = default_store().get_execution(handle.id).options["deployment"]["image"]
            # the second deploy found the image and registered its tag (the first, its digest)
            assert image.startswith(f"{REGISTRY}/review_flow:"), image
            _until(lambda: default_store().get_execution(handle.id).status == "waiting", 300,
                   scheduler)  # fmt: skip
            TIMINGS["first CustomJob in podman, to the wait (s)"] = round(
                time.monotonic() - started, 1
            )
            scheduler.wait_idle(1, timeout=120)  # the job ends once the wait is released
            kitaru("executions", "input", handle.id, "--value", "true", env=env)
            result = handle.wait(timeout=300)
            scheduler.wait_idle(2, timeout=120)
        assert isinstance(result, str) and result and result != "Rejected"
        shown = kitaru("executions", "logs", handle.id, env=env)
    finally:
        reset_default_store()
    assert not scheduler.errors, scheduler.errors

    first, second = drongo.custom_jobs()
    assert [job.state.name for job in (first, second)] == ["JOB_STATE_SUCCEEDED"] * 2
    for job, verb in ((first, "run"), (second, "resume")):
        container = job.job_spec.worker_pool_specs[0].container_spec
        assert container.image_uri == image
        assert list(container.args) == [verb, handle.id]
        assert server.admin_key not in type(job).to_json(job)
        assert SECRET not in type(job).to_json(job)
    # the LLM credential came from Secret Manager, into both calls made in the containers
    calls = [
        json.loads(line) for line in (shared / "provider-calls.jsonl").read_text().splitlines()
    ]
    assert len(calls) == 2 and all(c["with_credential"] for c in calls)
    raw = drongo.secret_manager().access_secret_version(
        name=f"projects/{PROJECT}/secrets/kitaru-llm/versions/latest"
    )
    assert json.loads(raw.payload.data) == {"api_key": SECRET}
    # ... and nowhere else: not in the bucket, the server's store, the jobs' or Kitaru's logs
    from gcsfs.core import GCSFileSystem

    fs = GCSFileSystem(project=PROJECT, token="anon", endpoint_url=gcs_emulator.endpoint_url,
                       skip_instance_cache=True)  # fmt: skip
    blobs = [p for p in fs.find(f"{bucket}/kitaru") if not p.endswith(".kitaru-verify")]
    assert len(blobs) >= 3, blobs
    assert not any(SECRET.encode() in fs.cat_file(path) for path in blobs)
    for path in server.home.rglob("*"):
        assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path
    outputs = [output for _, _, output in scheduler.ended.values()]
    assert len(outputs) == 2 and not any(SECRET in output for output in outputs)
    assert SECRET not in shown


def _until(condition: object, timeout: float, scheduler: VertexScheduler) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        ended = [f"{code}: {out[-1500:]}" for _, code, out in scheduler.ended.values()]
        assert time.monotonic() < deadline, f"timed out; jobs ended: {ended}"
        assert not [e for e in ended if not e.startswith("0:")], ended
        time.sleep(0.5)
