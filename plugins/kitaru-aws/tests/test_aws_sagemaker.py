"""The ``sagemaker`` orchestrator against moto: the training job it submits (as moto records
it), the metadata it leaves on the execution, status mapping and cancel.

moto runs no container: its jobs are ``Completed`` the moment they are created, and
DescribeTrainingJob does not return the Environment sent. So these tests cannot run the
orchestrator contract; they assert the submitted spec, and use a stub client for the states
moto never shows (InProgress, stopping)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from kitaru.errors import ConfigError
from kitaru.testing import SecretsThrough, build_component, resume_on, run_on

if TYPE_CHECKING:
    from aws_moto import Moto

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/kitaru/flows:abc123"
ROLE = "arn:aws:iam::123456789012:role/kitaru-sagemaker"
API_KEY = "kit_live_SAGEMAKER_TEST_9f8e7d6c"


def orchestrator(moto: Moto, bucket: str, **extra: Any) -> Any:
    config: dict[str, Any] = {
        "image": IMAGE, "role_arn": ROLE, "output_path": f"s3://{bucket}/sagemaker",
        "region": "us-east-1", "endpoint_url": moto.endpoint_url,
        "server_url": "https://kitaru.example.com", "api_key": "{{secret:kitaru-server.api_key}}",
        "environment": {"TEAM": "agents", "AWS_ENDPOINT_URL": ""}, **extra,
    }  # fmt: skip
    secrets = SecretsThrough("aws", region="us-east-1", endpoint_url=moto.endpoint_url)
    return build_component("orchestrator", "sagemaker", name="sm", secrets=secrets, **config)


@pytest.fixture
def home(isolated_kitaru_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("KITARU_SERVER_URL", raising=False)
    monkeypatch.delenv("KITARU_API_KEY", raising=False)
    return isolated_kitaru_home


def test_run_submits_one_training_job_as_moto_records_it(
    home: Path, moto: Moto, bucket: str
) -> None:
    from kitaru.store import default_store
    from kitaru.testing.flows import tiny

    sm = orchestrator(moto, bucket)
    spec_seen: list[dict[str, Any]] = []
    real = sm.job_spec
    sm.job_spec = lambda spec: spec_seen.append(real(spec)) or spec_seen[-1]
    handle = run_on(sm, tiny, {"x": 20})

    execution = default_store().get_execution(handle.id)
    (recorded,) = execution.metadata["units"]
    assert (recorded["image"], recorded["role"]) == (IMAGE, "run")
    client: Any = moto.client("sagemaker")
    job = client.describe_training_job(TrainingJobName=recorded["name"])
    assert job["TrainingJobName"].startswith("kitaru-run-")
    assert job["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert job["RoleArn"] == ROLE
    assert job["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert job["ResourceConfig"]["InstanceCount"] == 1
    assert job["StoppingCondition"]["MaxRuntimeInSeconds"] == 24 * 3600
    assert job["OutputDataConfig"]["S3OutputPath"] == f"s3://{bucket}/sagemaker"
    tags = client.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
    assert {"Key": "kitaru:execution", "Value": handle.id} in tags

    # what moto does not echo back: the command and the environment sent
    (spec,) = spec_seen
    algorithm = spec["AlgorithmSpecification"]
    assert algorithm["ContainerEntrypoint"] == ["python", "-m", "kitaru.entrypoint"]
    assert algorithm["ContainerArguments"] == ["run", handle.id]
    env = spec["Environment"]
    assert env["KITARU_SERVER_URL"] == "https://kitaru.example.com"
    # the key as a reference, resolved inside the job through the stack's secret store
    assert json.loads(env["KITARU_SECRET_ENV"]) == {
        "KITARU_API_KEY": "{{secret:kitaru-server.api_key}}"
    }
    assert json.loads(env["KITARU_SECRET_STORE"]) == {
        "flavor": "aws",
        "config": {"region": "us-east-1", "endpoint_url": moto.endpoint_url},
    }
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["TEAM"] == "agents"
    assert "AWS_ENDPOINT_URL" not in env  # empty (a template's ${VAR:-}): left out
    assert "KITARU_API_KEY" not in env  # the key itself is never in the job's spec

    # moto's job is Completed at once while the store still says pending: nobody ran it
    assert sm.status(handle.id) == "crashed"


def test_resume_submits_another_job(home: Path, moto: Moto, bucket: str) -> None:
    from kitaru.store import default_store
    from kitaru.testing.flows import tiny

    sm = orchestrator(moto, bucket)
    handle = run_on(sm, tiny, {"x": 1})
    resume_on(sm, handle.id)
    units = default_store().get_execution(handle.id).metadata["units"]
    assert [u["role"] for u in units] == ["run", "resume"]
    assert units[1]["name"].startswith("kitaru-resume-")
    # `kitaru executions retry`: a unit that runs the failed execution again
    from kitaru.runtime.launch import launch

    launch(default_store(), default_store().get_execution(handle.id), "retry", orchestrator=sm)
    units = default_store().get_execution(handle.id).metadata["units"]
    assert units[-1]["role"] == "retry" and units[-1]["name"].startswith("kitaru-retry-")


def test_every_job_of_a_traced_execution_joins_its_trace(
    home: Path, moto: Moto, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run job started inside the caller's span gets that span as TRACEPARENT; once the
    execution recorded its trace (its first pass does), a resume job gets that one. This
    process's OTLP settings go with them."""
    from opentelemetry.sdk.trace import TracerProvider

    from kitaru.store import default_store
    from kitaru.testing.flows import tiny
    from kitaru.tracecontext import METADATA_KEY, TRACEPARENT_ENV

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "agents")
    sm = orchestrator(moto, bucket)
    environments: list[dict[str, str]] = []
    real = sm.job_spec

    def job_spec(spec: Any) -> dict[str, Any]:
        out: dict[str, Any] = real(spec)
        environments.append(out["Environment"])
        return out

    sm.job_spec = job_spec
    tracer = TracerProvider().get_tracer("app")  # not the global provider
    with tracer.start_as_current_span("app request") as app:
        handle = run_on(sm, tiny, {"x": 1})
    caller = app.get_span_context()
    assert environments[0][TRACEPARENT_ENV].split("-")[1:3] == [f"{caller.trace_id:032x}",
                                                                f"{caller.span_id:016x}"]  # fmt: skip
    assert environments[0]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4318"
    assert environments[0]["OTEL_SERVICE_NAME"] == "agents"
    store = default_store()
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    store.update_metadata(store.get_execution(handle.id).pk, {METADATA_KEY: trace})
    resume_on(sm, handle.id)
    assert len(environments) == 2 and environments[1][TRACEPARENT_ENV] == trace


def test_submit_failure_fails_the_execution_in_one_line(
    home: Path, moto: Moto, bucket: str
) -> None:
    from kitaru.store import default_store
    from kitaru.testing.flows import tiny

    sm = orchestrator(moto, bucket, endpoint_url="http://127.0.0.1:9")
    with pytest.raises(ConfigError) as info:
        run_on(sm, tiny, {"x": 1})
    assert "cannot submit a SageMaker training job" in str(info.value)
    assert "\n" not in str(info.value)
    (execution,) = default_store().list_executions()
    assert execution.status == "failed"


@pytest.mark.parametrize(("stored", "jobs", "expected"), [
    ("pending", ["InProgress"], "pending"),
    ("running", ["InProgress"], "running"),
    ("running", ["Completed", "Stopping"], "running"),
    ("running", ["Completed"], "crashed"),
    ("running", ["Failed"], "crashed"),
    ("completed", ["Completed"], "completed"),
    ("waiting", ["Completed"], "waiting"),
    ("failed", ["Failed"], "failed"),
])  # fmt: skip
def test_status_mapping(stored: str, jobs: list[str], expected: str) -> None:
    from kitaru_aws.sagemaker import PHASES

    from kitaru.components.job_orchestrator import UnitState, map_status

    assert map_status(stored, stored, [UnitState(PHASES[j]) for j in jobs]) == expected


class StubClient:
    """Jobs in the states moto never shows; records stop calls."""

    def __init__(self, states: dict[str, str]) -> None:
        self.states = states
        self.stopped: list[str] = []

    def describe_training_job(self, TrainingJobName: str) -> dict[str, str]:
        return {"TrainingJobStatus": self.states[TrainingJobName]}

    def stop_training_job(self, TrainingJobName: str) -> None:
        self.stopped.append(TrainingJobName)


def test_cancel_stops_the_jobs_in_progress(home: Path, moto: Moto, bucket: str) -> None:
    from kitaru.store import default_store
    from kitaru.testing.flows import tiny

    sm = orchestrator(moto, bucket)
    handle = run_on(sm, tiny, {"x": 1})
    resume_on(sm, handle.id)
    first, second = [u["name"] for u in default_store().get_execution(handle.id).metadata["units"]]
    stub = StubClient({first: "Failed", second: "InProgress"})
    sm._client = stub
    assert sm.status(handle.id) == "pending"
    sm.cancel(handle.id)
    assert stub.stopped == [second]


def test_verify(moto: Moto, bucket: str) -> None:
    orchestrator(moto, bucket).verify()
    with pytest.raises(ConfigError, match=r"SageMaker.*unreachable.*EndpointConnectionError"):
        orchestrator(moto, bucket, endpoint_url="http://127.0.0.1:9").verify()


@pytest.mark.parametrize("bad", [
    {"output_path": "bucket/x"}, {"job_name_prefix": "no_underscores"}, {"api_key": "x"},
    {"api_key_secret_id": "kitaru/kitaru-server"},  # the old setting: says what replaced it
    # kitaru-checkpoint-<16 hex> must fit SageMaker's 63 characters
    {"job_name_prefix": "k" * 36},
])  # fmt: skip
def test_config_is_checked(bad: dict[str, str]) -> None:
    from kitaru_aws.sagemaker_config import SageMakerOrchestratorConfig

    good = {"role_arn": ROLE, "output_path": "s3://b/p"}
    with pytest.raises(ValidationError):
        SageMakerOrchestratorConfig(**{**good, **bad})


def test_a_job_resolves_its_api_key_through_secrets_manager(moto: Moto) -> None:
    """``python -m kitaru.entrypoint`` in the job: the key from Secrets Manager (the stack's aws
    secret store, the job's own credentials) before anything else runs."""
    client: Any = moto.client("secretsmanager")
    client.create_secret(Name="kitaru/kitaru-server", SecretString=json.dumps({"api_key": API_KEY}))
    code = (
        "import os, sys, kitaru.runtime.worker as w\n"
        "w.main = lambda argv: print(os.environ['KITARU_API_KEY'] == "
        f"{API_KEY!r}, argv) or 0\n"
        "from kitaru.entrypoint import main\n"
        "sys.exit(main(['run', 'ex-1']))\n"
    )
    store = {"flavor": "aws", "config": {"region": "us-east-1", "endpoint_url": moto.endpoint_url}}
    env = {**os.environ, "KITARU_SECRET_STORE": json.dumps(store),
           "KITARU_SECRET_ENV": json.dumps({"KITARU_API_KEY": "{{secret:kitaru-server.api_key}}"})}  # fmt: skip
    env.pop("KITARU_API_KEY", None)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("True ['ex-1'")
    # a missing secret: one line naming the variable, the reference and the store; exit 1
    env["KITARU_SECRET_ENV"] = json.dumps({"KITARU_API_KEY": "{{secret:nope.api_key}}"})
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert "cannot resolve {{secret:nope.api_key}} for KITARU_API_KEY through the aws" in line


def test_logs_fall_back_to_the_jobs_output_in_cloudwatch(
    home: Path, moto: Moto, bucket: str
) -> None:
    """A job that failed before Kitaru ran shipped nothing: its CloudWatch stream is shown.
    moto runs no job, so the test writes the stream where SageMaker would."""
    from kitaru.testing.flows import tiny

    sm = orchestrator(moto, bucket)
    handle = run_on(sm, tiny, {"x": 1})
    assert sm.logs(handle.id) == []  # no log group yet: nothing, no error
    lines = write_job_output(moto, sm, handle.id)
    assert [r["line"] for r in sm.logs(handle.id)] == lines


def write_job_output(moto: Moto, sm: Any, execution_id: str) -> list[str]:
    """What SageMaker writes to CloudWatch for a job whose container could not start Kitaru."""
    from kitaru_aws.sagemaker import LOG_GROUP

    from kitaru.store import default_store

    job = sm.units_of(default_store().get_execution(execution_id))[-1]["name"]
    logs: Any = moto.client("logs")
    try:
        logs.create_log_group(logGroupName=LOG_GROUP)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    stream = f"{job}/algo-1-1700000000"
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    lines = ["Traceback (most recent call last):", "ModuleNotFoundError: No module named 'kitaru'"]
    now = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
    logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=[
        {"timestamp": now + i, "message": m} for i, m in enumerate(lines)])  # fmt: skip
    return lines
