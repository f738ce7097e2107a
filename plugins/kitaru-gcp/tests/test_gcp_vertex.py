"""The ``vertex`` orchestrator running CustomJobs: the orchestrator contract (routing, resume,
isolated checkpoints, crash recovery, retry, cancel) and what Vertex AI says of a job.

drongo records the jobs (the real ``JobServiceClient``, REST); ``vertex_standin`` runs each
recorded job's container spec as a process here, as Vertex AI would run its replica, so the
values and replies travel through the GCS emulator, the API key comes from drongo's Secret
Manager inside the job, and the job reports to a real Kitaru server. The job states drongo never
shows (RUNNING, SUCCEEDED, FAILED with a message) are set by that stand-in, or by a test itself
through ``drongo_launcher``'s route — the hand-written part: Vertex AI's job state machine.
IAM refusals come from ``gcp_fakes`` (a 403 body as Vertex AI answers it): no stand-in
enforces IAM."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from gcp_fakes import fake_google
from gcp_standins import PROJECT
from vertex_standin import (
    API_KEY_REFERENCE,
    VertexScheduler,
    kitaru_server,
    on_host,
    register_stack,
)

from kitaru.errors import ConfigError
from kitaru.testing import build_component
from kitaru.testing.contracts.orchestrator import OrchestratorContract, run_on

if TYPE_CHECKING:
    from gcp_standins import Drongo, GCSEmulator

    from tests.server.conftest import Server

FAILED = "The replica workerpool0-0 exited with a non-zero status of 1.\nSee the logs"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with kitaru_server(tmp_path_factory.mktemp("server") / "home") as srv:
        yield srv


def vertex_stack(name: str, server: Server, drongo: Drongo, gcs: GCSEmulator, bucket: str,
                 **orchestrator: Any) -> dict[str, Any]:  # fmt: skip
    """Vertex AI + GCS + Secret Manager on the stand-ins; jobs run this venv's python."""
    google = {"project": PROJECT, "anonymous": True}
    return {"name": name, "components": {
        "orchestrator": {"flavor": "vertex", "config": {
            **google, "endpoint_url": drongo.endpoint_url, "image": "kitaru/never-pulled:1",
            "python": sys.executable, "server_url": server.url, "api_key": API_KEY_REFERENCE,
            "poll_interval": 0.05, "checkpoint_machine_type": "n1-highmem-8",
            "checkpoint_timeout_seconds": 600, "labels": {"team": "agents"}, **orchestrator}},
        "artifact_store": {"flavor": "gcs", "config": {
            **google, "path": f"gs://{bucket}/kitaru", "endpoint_url": gcs.endpoint_url}},
        "secret_store": {"flavor": "gcp", "config": {**google, "endpoint_url": drongo.endpoint_url}},
    }}  # fmt: skip


@pytest.fixture
def vx(
    drongo: Drongo, gcs_emulator: GCSEmulator, bucket: str, server: Server, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, isolated_kitaru_home: Path,
) -> Iterator[Any]:  # fmt: skip
    """The stack's orchestrator in this process (connected to the server); the server's key
    in Secret Manager, where the jobs resolve ``API_KEY_REFERENCE``."""
    from kitaru.runtime.stacks import stack_of
    from kitaru.store import reset_default_store

    stack = f"vx-{uuid.uuid4().hex[:8]}"  # one server for the module
    register_stack(server, vertex_stack(stack, server, drongo, gcs_emulator, bucket), tmp_path)
    secrets = build_component("secret_store", "gcp", project=PROJECT, anonymous=True,
                              endpoint_url=drongo.endpoint_url)  # fmt: skip
    secrets.set("kitaru-server", {"api_key": server.admin_key})
    monkeypatch.setenv("KITARU_SERVER_URL", server.url)
    monkeypatch.setenv("KITARU_API_KEY", server.admin_key)
    monkeypatch.setenv("KITARU_STACK", stack)
    reset_default_store()
    yield stack_of(stack).orchestrator
    reset_default_store()


@pytest.fixture
def scheduler(drongo: Drongo, tmp_path: Path) -> Iterator[VertexScheduler]:
    """Vertex AI's scheduler stand-in: every job drongo records runs as a process here."""
    with VertexScheduler(drongo, on_host(tmp_path / "job-home")).running() as running:
        yield running
    assert not running.errors, running.errors


class TestVertexOrchestratorContract(OrchestratorContract):
    """Every job the orchestrator (or a job's own orchestrator) creates runs here."""

    execution_timeout = 120.0

    @pytest.fixture
    def orchestrator(self, vx: Any, scheduler: VertexScheduler) -> Any:
        return vx
