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


def test_an_isolated_checkpoint_runs_as_a_custom_job_of_its_own(
    vx: Any, scheduler: VertexScheduler, drongo: Drongo, bucket: str
) -> None:
    """What the jobs look like on Vertex AI: display names and labels, the checkpoint's machine
    type and timeout, the inputs in the environment, no secret value anywhere in a spec."""
    from kitaru.store import default_store
    from kitaru.testing.flows import apart

    handle = run_on(vx, apart, {"x": 5})
    assert handle.wait(timeout=120) == 16
    scheduler.wait_idle(2)  # the flow's job exits after reporting the result
    flow_job, checkpoint_job = drongo.custom_jobs()
    units = default_store().get_execution(handle.id).metadata["units"]
    assert [u["job"] for u in units] == [flow_job.name, checkpoint_job.name]
    run_unit, checkpoint_unit = units
    assert (run_unit["role"], checkpoint_unit["role"]) == ("run", "checkpoint")
    job_id = checkpoint_job.name.rsplit("/", 1)[-1]
    assert checkpoint_unit["logs_filter"] == (
        f'resource.type="ml_job" resource.labels.job_id="{job_id}"'
    )
    assert checkpoint_unit["logs_url"].startswith("https://console.cloud.google.com/logs/query;")
    assert checkpoint_unit["logs_url"].endswith(f"?project={PROJECT}")
    assert checkpoint_job.display_name == checkpoint_unit["name"]
    assert dict(checkpoint_job.labels) == {
        "team": "agents", "kitaru-unit": checkpoint_unit["name"], "kitaru-role": "checkpoint",
        "kitaru-execution": handle.id, "kitaru-orchestrator": vx.name,
    }  # fmt: skip
    pool = checkpoint_job.job_spec.worker_pool_specs[0]
    assert pool.machine_spec.machine_type == "n1-highmem-8"
    assert flow_job.job_spec.worker_pool_specs[0].machine_spec.machine_type == "n1-standard-4"
    assert checkpoint_job.job_spec.scheduling.timeout.total_seconds() == 600
    assert list(pool.container_spec.args) == ["checkpoint", handle.id, "triple_apart", "-"]
    env = {e.name: e.value for e in pool.container_spec.env}
    assert json.loads(env["KITARU_CHECKPOINT_INPUT"])
    assert env["GOOGLE_CLOUD_PROJECT"] == PROJECT
    assert json.loads(env["KITARU_SECRET_ENV"]) == {"KITARU_API_KEY": API_KEY_REFERENCE}
    assert json.loads(env["KITARU_SECRET_STORE"])["flavor"] == "gcp"
    assert "KITARU_API_KEY" not in env  # a reference, resolved inside the job
    assert [job.state.name for job in drongo.custom_jobs()] == ["JOB_STATE_SUCCEEDED"] * 2
    from kitaru.client import KitaruClient

    (call,) = [c for c in KitaruClient().executions.get(handle.id).checkpoints
               if c.name == "triple_apart"]  # fmt: skip
    assert call.metadata["unit"] == checkpoint_unit["name"]


def test_no_secret_value_is_in_any_job_spec(
    vx: Any, scheduler: VertexScheduler, drongo: Drongo, server: Server
) -> None:
    from kitaru.testing.flows import tiny

    assert run_on(vx, tiny, {"x": 3}).wait(timeout=120) == 7
    (job,) = drongo.custom_jobs()
    assert server.admin_key not in type(job).to_json(job)
    env = {e.name for e in job.job_spec.worker_pool_specs[0].container_spec.env}
    assert "KITARU_API_KEY" not in env


@pytest.mark.parametrize(
    ("state", "message", "says"),
    [
        ("JOB_STATE_FAILED", FAILED, "failed: The replica workerpool0-0 exited with a non-zero "
                                     "status of 1. See the logs"),
        ("JOB_STATE_CANCELLED", None, "was stopped"),
        ("JOB_STATE_SUCCEEDED", None, "completed without writing its reply"),
        (None, None, "ran over 1 s; stopped"),  # never scheduled: still JOB_STATE_UNSPECIFIED
    ],
)  # fmt: skip
def test_a_checkpoint_job_that_does_not_reply_is_an_error(
    vx: Any, drongo: Drongo, monkeypatch: pytest.MonkeyPatch, state: str | None,
    message: str | None, says: str,
) -> None:  # fmt: skip
    """No scheduler here: the test sets the job's state as Vertex AI would have."""
    from kitaru.store import default_store
    from kitaru.testing.flows import tiny

    monkeypatch.setattr(vx, "stop_grace", 0.0)
    monkeypatch.setattr(
        vx, "config", vx.config.model_copy(update={"checkpoint_timeout_seconds": 1})
    )
    real = vx.submit_unit

    def submit_and_end(spec: Any) -> dict[str, Any]:
        facts = real(spec)
        if state and spec.role == "checkpoint":
            drongo.set_job_state(facts["job"], state, message)
        return facts

    monkeypatch.setattr(vx, "submit_unit", submit_and_end)
    handle = run_on(vx, tiny, {"x": 1})  # a pending execution to hang the call on
    artifacts = build_component("artifact_store", "local", path=str(Path(vx.name)))
    reply = vx.run_checkpoint(default_store().get_execution(handle.id), "heavy",
                              ["json", None, "gs://nowhere/x"], artifacts)  # fmt: skip
    assert reply.error is not None
    kind, text = reply.error
    assert kind == "IsolatedUnitFailed" and says in text and "\n" not in text, text
    assert reply.unit["unit"].startswith("kitaru-checkpoint-")
    _, job = drongo.custom_jobs()
    # ran over: the orchestrator cancelled it
    assert job.state.name == (state or "JOB_STATE_CANCELLED")


def test_a_failed_job_is_a_crash_with_vertex_ais_message(vx: Any, drongo: Drongo) -> None:
    """The job driving an execution failed before Kitaru heard of its end (the image could
    not start, the machine was preempted): the execution is crashed, with the job's error."""
    from kitaru.client import KitaruClient
    from kitaru.testing.flows import tiny

    handle = run_on(vx, tiny, {"x": 1})
    (job,) = drongo.custom_jobs()
    assert vx.status(handle.id) == "pending"  # JOB_STATE_UNSPECIFIED: not started
    drongo.set_job_state(job.name, "JOB_STATE_RUNNING")
    assert vx.status(handle.id) == "pending"  # running, but the flow has not started yet
    drongo.set_job_state(job.name, "JOB_STATE_FAILED", FAILED)
    assert vx.status(handle.id) == "crashed"
    reason = vx.failure(handle.id)
    assert reason is not None and reason.startswith("kitaru-run-")
    assert "failed: The replica workerpool0-0 exited with a non-zero status of 1. See" in reason
    shown = KitaruClient().executions.get(handle.id)
    assert shown.status == "crashed", shown
    # what `kitaru executions show` prints: Vertex AI's message, on one line
    assert shown.crash_reason and "non-zero status of 1. See" in shown.crash_reason, shown
    assert "\n" not in shown.crash_reason


def test_another_process_finds_a_job_by_its_display_name(vx: Any, drongo: Drongo) -> None:
    """A unit not in this process's records (``kitaru executions show`` elsewhere reads the
    records; a bare name is looked up by display name); an unknown one is gone."""
    from kitaru.testing.flows import tiny

    run_on(vx, tiny, {"x": 1})
    (job,) = drongo.custom_jobs()
    drongo.set_job_state(job.name, "JOB_STATE_SUCCEEDED")
    other = build_component("orchestrator", "vertex", name="other", project=PROJECT,
                            anonymous=True, endpoint_url=drongo.endpoint_url)  # fmt: skip
    assert other.unit_state(job.display_name).phase == "succeeded"
    assert other._jobs == {job.display_name: job.name}
    assert other.unit_state("kitaru-run-0000000000000000").phase == "gone"
    other.stop_unit("kitaru-run-0000000000000000")  # nothing to cancel: no error


def test_verify_with_drongo_down_is_one_line_in_seconds() -> None:
    import time

    from kitaru.testing.services import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    vertex = build_component("orchestrator", "vertex", name="vx", project=PROJECT,
                             anonymous=True, endpoint_url=endpoint)  # fmt: skip
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        vertex.verify()
    assert time.monotonic() - started < 10
    text = f"{info.value} ({info.value.hint})"
    assert "\n" not in text
    assert (
        f"orchestrator 'vx' cannot list CustomJobs (Vertex AI, project {PROJECT}, {endpoint}"
        in text
    )
    assert "aiplatform.customJobs.list" in text


def test_a_refused_submission_names_the_permission() -> None:
    """Vertex AI's 403 (no stand-in enforces IAM: ``gcp_fakes`` answers as Vertex AI does)."""
    from kitaru.components.job_orchestrator import UnitSpec

    permission = "aiplatform.customJobs.create"

    def route(method: str, path: str) -> tuple[int, dict[str, Any]]:
        message = (f"Permission '{permission}' denied on resource "
                   f"'//aiplatform.googleapis.com/projects/{PROJECT}/locations/us-central1' "
                   "(or it may not exist).")  # fmt: skip
        return 403, {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}}

    with fake_google(route) as fake:
        vertex = build_component("orchestrator", "vertex", name="vx", project=PROJECT,
                                 anonymous=True, endpoint_url=fake.endpoint_url)  # fmt: skip
        spec = UnitSpec(name="kitaru-run-1", execution_id="e1", role="run", image="i:1",
                        arguments=["run", "e1"], environment={}, time_limit=60)  # fmt: skip
        with pytest.raises(ConfigError) as info:
            vertex.submit_unit(spec)
    text = f"{info.value} ({info.value.hint})"
    assert "\n" not in text
    assert "orchestrator 'vx' cannot submit a CustomJob for execution e1" in text
    assert f"permission {permission} refused" in text
    assert "iam.serviceAccounts.actAs" in text


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"labels": {"Team": "x"}}, "lowercase"),
        ({"labels": {"kitaru-unit": "x"}}, "Kitaru's own"),
        ({"accelerator_type": "NVIDIA_TESLA_T4"}, "go together"),
        ({"job_name_prefix": "Kitaru"}, "job_name_prefix"),
        ({"network": "default"}, "network"),
        ({"staging_bucket": "my-bucket"}, "staging_bucket"),
        ({"api_key": "kit_plain_value"}, "api_key"),
    ],
)  # fmt: skip
def test_a_bad_config_is_refused(config: dict[str, Any], says: str) -> None:
    from pydantic import ValidationError

    with pytest.raises((ValidationError, ConfigError)) as info:
        build_component("orchestrator", "vertex", name="vx", project=PROJECT, **config)
    assert says in str(info.value)


def test_accelerators_service_account_and_network_reach_the_job() -> None:
    vertex = build_component(
        "orchestrator", "vertex", name="vx", project=PROJECT, anonymous=True,
        endpoint_url="http://127.0.0.1:9", accelerator_type="NVIDIA_TESLA_T4",
        accelerator_count=2, service_account="job@p.iam.gserviceaccount.com",
        network="projects/123/global/networks/kitaru", staging_bucket="gs://b-1/staging",
    )  # fmt: skip
    from kitaru.components.job_orchestrator import UnitSpec

    spec = UnitSpec(name="kitaru-run-1", execution_id="E1", role="run", image="i:1",
                    arguments=["run", "E1"], environment={"A": "b"}, time_limit=60)  # fmt: skip
    job = vertex.custom_job(spec)
    pool = job["job_spec"]["worker_pool_specs"][0]
    assert pool["machine_spec"] == {"machine_type": "n1-standard-4",
                                    "accelerator_type": "NVIDIA_TESLA_T4", "accelerator_count": 2}  # fmt: skip
    assert job["job_spec"]["service_account"] == "job@p.iam.gserviceaccount.com"
    assert job["job_spec"]["network"] == "projects/123/global/networks/kitaru"
    assert job["job_spec"]["base_output_directory"] == {"output_uri_prefix": "gs://b-1/staging"}
    assert job["labels"]["kitaru-execution"] == "e1"  # label values are lowercase
    assert pool["container_spec"]["env"] == [{"name": "A", "value": "b"}]


def test_every_job_of_an_execution_is_in_one_trace(
    vx: Any, scheduler: VertexScheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenTelemetry across job units: the run job stops at the wait, a resume job finishes
    the execution; each gets TRACEPARENT (and KITARU_OTEL, the OTLP endpoint) in its spec and
    exports to a local OTLP/HTTP receiver: both jobs' spans share the execution's trace."""
    import time

    from kitaru.client import resolve_input
    from kitaru.store import default_store
    from kitaru.testing import resume_on
    from kitaru.testing.flows import waiting
    from tests.otel.otlp_receiver import OTLPReceiver

    with OTLPReceiver() as rx:
        monkeypatch.setenv("KITARU_OTEL", "1")  # passed on to the units (PASSED_SETTINGS)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rx.base_url)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "kitaru-vertex-job")
        handle = run_on(vx, waiting, {"question": "go on?"})
        deadline = time.monotonic() + 120
        while vx.status(handle.id) != "waiting":
            assert time.monotonic() < deadline, vx.status(handle.id)
            time.sleep(0.1)
        resolve_input(default_store(), handle.id, "yes", name="answer")
        resume_on(vx, handle.id)
        assert handle.wait(timeout=120) == "answered: yes"
        while len([s for s in rx.spans if s["name"] == "execution waiting"]) < 2:
            assert time.monotonic() < deadline + 60, rx.spans
            time.sleep(0.1)
        passes = [s for s in rx.spans if s["name"] == "execution waiting"]
        jobs = {s["resource"].get("service.name") for s in passes}
    assert jobs == {"kitaru-vertex-job"}
    assert len({s["trace_id"] for s in passes}) == 1, passes  # one trace for both jobs
    recorded = default_store().get_execution(handle.id).metadata["traceparent"]
    assert recorded.split("-")[1] == passes[0]["trace_id"]
    units = default_store().get_execution(handle.id).metadata["units"]
    assert [u["role"] for u in units] == ["run", "resume"]
