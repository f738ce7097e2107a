"""The ``azureml`` orchestrator running command jobs: the orchestrator contract (routing,
resume, isolated checkpoints, crash recovery, retry, cancel) and what AzureML says of a job.

azure-ai-ml's ``MLClient`` sends its real requests to ``fake_azure`` (the environment version
PUT, the job PUT, GET, cancel POST, list); ``azureml_standin`` runs each recorded job's command
as a process here, as AzureML would run it on the compute, so values and replies travel
through Azurite, the API key comes from the Key Vault fake inside the job (through the
compute's managed identity) and the job reports to a real Kitaru server. The statuses the fake
never moves to by itself (Running, Completed, Failed, Canceled) are set by that stand-in, or by
a test — the hand-written part: AzureML's job state machine."""

from __future__ import annotations

import json
import shlex
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from azureml_standin import (
    API_KEY_REFERENCE,
    AzureMLScheduler,
    kitaru_server,
    on_host,
    register_stack,
)
from fake_azure import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE

from kitaru.errors import ConfigError
from kitaru.testing import build_component
from kitaru.testing.contracts.orchestrator import OrchestratorContract, run_on

if TYPE_CHECKING:
    from azure_standins import Azurite
    from fake_azure import FakeAzure

    from tests.server.conftest import Server

WORKSPACE_CONFIG = {"subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP,
                    "workspace_name": WORKSPACE}  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with kitaru_server(tmp_path_factory.mktemp("server") / "home") as srv:
        yield srv


def azureml_stack(name: str, server: Server, fake: FakeAzure, azurite: Azurite, container: str,
                  **orchestrator: Any) -> dict[str, Any]:  # fmt: skip
    """AzureML + Blob Storage + Key Vault on the stand-ins; jobs run this venv's python."""
    return {"name": name, "components": {
        "orchestrator": {"flavor": "azureml", "config": {
            **WORKSPACE_CONFIG, "resource_manager_endpoint": fake.url,
            "image": "kitaru/never-pulled:1", "python": sys.executable, "server_url": server.url,
            "api_key": API_KEY_REFERENCE, "poll_interval": 0.05, "checkpoint_compute": "gpu-cluster",
            "checkpoint_timeout_seconds": 600, "tags": {"team": "agents"},
            "instance_type": "Standard_D2s_v3", "checkpoint_instance_type": "Standard_NC6s_v3",
            **orchestrator}},
        "artifact_store": {"flavor": "azure", "config": {
            "path": f"az://{container}/kitaru", "connection_string": "{{secret:blob.conn}}"}},
        "secret_store": {"flavor": "azure", "config": {
            "vault_url": fake.vault_url, "verify_challenge_resource": False}},
    }}  # fmt: skip


def key_vault(fake: FakeAzure) -> Any:
    return build_component("secret_store", "azure", vault_url=fake.vault_url,
                           verify_challenge_resource=False)  # fmt: skip


@pytest.fixture
def aml(
    fake: FakeAzure, azurite: Azurite, container: str, server: Server, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, isolated_kitaru_home: Path,
) -> Iterator[Any]:  # fmt: skip
    """The stack's orchestrator in this process (connected to the server); the server's key
    and Azurite's connection string in Key Vault, where the jobs resolve them."""
    from kitaru.runtime.stacks import stack_of
    from kitaru.store import reset_default_store

    stack = f"aml-{uuid.uuid4().hex[:8]}"  # one server for the module
    register_stack(server, azureml_stack(stack, server, fake, azurite, container), tmp_path)
    secrets = key_vault(fake)
    secrets.set("kitaru-server", {"api_key": server.admin_key})
    secrets.set("blob", {"conn": azurite.connection_string})
    monkeypatch.setenv("KITARU_SERVER_URL", server.url)
    monkeypatch.setenv("KITARU_API_KEY", server.admin_key)
    monkeypatch.setenv("KITARU_STACK", stack)
    reset_default_store()
    yield stack_of(stack).orchestrator
    reset_default_store()


@pytest.fixture
def scheduler(fake: FakeAzure, tmp_path: Path) -> Iterator[AzureMLScheduler]:
    """AzureML's scheduler stand-in: every job the fake records runs as a process here."""
    with AzureMLScheduler(fake, on_host(tmp_path / "job-home")).running() as running:
        yield running
    assert not running.errors, running.errors


class TestAzureMLOrchestratorContract(OrchestratorContract):
    """Every job the orchestrator (or a job's own orchestrator) creates runs here."""

    execution_timeout = 120.0

    @pytest.fixture
    def orchestrator(self, aml: Any, scheduler: AzureMLScheduler) -> Any:
        return aml


def test_an_isolated_checkpoint_runs_as_a_command_job_of_its_own(
    aml: Any, scheduler: AzureMLScheduler, fake: FakeAzure
) -> None:
    """What the jobs look like in AzureML: names, tags, compute, image, time limit, the inputs
    in the environment, no secret value anywhere in a job."""
    from kitaru.store import default_store
    from kitaru.testing.flows import apart

    handle = run_on(aml, apart, {"x": 5})
    assert handle.wait(timeout=120) == 16
    scheduler.wait_idle(2)
    units = default_store().get_execution(handle.id).metadata["units"]
    run_unit, checkpoint_unit = units
    assert (run_unit["role"], checkpoint_unit["role"]) == ("run", "checkpoint")
    assert list(fake.jobs) == [run_unit["name"], checkpoint_unit["name"]]
    assert checkpoint_unit["job"] == checkpoint_unit["name"]
    assert checkpoint_unit["studio_url"].startswith(
        f"https://ml.azure.com/runs/{checkpoint_unit['name']}"
    )
    job = fake.jobs[checkpoint_unit["name"]]["properties"]
    assert job["jobType"] == "Command" and job["experimentName"] == "kitaru"
    assert job["computeId"].endswith("/computes/gpu-cluster")
    run_job = fake.jobs[run_unit["name"]]["properties"]
    assert run_job["computeId"].endswith("/computes/cpu-cluster")
    assert job["resources"]["instanceType"] == "Standard_NC6s_v3"  # checkpoint_instance_type
    assert run_job["resources"]["instanceType"] == "Standard_D2s_v3"  # instance_type
    assert job["limits"]["timeout"] == "PT10M"
    assert job["identity"]["identityType"] == "Managed"
    assert job["tags"] == {"team": "agents", "kitaru-role": "checkpoint",
                           "kitaru-execution": handle.id, "kitaru-orchestrator": aml.name}  # fmt: skip
    assert fake.job_image(fake.jobs[checkpoint_unit["name"]]) == "kitaru/never-pulled:1"
    assert shlex.split(job["command"])[1:] == ["-m", "kitaru.entrypoint", "checkpoint",
                                                handle.id, "triple_apart", "-"]  # fmt: skip
    env = job["environmentVariables"]
    assert json.loads(env["KITARU_CHECKPOINT_INPUT"])
    assert json.loads(env["KITARU_SECRET_ENV"]) == {"KITARU_API_KEY": API_KEY_REFERENCE}
    assert json.loads(env["KITARU_SECRET_STORE"])["flavor"] == "azure"
    assert "KITARU_API_KEY" not in env  # a reference, resolved inside the job
    assert [j["properties"]["status"] for j in fake.jobs.values()] == ["Completed"] * 2
    # the checkpoint's job was submitted from inside the flow's job, as its managed identity
    puts = [p for m, path, p in fake.requests if m == "PUT" and "/jobs/" in path]
    assert puts == ["msi:system", "msi:system"]


def test_no_secret_value_is_in_any_job(
    aml: Any, scheduler: AzureMLScheduler, fake: FakeAzure, server: Server, azurite: Azurite
) -> None:
    from kitaru.testing.flows import tiny

    assert run_on(aml, tiny, {"x": 3}).wait(timeout=120) == 7
    (job,) = fake.jobs.values()
    text = json.dumps(job) + json.dumps(list(fake.environments.values()))
    assert server.admin_key not in text and azurite.connection_string not in text


@pytest.mark.parametrize(
    ("status", "says"),
    [
        ("Failed", "failed: AzureML job status Failed"),
        ("Canceled", "was stopped: AzureML job status Canceled"),
        ("Completed", "completed without writing its reply"),
        (None, "ran over 1 s; stopped"),  # never scheduled: NotStarted
    ],
)
def test_a_checkpoint_job_that_does_not_reply_is_an_error(
    aml: Any, fake: FakeAzure, monkeypatch: pytest.MonkeyPatch, status: str | None, says: str
) -> None:
    """No scheduler here: the test sets the job's status as AzureML would have."""
    from kitaru.store import default_store
    from kitaru.testing.flows import tiny

    monkeypatch.setattr(aml, "stop_grace", 0.0)
    monkeypatch.setattr(
        aml, "config", aml.config.model_copy(update={"checkpoint_timeout_seconds": 1})
    )
    real = aml.submit_unit

    def submit_and_end(spec: Any) -> dict[str, Any]:
        facts = real(spec)
        if status and spec.role == "checkpoint":
            fake.set_status(facts["job"], status)
        return facts

    monkeypatch.setattr(aml, "submit_unit", submit_and_end)
    handle = run_on(aml, tiny, {"x": 1})  # a pending execution to hang the call on
    artifacts = build_component("artifact_store", "local", path=str(Path(aml.name)))
    reply = aml.run_checkpoint(default_store().get_execution(handle.id), "heavy",
                               ["json", None, "az://nowhere/x"], artifacts)  # fmt: skip
    assert reply.error is not None
    kind, text = reply.error
    assert kind == "IsolatedUnitFailed" and says in text and "\n" not in text, text
    _, job = fake.jobs.values()
    # ran over: the orchestrator cancelled it
    assert job["properties"]["status"] == (status or "CancelRequested")


def test_a_failed_job_is_a_crash_with_azuremls_status(aml: Any, fake: FakeAzure) -> None:
    from kitaru.testing.flows import tiny

    handle = run_on(aml, tiny, {"x": 1})
    (name,) = fake.jobs
    assert aml.status(handle.id) == "pending"
    fake.set_status(name, "Running")
    assert aml.status(handle.id) == "pending"  # running, but the flow has not started yet
    fake.set_status(name, "Failed")
    assert aml.status(handle.id) == "crashed"
    assert aml.failure(handle.id) == f"{name} failed: AzureML job status Failed"


def test_another_process_finds_a_job_by_its_name_and_an_unknown_one_is_gone(
    aml: Any, fake: FakeAzure
) -> None:
    from kitaru.testing.flows import tiny

    run_on(aml, tiny, {"x": 1})
    (name,) = fake.jobs
    fake.set_status(name, "Completed")
    other = build_component("orchestrator", "azureml", name="other",
                            resource_manager_endpoint=fake.url, **WORKSPACE_CONFIG)  # fmt: skip
    assert other.unit_state(name).phase == "succeeded"
    assert other.unit_state("kitaru-run-0000000000000000").phase == "gone"  # AzureML's 404
    other.stop_unit("kitaru-run-0000000000000000")  # nothing to cancel: no error
    other.stop_unit(name)  # ended: AzureML refuses (400), nothing to do


def test_a_refused_submission_names_the_action(fake: FakeAzure) -> None:
    """ARM's AuthorizationFailed (403), as the fake answers it for a denied action."""
    from kitaru.components.job_orchestrator import UnitSpec

    fake.denied.add("Microsoft.MachineLearningServices/workspaces/jobs/write")
    aml = build_component("orchestrator", "azureml", name="aml",
                          resource_manager_endpoint=fake.url, **WORKSPACE_CONFIG)  # fmt: skip
    spec = UnitSpec(name="kitaru-run-1", execution_id="e1", role="run", image="i:1",
                    arguments=["run", "e1"], environment={}, time_limit=60)  # fmt: skip
    with pytest.raises(ConfigError) as info:
        aml.submit_unit(spec)
    text = f"{info.value} ({info.value.hint})"
    assert "\n" not in text
    assert "orchestrator 'aml' cannot submit a command job for execution e1" in text
    assert "Microsoft.MachineLearningServices/workspaces/jobs/write refused" in text


def test_verify_with_the_endpoint_down_is_one_line_in_seconds() -> None:
    import time

    from kitaru.testing.services import free_port

    endpoint = f"https://127.0.0.1:{free_port()}"
    aml = build_component("orchestrator", "azureml", name="aml",
                          resource_manager_endpoint=endpoint, **WORKSPACE_CONFIG)  # fmt: skip
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        aml.verify()
    assert time.monotonic() - started < 10
    text = f"{info.value} ({info.value.hint})"
    assert "\n" not in text and f"cannot list jobs (AzureML workspace {WORKSPACE}" in text
    assert endpoint in text


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"tags": {"kitaru-role": "x"}}, "Kitaru's own"),
        ({"job_name_prefix": "Kitaru"}, "job_name_prefix"),
        ({"resource_manager_endpoint": "http://127.0.0.1:1"}, "resource_manager_endpoint"),
        ({"api_key": "kit_plain_value"}, "api_key"),
        ({"client_secret": "{{secret:sp.secret}}"}, "needs tenant_id and client_id"),
    ],
)
def test_a_bad_config_is_refused(config: dict[str, Any], says: str) -> None:
    from pydantic import ValidationError

    with pytest.raises((ValidationError, ConfigError)) as info:
        build_component("orchestrator", "azureml", name="aml", **{**WORKSPACE_CONFIG, **config})
    assert says in str(info.value)


def test_a_custom_cloud_never_leaks_into_child_processes(fake: FakeAzure) -> None:
    """azure-ai-ml writes the current cloud into the environment and reads it at import: a
    custom cloud's name inherited by a child process would break its import of azure-ai-ml."""
    import os
    import subprocess

    os.environ["AZUREML_CURRENT_CLOUD"] = "KitaruStaleFromAParent"
    aml = build_component("orchestrator", "azureml", name="aml",
                          resource_manager_endpoint=fake.url, **WORKSPACE_CONFIG)  # fmt: skip
    assert aml.client is not None  # imports azure-ai-ml despite the stale name, and registers
    assert not os.environ.get("AZUREML_CURRENT_CLOUD", "").startswith("Kitaru")
    child = subprocess.run([sys.executable, "-c", "import azure.ai.ml"], capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    assert child.returncode == 0, child.stderr[-500:]


def unit_spec(name: str, role: str = "run") -> Any:
    from kitaru.components.job_orchestrator import UnitSpec

    return UnitSpec(name=name, execution_id="e1", role=role, image="i:1",
                    arguments=[role, "e1"], environment={}, time_limit=60)  # fmt: skip


@pytest.mark.parametrize(
    ("config", "run", "checkpoint"),
    [
        ({}, None, None),
        ({"instance_type": "Standard_D2s_v3"}, "Standard_D2s_v3", "Standard_D2s_v3"),
        ({"instance_type": "Standard_D2s_v3", "checkpoint_instance_type": "Standard_NC6s_v3"},
         "Standard_D2s_v3", "Standard_NC6s_v3"),
    ],
)  # fmt: skip
def test_each_role_runs_on_its_instance_type(
    fake: FakeAzure, config: dict[str, str], run: str | None, checkpoint: str | None
) -> None:
    """``resources.instanceType`` of the job AzureML receives: a checkpoint's falls back to
    ``instance_type``; none set, none sent (the compute's own)."""
    aml = build_component("orchestrator", "azureml", name="aml",
                          resource_manager_endpoint=fake.url, **WORKSPACE_CONFIG, **config)  # fmt: skip
    for role, expected in (("run", run), ("checkpoint", checkpoint)):
        aml.submit_unit(unit_spec(f"kitaru-{role}-1", role))
        resources = fake.jobs[f"kitaru-{role}-1"]["properties"].get("resources") or {}
        assert resources.get("instanceType") == expected, (role, resources)


def test_the_fake_refuses_azureml_requests_without_its_token(fake: FakeAzure) -> None:
    """ARM's 401s: no Authorization header (AuthenticationFailed), a token it never issued
    (InvalidAuthenticationToken); nothing recorded."""
    jobs = f"{fake.workspace_path}/jobs"
    for headers, code in (({}, "AuthenticationFailed"),
                          ({"Authorization": "Bearer not-issued"}, "InvalidAuthenticationToken")):  # fmt: skip
        status, body, answer = fake.handle("GET", jobs, headers, b"")
        assert (status, body["error"]["code"]) == (401, code)
        assert answer["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    assert fake.requests == []


def test_a_token_azureml_refuses_is_one_line_naming_the_job(fake: FakeAzure) -> None:
    """The client's token stops being accepted (the fake forgets the tokens it issued): the
    orchestrator's read of a job is a one-line error naming it, not a traceback."""
    aml = build_component("orchestrator", "azureml", name="aml",
                          resource_manager_endpoint=fake.url, **WORKSPACE_CONFIG)  # fmt: skip
    aml.submit_unit(unit_spec("kitaru-run-1"))
    fake.tokens.clear()
    with pytest.raises(ConfigError) as info:
        aml.unit_state("kitaru-run-1")
    text = f"{info.value} ({info.value.hint})"
    assert "\n" not in text and "orchestrator 'aml' cannot read job kitaru-run-1" in text
    assert "ClientAuthenticationError" in text


def test_a_jobs_output_comes_back_as_its_unit_logs(fake: FakeAzure) -> None:
    """Read from the run history's log files, as ``jobs.stream`` reads them, without waiting:
    none before the job ran, its user_logs once it ended, none for a job AzureML forgot."""
    aml = build_component("orchestrator", "azureml", name="aml",
                          resource_manager_endpoint=fake.url, **WORKSPACE_CONFIG)  # fmt: skip
    aml.submit_unit(unit_spec("kitaru-run-1"))
    assert aml.unit_logs("kitaru-run-1") == []
    fake.set_logs("kitaru-run-1", "starting\nsh: 1: python: not found\n")
    fake.set_status("kitaru-run-1", "Failed")
    assert aml.unit_logs("kitaru-run-1") == [
        {"stream": "azureml", "line": "starting"},
        {"stream": "azureml", "line": "sh: 1: python: not found"},
    ]
    assert aml.unit_logs("kitaru-run-0000000000000000") == []
    reads = [p for m, p, _ in fake.requests if "/history/v1.0/" in p]
    assert reads and all(p.endswith("/details") for p in reads)


def test_a_job_that_cannot_start_kitaru_leaves_its_output_as_the_executions_logs(
    aml: Any, scheduler: AzureMLScheduler, fake: FakeAzure, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's command fails before Kitaru runs in it (no such python in the image): nothing
    reached Kitaru's log store, so the execution's logs are what the job printed, read back
    from AzureML."""
    import time

    from kitaru.testing.flows import tiny

    monkeypatch.setattr(aml, "config", aml.config.model_copy(update={"python": "/no/such/python"}))
    handle = run_on(aml, tiny, {"x": 1})
    deadline = time.monotonic() + 60
    while aml.status(handle.id) != "crashed":
        assert time.monotonic() < deadline, aml.status(handle.id)
        time.sleep(0.1)
    lines = aml.logs(handle.id)
    assert lines and all(line["stream"] == "azureml" for line in lines)
    assert any("/no/such/python" in line["line"] and "not found" in line["line"]
               for line in lines), lines  # fmt: skip
