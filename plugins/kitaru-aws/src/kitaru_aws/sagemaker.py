"""The ``sagemaker`` orchestrator: one SageMaker training job per execution.

``run`` creates a pending execution and submits a training job whose container runs
``python -m kitaru_aws.job run ID`` in the flow's image: a shim that reads the Kitaru API key
from Secrets Manager (``KITARU_API_KEY_SECRET_ID``; the key is never in the job's spec) and
then runs ``python -m kitaru.entrypoint run ID``. ``resume`` submits ``... resume ID``.
A ``runtime="isolated"`` checkpoint call is a job of its own (``... checkpoint ID NAME
INPUT``), submitted by the flow's job, which waits for it and reads its reply from the
artifact store. The execution's metadata records the jobs (``sagemaker.job_name``: the
latest, ``jobs``: all of the execution's, ``checkpoint_jobs``: those of isolated checkpoints).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from kitaru.components.base import ComponentConfig
from kitaru.components.orchestrator import Capabilities, Orchestrator
from kitaru.errors import ConfigError
from kitaru_aws._aws import UsesAWSClient, client, describe_error, unreachable, where

if TYPE_CHECKING:
    from kitaru.flow import Flow
    from kitaru.handle import FlowHandle
    from kitaru.store.base import MetadataStore
    from kitaru.store.records import Execution

#: runtime settings a job inherits from this process when they are set here
PASSED_SETTINGS = ("KITARU_INLINE_LIMIT", "KITARU_LEASE_TTL", "KITARU_HEARTBEAT_INTERVAL",
                   "KITARU_ALLOW_PICKLE")  # fmt: skip
TERMINAL = ("completed", "failed", "cancelled")
#: SageMaker's TrainingJobStatus values while a container may still run
ALIVE = ("InProgress", "Stopping")
#: where SageMaker writes a training job's output (streams ``<job name>/algo-1-<time>``)
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
#: SageMaker's limit on one ContainerArguments item; longer inputs go in INPUT_ENV
MAX_ARGUMENT = 256
INPUT_ENV = "KITARU_CHECKPOINT_INPUT"
#: seconds past a checkpoint job's own limit before Kitaru stops it (SageMaker stops it first)
STOP_GRACE = 60.0
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def map_status(stored: str, shown: str, job_states: list[str] | None) -> str:
    """The execution's status from the store's record and its jobs' ``TrainingJobStatus``.

    The store decides once it says terminal or waiting (the job ends after releasing a waiting
    execution). Otherwise a live job means pending/running; jobs that all ended without the
    store hearing the end (Completed, Failed or Stopped) mean the execution crashed.
    """
    if stored in TERMINAL or stored == "waiting":
        return stored
    if job_states is None:
        return shown
    if any(state in ALIVE for state in job_states):
        return "pending" if stored == "pending" else "running"
    return "crashed"


class SageMakerOrchestratorConfig(ComponentConfig):
    #: the image executions run in (ECR); a deployment's image takes precedence
    image: str | None = None
    #: the execution role the job assumes (reads the image, the API key secret, S3)
    role_arn: str
    #: where SageMaker writes the job's (empty) model output: ``s3://bucket/prefix``
    output_path: str
    instance_type: str = "ml.m5.large"
    volume_size_gb: int = Field(default=30, ge=1)
    max_runtime_seconds: int = Field(default=24 * 3600, ge=1)
    #: job names are ``<prefix>-<verb>-<random>``
    job_name_prefix: str = "kitaru"
    region: str | None = None
    endpoint_url: str | None = None
    #: the Kitaru server the jobs report to (default: the one this client uses)
    server_url: str | None = None
    #: the Secrets Manager secret (name or ARN) holding the server's API key, as JSON
    api_key_secret_id: str
    #: its key in that JSON object
    api_key_secret_key: str = "api_key"
    #: extra environment of every job (no secrets: it is visible in DescribeTrainingJob); an
    #: empty value is left out
    environment: dict[str, str] = Field(default_factory=dict)
    #: run jobs in a VPC: both or neither
    subnets: list[str] = Field(default_factory=list)
    security_group_ids: list[str] = Field(default_factory=list)
    #: tags on every job
    tags: dict[str, str] = Field(default_factory=dict)
    #: the Python that has kitaru and kitaru-aws installed, inside the image
    python: str = "python"
    #: isolated checkpoints' jobs: instance type (default: instance_type), time limit
    checkpoint_instance_type: str | None = None
    checkpoint_timeout_seconds: int = Field(default=24 * 3600, ge=1)
    #: seconds between DescribeTrainingJob calls while a checkpoint's job runs
    poll_interval: float = Field(default=10.0, gt=0)

    @field_validator("region", "endpoint_url", "server_url", "image")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("output_path")
    @classmethod
    def _s3_url(cls, value: str) -> str:
        if not value.startswith("s3://"):
            raise ValueError("must be an s3:// URL")
        return value

    @field_validator("job_name_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        # SageMaker allows 63: the prefix, "-checkpoint-" (the longest verb) and 16 hex digits
        if not _NAME.match(value) or len(value) > 63 - len("-checkpoint-") - 16:
            raise ValueError("letters, digits and hyphens, at most 35 characters")
        return value


class SageMakerOrchestrator(UsesAWSClient, Orchestrator):
    aws_service = "sagemaker"
    capabilities = Capabilities(needs_image=True, isolated_checkpoints=True)
    config: SageMakerOrchestratorConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recording = threading.Lock()  # parallel isolated checkpoints record their jobs

    # -- what a job gets ------------------------------------------------------------------------
    def server_url(self) -> str:
        from kitaru.connection import configured

        url = self.config.server_url
        if not url:
            here = configured()
            url = here[0] if here else None
        if not url:
            raise ConfigError(
                f"orchestrator {self.name!r} needs a Kitaru server its jobs can reach",
                hint="set server_url on the orchestrator, or connect this client (`kitaru login`)",
            )
        return url

    def image_for(self, execution: Execution) -> str:
        deployment = execution.options.get("deployment") or {}
        recorded = (execution.metadata or {}).get("sagemaker") or {}
        image = deployment.get("image") or recorded.get("image") or self.config.image
        if not image:
            raise ConfigError(
                f"orchestrator {self.name!r} has no image to run execution {execution.id} in",
                hint="set `image` on the orchestrator (an ECR image with kitaru and kitaru-aws)",
            )
        return str(image)

    def environment(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in PASSED_SETTINGS if k in os.environ}
        # an empty value is unset (a template's ``${AWS_ENDPOINT_URL:-}`` on real AWS)
        env.update({k: v for k, v in self.config.environment.items() if v != ""})
        env.update({
            "KITARU_SERVER_URL": self.server_url(),
            "KITARU_API_KEY_SECRET_ID": self.config.api_key_secret_id,
            "KITARU_API_KEY_SECRET_KEY": self.config.api_key_secret_key,
            "PYTHONUNBUFFERED": "1",
        })  # fmt: skip
        if self.config.region:
            env.setdefault("AWS_REGION", self.config.region)
        return env

    def job_spec(
        self, execution: Execution, verb: str, arguments: tuple[str, ...] = (),
        environment: dict[str, str] | None = None, name: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Keyword arguments of ``CreateTrainingJob`` for ``entrypoint VERB ID ARGUMENTS...``
        (``name``: the job's, default :meth:`job_name`)."""
        config = self.config
        name = name or self.job_name(verb)
        checkpoint = verb == "checkpoint"
        instance = (config.checkpoint_instance_type if checkpoint else None) or config.instance_type
        runtime = config.checkpoint_timeout_seconds if checkpoint else config.max_runtime_seconds
        spec: dict[str, Any] = {
            "TrainingJobName": name,
            "AlgorithmSpecification": {
                "TrainingImage": self.image_for(execution),
                "TrainingInputMode": "File",
                "ContainerEntrypoint": [config.python, "-m", "kitaru_aws.job"],
                "ContainerArguments": [verb, execution.id, *arguments],
            },
            "RoleArn": config.role_arn,
            "OutputDataConfig": {"S3OutputPath": config.output_path},
            "ResourceConfig": {"InstanceType": instance, "InstanceCount": 1,
                               "VolumeSizeInGB": config.volume_size_gb},
            "StoppingCondition": {"MaxRuntimeInSeconds": runtime},
            "Environment": {**self.environment(), **(environment or {})},
            "Tags": [{"Key": k, "Value": v} for k, v in {
                **config.tags, "kitaru:execution": execution.id, "kitaru:role": verb,
                "kitaru:orchestrator": self.name}.items()],
        }  # fmt: skip
        if config.subnets or config.security_group_ids:
            spec["VpcConfig"] = {"Subnets": config.subnets,
                                 "SecurityGroupIds": config.security_group_ids}  # fmt: skip
        return spec

    def job_name(self, verb: str) -> str:
        return f"{self.config.job_name_prefix}-{verb}-{uuid.uuid4().hex[:16]}"

    def _create(self, spec: dict[str, Any], execution: Execution) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.create_training_job(**spec)
        except (BotoCoreError, ClientError) as exc:
            raise ConfigError(
                f"cannot submit a SageMaker training job for execution {execution.id} "
                f"({where(self.config.region, self.config.endpoint_url)}): {describe_error(exc)}",
                hint="check role_arn, the image, the instance type quota and "
                "sagemaker:CreateTrainingJob / iam:PassRole",
            ) from None

    def _record(self, store: MetadataStore, execution_id: str, spec: dict[str, Any],
                field: str) -> None:  # fmt: skip
        """Add the job to the execution's metadata (``field``: jobs or checkpoint_jobs)."""
        name = spec["TrainingJobName"]
        with self._recording:
            execution = store.get_execution(execution_id)
            recorded = dict((execution.metadata or {}).get("sagemaker") or {})
            recorded[field] = [*recorded.get(field, []), name]
            if field == "jobs":
                recorded.update(job_name=name, image=spec["AlgorithmSpecification"]["TrainingImage"],
                                region=self.client.meta.region_name)  # fmt: skip
            store.update_metadata(execution.pk, {"sagemaker": recorded})

    def _submit(self, store: MetadataStore, execution: Execution, verb: str) -> str:
        spec = self.job_spec(execution, verb)
        self._create(spec, execution)
        self._record(store, execution.id, spec, "jobs")
        return str(spec["TrainingJobName"])

    def jobs_of(self, execution: Execution, field: str = "jobs") -> list[str]:
        return list(((execution.metadata or {}).get("sagemaker") or {}).get(field) or [])

    def job_status(self, job_name: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            job = self.client.describe_training_job(TrainingJobName=job_name)
        except (BotoCoreError, ClientError) as exc:
            raise self._cannot("read", job_name, exc, "sagemaker:DescribeTrainingJob") from None
        return str(job["TrainingJobStatus"])

    def _cannot(self, verb: str, job_name: str, exc: BaseException, permission: str) -> Exception:
        return ConfigError(
            f"orchestrator {self.name!r} cannot {verb} SageMaker job {job_name} "
            f"({where(self.config.region, self.config.endpoint_url)}): {describe_error(exc)}",
            hint=f"check the region, the endpoint and the credentials ({permission})",
        )

    # -- the interface --------------------------------------------------------------------------
    def run(self, flow: Flow[Any], arguments: dict[str, Any]) -> FlowHandle[Any]:
        """Create a pending execution and submit its training job; return its handle at once."""
        if not self.config.image:  # before anything is created
            raise ConfigError(f"orchestrator {self.name!r} has no image",
                              hint="set `image` (an ECR image with kitaru and kitaru-aws)")  # fmt: skip
        self.server_url()
        return self.submit(flow, arguments, lambda store, ex: self._submit(store, ex, "run"))

    def resume(self, execution_id: str) -> None:
        """Continue the execution (pending, waiting or crashed) in a new training job."""
        from kitaru.store import default_store

        store = default_store()
        self._submit(store, store.get_execution(execution_id), "resume")

    def cancel(self, execution_id: str) -> None:
        """Stop the execution's jobs that are still in progress."""
        from botocore.exceptions import ClientError

        from kitaru.store import default_store

        execution = default_store().get_execution(execution_id)
        for job in [*self.jobs_of(execution), *self.jobs_of(execution, "checkpoint_jobs")]:
            if self.job_status(job) != "InProgress":
                continue
            try:
                self.client.stop_training_job(TrainingJobName=job)
            except ClientError as exc:
                if "ValidationException" not in str(exc):  # it ended meanwhile
                    raise self._cannot("stop", job, exc, "sagemaker:StopTrainingJob") from None

    def run_checkpoint(
        self, execution_id: str, checkpoint: str, inputs: list[Any]
    ) -> dict[str, Any]:
        """Run one isolated checkpoint call as its own training job; wait for it (polling
        DescribeTrainingJob) and read the reply it wrote to the artifact store."""
        from kitaru.runtime.isolated import REPLY_KEY_ENV, read_reply, reply_key
        from kitaru.runtime.stacks import stack_of
        from kitaru.store import default_store

        store = default_store()
        execution = store.get_execution(execution_id)
        name = self.job_name("checkpoint")
        key = reply_key(name)  # the job writes its reply there
        # SageMaker caps a container argument at 256 characters, an environment value at 512
        encoded = json.dumps(inputs)
        short = len(encoded) <= MAX_ARGUMENT
        spec = self.job_spec(execution, "checkpoint", (checkpoint, encoded if short else "-"),
                             {REPLY_KEY_ENV: key, **({} if short else {INPUT_ENV: encoded})},
                             name)  # fmt: skip
        try:
            self._create(spec, execution)
        except ConfigError as exc:
            return {"error": ["IsolatedUnitFailed", str(exc)]}
        self._record(store, execution_id, spec, "checkpoint_jobs")
        unit = {"sagemaker_job": name}
        try:
            job = self._wait_for(name, self.config.checkpoint_timeout_seconds)
        except ConfigError as exc:
            return {"error": ["IsolatedUnitFailed", str(exc)], "unit": unit}
        state = job.get("TrainingJobStatus", "InProgress")
        if state == "Completed":
            artifacts = stack_of(execution.options.get("stack")).artifact_store
            reply = read_reply(artifacts, key)
            if reply is None:
                return {"error": ["IsolatedUnitFailed", f"SageMaker job {name} completed without "
                                  "writing its reply"], "unit": unit}  # fmt: skip
            return {**reply, "unit": unit}
        if state == "Failed":
            reason = " ".join(str(job.get("FailureReason") or "no reason given").split())
            message = f"SageMaker job {name} failed: {reason}"
        elif state == "Stopped":
            message = f"SageMaker job {name} was stopped"
        else:
            message = (f"SageMaker job {name} ran over {self.config.checkpoint_timeout_seconds} s "
                       f"(still {state}); stopped")  # fmt: skip
        return {"error": ["IsolatedUnitFailed", message], "unit": unit}

    def _wait_for(self, name: str, timeout: float) -> dict[str, Any]:
        """The job's description once it ended; after ``timeout`` it is stopped and the last
        description returned. Connection errors are retried until then (botocore retries
        throttling itself); an error SageMaker answers (access denied) is a ConfigError."""
        from botocore.exceptions import BotoCoreError, ClientError

        deadline = time.monotonic() + timeout + STOP_GRACE
        job: dict[str, Any] = {}
        while True:
            try:
                job = self.client.describe_training_job(TrainingJobName=name)
            except ClientError as exc:
                raise self._cannot("read", name, exc, "sagemaker:DescribeTrainingJob") from None
            except BotoCoreError as exc:
                if time.monotonic() > deadline:
                    raise self._cannot("read", name, exc, "sagemaker:DescribeTrainingJob") from None
            if job.get("TrainingJobStatus") in ("Completed", "Failed", "Stopped"):
                return job
            if time.monotonic() > deadline:
                try:
                    self.client.stop_training_job(TrainingJobName=name)
                except (BotoCoreError, ClientError):
                    pass
                return job
            time.sleep(self.config.poll_interval)

    def status(self, execution_id: str) -> str:
        from kitaru.store import default_store
        from kitaru.store.records import display_status

        store = default_store()
        execution = store.get_execution(execution_id)
        if execution.status in TERMINAL or execution.status == "waiting":
            return execution.status
        jobs = self.jobs_of(execution)
        if not jobs:
            return display_status(execution, time.time())
        states = [self.job_status(job) for job in jobs]
        execution = store.get_execution(execution_id)  # after the jobs: see map_status
        return map_status(execution.status, display_status(execution, time.time()), states)

    def logs(self, execution_id: str) -> list[dict[str, Any]]:
        """The execution's captured logs; if none reached the server (the job failed before
        Kitaru ran: a missing module, no API key), its latest job's output in CloudWatch."""
        records = super().logs(execution_id)
        if records:
            return records
        from kitaru.store import default_store

        jobs = self.jobs_of(default_store().get_execution(execution_id))
        return self.job_logs(jobs[-1]) if jobs else []

    def job_logs(self, job_name: str) -> list[dict[str, Any]]:
        """A job's output as CloudWatch Logs holds it (empty if there is none yet)."""
        from botocore.exceptions import BotoCoreError, ClientError

        logs = client("logs", self.config.region, self.config.endpoint_url)
        out: list[dict[str, Any]] = []
        try:
            streams = logs.describe_log_streams(logGroupName=LOG_GROUP,
                                                logStreamNamePrefix=f"{job_name}/")  # fmt: skip
            for stream in streams.get("logStreams", []):
                ask = {"logGroupName": LOG_GROUP, "logStreamName": stream["logStreamName"],
                       "startFromHead": True}  # fmt: skip
                while True:
                    page = logs.get_log_events(**ask)
                    out += [{"t": e["timestamp"] / 1000, "stream": "job", "line": e["message"]}
                            for e in page.get("events", [])]  # fmt: skip
                    if not page.get("events") or page.get("nextForwardToken") == ask.get(
                        "nextToken"
                    ):
                        break
                    ask["nextToken"] = page["nextForwardToken"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []  # no output yet
            raise self._cannot("read the logs of", job_name, exc, "logs:GetLogEvents") from None
        except BotoCoreError as exc:
            raise self._cannot("read the logs of", job_name, exc, "logs:GetLogEvents") from None
        return out

    def verify(self) -> None:
        """SageMaker answers (one ListTrainingJobs call, no retries)."""
        try:
            self._make_client(max_attempts=1).list_training_jobs(MaxResults=1)
        except Exception as exc:
            raise unreachable(f"orchestrator {self.name!r}", "SageMaker", self.config.region,
                              self.config.endpoint_url, exc,
                              "sagemaker:ListTrainingJobs") from None  # fmt: skip
