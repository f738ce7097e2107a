"""``kitaru deploy --stack azure`` (``stacks/azureml.yaml``) end to end, against the AzureML and
Key Vault fake, Azurite and podman, with the seed's ``review_flow`` (examples/review_flow.py,
unchanged).

build (podman, FROM an offline image with kitaru-azure's dependencies) -> push to the local
registry of ``podman.sh``, standing in for ACR's ``NAME.azurecr.io`` endpoint (the stack's
``registry`` override; the token login is sent, the registry does not check it) ->
deployment -> invoke -> a command job (the fake records it through azure-ai-ml) ->
``azureml_standin`` runs the job's command in the pushed image (podman), with the compute's
managed identity -> the flow calls the LLM twice with the key it read from Key Vault inside
the job, writes its values to Azurite and waits; the job ends; ``kitaru executions input ID
--value true`` submits a resume job -> run the same way -> completed on a real Kitaru server.
A second deploy of the same code builds nothing. The stack's LLM gateway is the offline one
(the image has no litellm), keyed like the template's with ``{{secret:llm.api_key}}``.

Skipped when there is no engine (``podman.sh`` exits 77)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from azure_standins import TIMINGS
from azureml_standin import REPO, AzureMLScheduler, in_podman, kitaru_server
from test_azure_stack import template_env

if TYPE_CHECKING:
    from azure_standins import Azurite
    from fake_azure import FakeAzure

    from tests.server.conftest import Server

TEMPLATE = REPO / "stacks" / "azureml.yaml"
SEED = REPO / "examples" / "review_flow.py"
SECRET = "sk-kitaru-AZUREML-E2E-1a2b3c4d5e6f"
#: podman.sh's registry by a name its login API accepts without TLS; a repository per run, so
#: that the first deploy pushes (the registry outlives the test, and tags are content hashes)
REGISTRY = f"localhost:5001/kitaru-azure/e2e-{uuid.uuid4().hex[:8]}"
pytestmark = pytest.mark.timeout(1800)  # a first podman.sh and wheelhouse take minutes


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with kitaru_server(tmp_path / "server-home") as srv:
        yield srv


def kitaru(*args: str, env: dict[str, str], cwd: Path | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_seed_flow_deployed_to_the_azureml_stack_runs_as_command_jobs_of_the_pushed_image(
    docker_host: str, runtime_image: tuple[str, Path], fake: FakeAzure, azurite: Azurite,
    container: str, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    isolated_kitaru_home: Path,
) -> None:  # fmt: skip
    from kitaru.deployments import invoke
    from kitaru.store import default_store, reset_default_store

    base, wheels = runtime_image
    shared = tmp_path / "shared"  # mounted into the jobs' containers: the provider's call log
    shared.mkdir()
    stack = yaml.safe_load(TEMPLATE.read_text())
    stack["name"] = "azure"
    stack["components"]["llm_gateway"] = {"flavor": "offline", "config": {
        "credentials": {"offline": "{{secret:llm.api_key}}"},
        "calls_log": str(shared / "provider-calls.jsonl")}}  # fmt: skip
    (tmp_path / "azure.yaml").write_text(yaml.safe_dump(stack))
    cache = tmp_path / "cache"  # holds this checkout's Kitaru wheel, as in the base image
    (cache / "wheels").mkdir(parents=True)
    for wheel in wheels.glob("kitaru-*.whl"):
        shutil.copy2(wheel, cache / "wheels")
    env = {**template_env(fake, azurite, container), **server.env(),
           "KITARU_ACR_REGISTRY": REGISTRY, "KITARU_AZUREML_SERVER_URL": server.url,
           "KITARU_AZURE_BLOB_PATH": f"az://{container}/kitaru", "DOCKER_HOST": docker_host,
           "KITARU_CACHE": str(cache), "KITARU_INLINE_LIMIT": "0"}  # fmt: skip
    env.pop("KITARU_STACK", None)
    kitaru("stack", "register", "azure", "--file", str(tmp_path / "azure.yaml"), env=env)
    for secret, value in (("kitaru-server", f"api_key={server.admin_key}"),
                          ("llm", f"api_key={SECRET}"), ("acr-token", "password=acr-pw-1"),
                          ("blob", f"conn={azurite.connection_string}")):  # fmt: skip
        kitaru("secret", "set", "--stack", "azure", secret, value, env=env)

    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(SEED, project / "review_flow.py")  # the seed program, unchanged
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "seed"\nversion = "0"\n\n[tool.kitaru.image]\nbase_image = "{base}"\n'
    )
    target = f"{project / 'review_flow.py'}:review_flow"
    started = time.monotonic()
    out = kitaru("deploy", target, "--stack", "azure", env=env, cwd=project)
    TIMINGS["kitaru deploy: build + push (s)"] = round(time.monotonic() - started, 1)
    assert f"pushing {REGISTRY}/review_flow:" in out
    again = kitaru("deploy", target, "--stack", "azure", env=env, cwd=project)
    assert "is up to date: nothing to build" in again and "building" not in again

    for name, value in env.items():
        if name.startswith(("KITARU_", "AZURE_")):
            monkeypatch.setenv(name, value)
    reset_default_store()
    ca = str(fake.ca_file.parent)
    volumes = {str(shared): {"bind": str(shared), "mode": "rw"}, ca: {"bind": ca, "mode": "ro"}}
    scheduler = AzureMLScheduler(fake, in_podman(docker_host, volumes))
    try:
        with scheduler.running():
            started = time.monotonic()
            handle = invoke("review_flow", {"topic": "Durable agents"})
            image = default_store().get_execution(handle.id).options["deployment"]["image"]
            assert image.startswith(f"{REGISTRY}/review_flow:"), image
            _until(lambda: default_store().get_execution(handle.id).status == "waiting", 300,
                   scheduler)  # fmt: skip
            TIMINGS["first command job in podman, to the wait (s)"] = round(
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

    first, second = fake.jobs.values()
    assert [job["properties"]["status"] for job in (first, second)] == ["Completed"] * 2
    for job, verb in ((first, "run"), (second, "resume")):
        assert fake.job_image(job) == image
        assert job["properties"]["command"].endswith(f"-m kitaru.entrypoint {verb} {handle.id}")
        assert server.admin_key not in json.dumps(job) and SECRET not in json.dumps(job)
    # the jobs read Key Vault as the compute's managed identity
    assert ("GET", "/secrets/kitaru-llm/", "msi:system") in fake.requests
    # the LLM credential came from Key Vault, into both calls made in the containers
    calls = [
        json.loads(line) for line in (shared / "provider-calls.jsonl").read_text().splitlines()
    ]
    assert len(calls) == 2 and all(c["with_credential"] for c in calls)
    # ... and nowhere else: not in the container (Azurite), the server's store, the jobs' logs
    blobs = {k: v for k, v in azurite.blobs(container).items() if not k.endswith(".kitaru-verify")}
    assert len(blobs) >= 3, list(blobs)
    assert not any(SECRET.encode() in data for data in blobs.values())
    for path in server.home.rglob("*"):
        assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path
    outputs = [output for _, _, _, output in scheduler.ended.values()]
    assert len(outputs) == 2 and not any(SECRET in output for output in outputs)
    assert SECRET not in shown


def _until(condition: object, timeout: float, scheduler: AzureMLScheduler) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        ended = [f"{code}: {out[-1500:]}" for _, _, code, out in scheduler.ended.values()]
        assert time.monotonic() < deadline, f"timed out; jobs ended: {ended}"
        assert not [e for e in ended if not e.startswith("0:")], ended
        time.sleep(0.5)
