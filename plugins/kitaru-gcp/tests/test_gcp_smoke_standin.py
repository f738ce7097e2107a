"""kitaru-gcp's stand-in for ``kitaru smoke`` (``kitaru_gcp.smoke.starter:gcp_standins``),
started as a smoke run starts it: a :class:`SmokeContext` naming a real Kitaru server and the
podman engine of ``scripts/standins/podman.sh``, and the components of a production-looking
Vertex stack (no endpoints, no ``anonymous``). The GCS emulator and drongo it starts are real;
CustomJobs are created through the real ``aiplatform`` client and run in podman.

Skipped where podman cannot run (``podman.sh`` exits 77)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kitaru_gcp.smoke.starter import gcp_standins
from vertex_standin import kitaru_server

from kitaru.components.standins import ComponentUse, SmokeContext, StoodIn
from kitaru.errors import ConfigError

BUSYBOX = "localhost/kitaru/busybox:static"  # podman.sh builds it, offline
PROD = "acme-ml-prod"
BUCKET = "acme-kitaru-smoke"
#: the keys a stand-in may change: where a component connects, and how it authenticates there
ENDPOINT_KEYS = {"endpoint_url", "anonymous", "credentials", "registry", "base_url"}


def production_components(path: str = f"gs://{BUCKET}/flows") -> list[ComponentUse]:
    """As a registered ``stacks/vertex.yaml`` gives them, with production values."""
    google = {"project": PROD, "anonymous": False, "endpoint_url": None}
    return [
        ComponentUse("artifact_store", "gcs", {**google, "path": path}),
        ComponentUse("secret_store", "gcp", {**google, "prefix": "kitaru-"}),
        ComponentUse("orchestrator", "vertex", {
            **google, "location": "europe-west4", "machine_type": "a2-highgpu-1g",
            "accelerator_type": "NVIDIA_TESLA_A100", "accelerator_count": 1,
            "service_account": f"kitaru-job@{PROD}.iam.gserviceaccount.com",
            "server_url": "https://kitaru.acme.example",
            "api_key": "{{secret:kitaru-server.api_key}}", "environment": {"TEAM": "ml"}}),
        ComponentUse("container_builder", "artifact_registry", {
            "project": PROD, "location": "europe-west4", "repository": "kitaru", "registry": "",
            "anonymous": False, "platform": "linux/amd64"}),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def ctx(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmokeContext]:
    with kitaru_server(tmp_path_factory.mktemp("server") / "home") as server:
        yield SmokeContext(stack="vertex", workdir=tmp_path_factory.mktemp("smoke"),
                           server_url=server.url, docker_host=docker_host,
                           registry="127.0.0.1:5001")  # fmt: skip


@pytest.fixture(scope="module")
def stood(ctx: SmokeContext) -> Iterator[StoodIn]:
    with gcp_standins(ctx, production_components()) as stood:
        yield stood


def merged(kind: str, stood: StoodIn) -> dict[str, Any]:
    (use,) = [u for u in production_components() if u.type == kind]
    return {**use.config, **stood.config[kind]}


def test_only_endpoints_and_the_registry_are_rewritten(stood: StoodIn, ctx: SmokeContext) -> None:
    from kitaru.plugins.manager import plugin_manager

    for use in production_components():
        changes = stood.config[use.type]
        assert set(changes) <= ENDPOINT_KEYS, (use.type, changes)
        # what is rewritten is still a valid config of the flavor (what the run registers)
        config_class = plugin_manager().flavor(use.type, use.flavor).load_config_class()
        config_class.model_validate(merged(use.type, stood))
        assert use.type in stood.notes
    assert stood.config["container_builder"]["registry"] == f"{ctx.registry}/{PROD}/kitaru"
    assert stood.config["container_builder"]["base_url"] == ctx.docker_host
    assert stood.environment["NO_GCE_CHECK"] == "true"
    limits = "\n".join(stood.limits)
    for what in ("a2-highgpu-1g", "NVIDIA_TESLA_A100", "kitaru-job@", "europe-west4", "IAM"):
        assert what in limits, limits


def test_the_bucket_exists_and_the_secret_store_is_empty_but_works(stood: StoodIn) -> None:
    from kitaru.testing import build_component

    gcs = stood.config["artifact_store"]["endpoint_url"]
    with urllib.request.urlopen(f"{gcs}/storage/v1/b/{BUCKET}", timeout=10) as answer:
        assert json.load(answer)["name"] == BUCKET
    assert f"bucket {BUCKET} created" in stood.notes["artifact_store"]
    secrets = build_component("secret_store", "gcp", **merged("secret_store", stood))
    assert secrets.list() == []
    secrets.set("kitaru-server", {"api_key": "k"})
    assert secrets.get("kitaru-server") == {"api_key": "k"}


def _create_job(stood: StoodIn, name: str, script: str) -> str:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.aiplatform_v1 import JobServiceClient

    config = merged("orchestrator", stood)
    client = JobServiceClient(transport="rest", credentials=AnonymousCredentials(),
                              client_options=ClientOptions(api_endpoint=config["endpoint_url"]))  # fmt: skip
    job = client.create_custom_job(
        parent=f"projects/{PROD}/locations/europe-west4",
        custom_job={"display_name": name, "labels": {"kitaru-role": "run"}, "job_spec": {
            "worker_pool_specs": [{"machine_spec": {"machine_type": "n1-standard-4"},
                                   "replica_count": 1, "container_spec": {
                "image_uri": BUSYBOX, "command": ["sh", "-c"], "args": [script],
                "env": [{"name": "GREETING", "value": "hello"}]}}]}},
    )  # fmt: skip
    return str(job.name)


def test_custom_jobs_run_once_in_the_engine_and_their_states_are_set(stood: StoodIn) -> None:
    from google.cloud.aiplatform_v1 import JobServiceClient

    runner = stood.runner
    assert runner is not None
    started: list[str] = []
    start_job = runner.start_job  # type: ignore[attr-defined]
    runner.start_job = lambda name, role, spec: started.append(name) or start_job(name, role, spec)  # type: ignore[attr-defined]
    good = _create_job(stood, "kitaru-run-good", "echo $GREETING $CLOUD_ML_JOB_ID $NO_GCE_CHECK")
    bad = _create_job(stood, "kitaru-run-bad", "echo cannot import agents_sdk; exit 3")
    deadline = time.monotonic() + 120
    while len(runner.ended) < 2:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, runner.summary()
        runner.poll()
        time.sleep(0.2)
    for _ in range(5):  # later polls start nothing again
        runner.poll()
    assert sorted(started) == [f"kitaru-run-bad-{bad.rsplit('/', 1)[-1]}",
                               f"kitaru-run-good-{good.rsplit('/', 1)[-1]}"]  # fmt: skip
    client = JobServiceClient(**_client_kwargs(stood))
    assert client.get_custom_job(name=good).state.name == "JOB_STATE_SUCCEEDED"
    failed = client.get_custom_job(name=bad)
    assert failed.state.name == "JOB_STATE_FAILED"
    assert "non-zero status of 3" in failed.error.message
    assert runner.ended[good].output.strip() == f"hello {good.rsplit('/', 1)[-1]} true"  # type: ignore[attr-defined]
    assert runner.problems() == ["Vertex AI CustomJob kitaru-run-bad (run) exited 3: "
                                 "cannot import agents_sdk"]  # fmt: skip
    summary = "\n".join(runner.summary())
    assert "kitaru-run-good (run) ran in the engine: exit 0" in summary
    assert "kitaru-run-bad (run) ran in the engine: exit 3" in summary


def _client_kwargs(stood: StoodIn) -> dict[str, Any]:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    endpoint = stood.config["orchestrator"]["endpoint_url"]
    return {"transport": "rest", "credentials": AnonymousCredentials(),
            "client_options": ClientOptions(api_endpoint=endpoint)}  # fmt: skip


@pytest.mark.parametrize(("bucket", "why"), [
    ("Acme_Kitaru", "only lowercase letters"),
    ("goog-kitaru-prod", "must not start with 'goog'"),  # the flavor's config lets it pass
])  # fmt: skip
def test_a_bucket_name_the_cloud_refuses_fails_in_one_line(
    bucket: str, why: str, tmp_path: Path
) -> None:
    ctx = SmokeContext(stack="vertex", workdir=tmp_path, server_url="http://127.0.0.1:9")
    with pytest.raises(ConfigError) as info, gcp_standins(ctx, production_components(f"gs://{bucket}/flows")):  # fmt: skip
        pass
    text = str(info.value)
    assert text.startswith("artifact store (gcs): bucket") and "\n" not in text
    assert repr(bucket) in text and why in text
    assert not list(tmp_path.iterdir())  # refused before anything started


def test_the_plugin_declares_its_stand_in_without_importing_it() -> None:
    """Listing stand-ins imports no emulator, no drongo, no Google SDK (``google`` and
    ``google.cloud`` themselves are namespace packages site-packages' .pth files import)."""
    code = (
        "import sys; from kitaru.plugins.manager import plugin_manager as pm\n"
        "s = pm().standin_for('orchestrator', 'vertex')\n"
        "print(s.provider, s.implementation, sorted(s.serves))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('drongo', 'gcp_storage_emulator',"
        " 'gcsfs', 'docker') or m.startswith(('google.auth', 'google.api_core', 'google.cloud.',"
        " 'kitaru_gcp.smoke.'))]\n"
        "print(bad)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    declared, imported = done.stdout.splitlines()
    assert declared.startswith("kitaru-gcp kitaru_gcp.smoke.starter:gcp_standins")
    for pair in ("('artifact_store', 'gcs')", "('container_builder', 'artifact_registry')",
                 "('orchestrator', 'vertex')", "('secret_store', 'gcp')"):  # fmt: skip
        assert pair in declared
    assert imported == "[]"
