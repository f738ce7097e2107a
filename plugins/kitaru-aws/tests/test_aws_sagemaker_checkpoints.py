"""The ``sagemaker`` orchestrator running jobs: the orchestrator contract, and
``runtime="isolated"`` checkpoints — each call a training job of its own, submitted by the
flow's job, which waits for it and reads the reply the job wrote to the artifact store.

moto records the jobs; ``sagemaker_standin`` runs a recorded job's command as a process here
(what SageMaker would run in the container), so values and replies travel through the
real S3 artifact store (moto) and the job reports to a real Kitaru server. The states moto
never shows (Failed, Stopped, still InProgress) come from a DescribeTrainingJob answer set by
the test — a hand-written stand-in for SageMaker's job state machine, which moto lacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sagemaker_standin import (
    API_KEY_REFERENCE,
    ROLE,
    aws_secret_store,
    kitaru_server,
    register_stack,
    run_on_host,
    store_api_key,
)

from kitaru.testing.contracts.orchestrator import OrchestratorContract, run_on

if TYPE_CHECKING:
    from aws_moto import Moto

    from tests.server.conftest import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with kitaru_server(tmp_path_factory.mktemp("server") / "home") as srv:
        yield srv


@pytest.fixture
def sm(
    moto: Moto, bucket: str, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    isolated_kitaru_home: Path,
) -> Iterator[Any]:  # fmt: skip
    """The stack's orchestrator in this process (connected to the server), with the jobs it
    creates recorded in ``sm.created``."""
    from kitaru.runtime.stacks import stack_of
    from kitaru.store import reset_default_store

    stack = f"sm-checkpoints-{uuid.uuid4().hex[:8]}"  # one server for the module
    register_stack(server, {"name": stack, "components": {
        "orchestrator": {"flavor": "sagemaker", "config": {
            "image": "kitaru/never-pulled:1", "role_arn": ROLE, "python": sys.executable,
            "output_path": f"s3://{bucket}/sagemaker", "region": "us-east-1",
            "endpoint_url": moto.endpoint_url, "server_url": server.url,
            "api_key": API_KEY_REFERENCE, "poll_interval": 0.05,
            "checkpoint_instance_type": "ml.c5.xlarge", "checkpoint_timeout_seconds": 600,
            "environment": {"AWS_ENDPOINT_URL": moto.endpoint_url}}},
        "artifact_store": {"flavor": "s3", "config": {
            "path": f"s3://{bucket}/kitaru", "region": "us-east-1",
            "endpoint_url": moto.endpoint_url}},
        "secret_store": aws_secret_store(moto),
    }}, tmp_path)  # fmt: skip
    store_api_key(moto, server)
    monkeypatch.setenv("KITARU_SERVER_URL", server.url)
    monkeypatch.setenv("KITARU_API_KEY", server.admin_key)
    monkeypatch.setenv("KITARU_STACK", stack)
    reset_default_store()
    orchestrator = stack_of(stack).orchestrator
    client = orchestrator.client
    real = client.create_training_job
    orchestrator.created = []

    def create(**spec: Any) -> Any:
        orchestrator.created.append(spec)
        return real(**spec)

    client.create_training_job = create  # the instance's method: moto still records the job
    yield orchestrator
    reset_default_store()


@pytest.fixture
def artifacts(tmp_path: Path) -> Any:
    """An artifact store a checkpoint's unit would write its reply to (nothing does here)."""
    from kitaru.testing import build_component

    return build_component("artifact_store", "local", path=str(tmp_path / "artifacts"))


def test_an_isolated_checkpoint_runs_as_a_job_of_its_own(
    sm: Any, moto: Moto, bucket: str, tmp_path: Path
) -> None:
    """The inputs travel in the environment (SageMaker caps an argument at 256 characters),
    the reply through the artifact store."""
    import sagemaker_flows

    from kitaru.entrypoint import main as entrypoint
    from kitaru.store import default_store

    create = sm.client.create_training_job
    ran: list[str] = []

    def create_and_run(**spec: Any) -> Any:
        answer = create(**spec)
        if spec["AlgorithmSpecification"]["ContainerArguments"][0] == "checkpoint":
            ran.append(run_on_host(spec, tmp_path / "job-home"))  # SageMaker runs it
        return answer

    sm.client.create_training_job = create_and_run
    handle = run_on(sm, sagemaker_flows.with_isolated, {"x": 3})
    (flow_job,) = sm.created
    # the flow's job, as SageMaker would start it (in this process: it submits the next job)
    assert entrypoint(flow_job["AlgorithmSpecification"]["ContainerArguments"]) == 0
    result = handle.wait(timeout=30)
    assert result["value"] == 16
    assert result["checkpoint_pid"] != result["flow_pid"] == os.getpid()
    assert "heavy got 4" in ran[0]

    _, job = sm.created
    name = job["TrainingJobName"]
    sm_client: Any = moto.client("sagemaker")
    recorded = sm_client.describe_training_job(TrainingJobName=name)
    assert name.startswith("kitaru-checkpoint-")
    assert recorded["ResourceConfig"]["InstanceType"] == "ml.c5.xlarge"
    assert recorded["StoppingCondition"]["MaxRuntimeInSeconds"] == 600
    arguments = job["AlgorithmSpecification"]["ContainerArguments"]
    assert arguments == ["checkpoint", handle.id, "heavy", "-"]
    inputs = job["Environment"]["KITARU_CHECKPOINT_INPUT"]
    assert json.loads(inputs)[2].startswith(f"s3://{bucket}/kitaru/")  # the inputs' blob
    assert "KITARU_API_KEY" not in job["Environment"]
    execution = default_store().get_execution(handle.id)
    units = execution.metadata["units"]
    assert [u["name"] for u in units if u["role"] == "checkpoint"] == [name]
    (call,) = default_store().find_calls(execution.pk, "heavy")
    assert (call.meta or {})["unit"] == name


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: boom\nat line 2"},
         "failed: AlgorithmError: boom at line 2"),
        ({"TrainingJobStatus": "Stopped"}, "was stopped"),
        (None, "completed without writing its reply"),  # moto: Completed, nothing ran
        ({"TrainingJobStatus": "InProgress"}, "ran over 1 s; stopped"),
    ],
)  # fmt: skip
def test_a_checkpoint_job_that_does_not_reply_is_an_error(
    sm: Any, answer: dict[str, str] | None, message: str, monkeypatch: pytest.MonkeyPatch,
    artifacts: Any,
) -> None:  # fmt: skip
    from kitaru.store import default_store
    from kitaru.testing.flows import tiny

    monkeypatch.setattr(sm, "stop_grace", 0.0)
    monkeypatch.setattr(
        sm, "config", sm.config.model_copy(update={"checkpoint_timeout_seconds": 1})
    )
    stopped: list[str] = []
    if answer is not None:
        sm.client.describe_training_job = lambda TrainingJobName: answer
        sm.client.stop_training_job = lambda TrainingJobName: stopped.append(TrainingJobName)
    handle = run_on(sm, tiny, {"x": 1})  # a pending execution to hang the call on
    reply = sm.run_checkpoint(default_store().get_execution(handle.id), "heavy",
                              ["json", None, "s3://nowhere/x"], artifacts)  # fmt: skip
    assert reply.error is not None
    kind, text = reply.error
    assert kind == "IsolatedUnitFailed" and message in text and "\n" not in text
    assert reply.unit["unit"].startswith("kitaru-checkpoint-")
    assert stopped == ([reply.unit["unit"]] if "ran over" in message else [])
    units = default_store().get_execution(handle.id).metadata["units"]
    assert [u["name"] for u in units if u["role"] == "checkpoint"] == [reply.unit["unit"]]


def test_a_denied_describe_is_a_one_line_error_at_once(sm: Any, artifacts: Any) -> None:
    from botocore.exceptions import ClientError

    from kitaru.errors import ConfigError
    from kitaru.testing.flows import tiny

    def denied(TrainingJobName: str) -> Any:
        error = {
            "Code": "AccessDenied",
            "Message": "not authorized to perform:\nDescribeTrainingJob",
        }
        raise ClientError({"Error": error}, "DescribeTrainingJob")

    sm.client.describe_training_job = denied
    from kitaru.store import default_store

    handle = run_on(sm, tiny, {"x": 1})
    reply = sm.run_checkpoint(default_store().get_execution(handle.id), "heavy",
                              ["json", None, "s3://nowhere/x"], artifacts)  # fmt: skip
    assert reply.error is not None
    _, text = reply.error
    assert "cannot read SageMaker job kitaru-checkpoint-" in text and "AccessDenied" in text
    assert "\n" not in text
    with pytest.raises(ConfigError, match="cannot read SageMaker job kitaru-run-") as info:
        sm.status(handle.id)  # the run job: status asks SageMaker too
    assert "\n" not in str(info.value) and "sagemaker:DescribeTrainingJob" in (
        info.value.hint or ""
    )


def test_executions_logs_shows_what_a_job_printed_before_kitaru_ran(
    sm: Any, moto: Moto, server: Server
) -> None:
    """`kitaru executions logs` of an execution whose job shipped nothing: the job's output
    from CloudWatch (written here where SageMaker would: moto runs no job)."""
    from test_aws_sagemaker import write_job_output

    from kitaru.testing.flows import tiny

    handle = run_on(sm, tiny, {"x": 1})
    lines = write_job_output(moto, sm, handle.id)
    env = server.env()
    env.pop("KITARU_STACK", None)
    shown = subprocess.run([sys.executable, "-m", "kitaru.cli", "executions", "logs", handle.id],
                           env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert [line.split(" job ", 1)[1] for line in shown.stdout.splitlines()] == lines


class TestSageMakerOrchestratorContract(OrchestratorContract):
    """Every job the orchestrator creates runs here at once (moto then says Completed)."""

    @pytest.fixture
    def orchestrator(self, sm: Any, tmp_path: Path) -> Any:
        create = sm.client.create_training_job

        def create_and_run(**spec: Any) -> Any:
            answer = create(**spec)
            run_on_host(spec, tmp_path / "job-home", check=False)
            return answer

        sm.client.create_training_job = create_and_run
        return sm

    def test_an_isolated_checkpoint_runs_as_a_unit_of_its_own(self, orchestrator: Any) -> None:
        pytest.skip(
            "moto runs no job: here the flow's job is a host process whose own orchestrator "
            "only records the checkpoint's job; test_an_isolated_checkpoint_runs_as_a_job_of_"
            "its_own runs the flow's job in this process, so the checkpoint's job runs too"
        )
