"""The ``sagemaker`` orchestrator: each unit of work is a SageMaker training job.

A :class:`~kitaru.components.job_orchestrator.JobOrchestrator`: the core decides what runs and
records the units; this module creates, describes, stops and reads the CloudWatch output of
training jobs. A job's container runs ``python -m kitaru.entrypoint ARGS``, which resolves the
API key (``api_key``, e.g. ``{{secret:kitaru-server.api_key}}``) and the image's secret
environment through the stack's secret store with the job's role: no value is in the job's spec.
"""

from __future__ import annotations

from typing import Any

from kitaru.components.job_orchestrator import JobOrchestrator, UnitSpec, UnitState
from kitaru.components.orchestrator import LogLine
from kitaru.errors import ConfigError
from kitaru_aws._aws import UsesAWSClient, client, describe_error, unreachable, where
from kitaru_aws.sagemaker_config import SageMakerOrchestratorConfig

#: where SageMaker writes a training job's output (streams ``<job name>/algo-1-<time>``)
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
#: SageMaker's TrainingJobStatus as a unit's phase
PHASES = {"InProgress": "running", "Stopping": "running", "Completed": "succeeded",
          "Failed": "failed", "Stopped": "stopped"}  # fmt: skip


class SageMakerOrchestrator(UsesAWSClient, JobOrchestrator):
    aws_service = "sagemaker"
    config: SageMakerOrchestratorConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.poll_longest = self.config.poll_interval

    # -- what a job gets ------------------------------------------------------------------------
    def name_prefix(self) -> str:
        return self.config.job_name_prefix

    def checkpoint_time_limit(self) -> float:
        return float(self.config.checkpoint_timeout_seconds)

    def execution_time_limit(self) -> float:
        return float(self.config.max_runtime_seconds)

    def unit_environment(self, execution: Any) -> dict[str, str]:
        # botocore reads AWS_DEFAULT_REGION, not AWS_REGION
        region = self.config.region
        return {"AWS_REGION": region, "AWS_DEFAULT_REGION": region} if region else {}

    def job_spec(self, spec: UnitSpec) -> dict[str, Any]:
        """Keyword arguments of ``CreateTrainingJob`` for one unit."""
        config = self.config
        checkpoint = spec.role == "checkpoint"
        instance = (config.checkpoint_instance_type if checkpoint else None) or config.instance_type
        job: dict[str, Any] = {
            "TrainingJobName": spec.name,
            "AlgorithmSpecification": {
                "TrainingImage": spec.image,
                "TrainingInputMode": "File",
                "ContainerEntrypoint": [config.python, "-m", "kitaru.entrypoint"],
                "ContainerArguments": spec.arguments,
            },
            "RoleArn": config.role_arn,
            "OutputDataConfig": {"S3OutputPath": config.output_path},
            "ResourceConfig": {"InstanceType": instance, "InstanceCount": 1,
                               "VolumeSizeInGB": config.volume_size_gb},
            "StoppingCondition": {"MaxRuntimeInSeconds": int(spec.time_limit)},
            "Environment": dict(spec.environment),
            "Tags": [{"Key": k, "Value": v} for k, v in {
                **config.tags, "kitaru:execution": spec.execution_id, "kitaru:role": spec.role,
                "kitaru:orchestrator": self.name}.items()],
        }  # fmt: skip
        if config.subnets or config.security_group_ids:
            job["VpcConfig"] = {"Subnets": config.subnets,
                                "SecurityGroupIds": config.security_group_ids}  # fmt: skip
        return job

    # -- units ----------------------------------------------------------------------------------
    def submit_unit(self, spec: UnitSpec) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.create_training_job(**self.job_spec(spec))
        except (BotoCoreError, ClientError) as exc:
            raise ConfigError(
                f"cannot submit a SageMaker training job for execution {spec.execution_id} "
                f"({where(self.config.region, self.config.endpoint_url)}): {describe_error(exc)}",
                hint="check role_arn, the image, the instance type quota and "
                "sagemaker:CreateTrainingJob / iam:PassRole",
            ) from None
        return {"region": self.client.meta.region_name}

    def unit_state(self, name: str) -> UnitState:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            job = self.client.describe_training_job(TrainingJobName=name)
        except ClientError as exc:
            if "ResourceNotFound" in str(exc) or "Requested resource not found" in str(exc):
                return UnitState("gone", "SageMaker no longer knows the job")
            raise self._cannot("read", name, exc, "sagemaker:DescribeTrainingJob") from None
        except BotoCoreError as exc:
            raise self._cannot("read", name, exc, "sagemaker:DescribeTrainingJob") from None
        status = str(job.get("TrainingJobStatus", "InProgress"))
        reason = job.get("FailureReason")
        return UnitState(PHASES.get(status, "running"),
                         " ".join(str(reason).split()) if reason else None)  # fmt: skip

    def stop_unit(self, name: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.stop_training_job(TrainingJobName=name)
        except ClientError as exc:
            if "ValidationException" not in str(exc):  # it ended meanwhile
                raise self._cannot("stop", name, exc, "sagemaker:StopTrainingJob") from None
        except BotoCoreError as exc:
            raise self._cannot("stop", name, exc, "sagemaker:StopTrainingJob") from None

    def unit_logs(self, name: str) -> list[LogLine]:
        """A job's output as CloudWatch Logs holds it (empty if there is none yet)."""
        from botocore.exceptions import BotoCoreError, ClientError

        logs = client("logs", self.config.region, self.config.endpoint_url)
        out: list[LogLine] = []
        try:
            streams = logs.describe_log_streams(logGroupName=LOG_GROUP,
                                                logStreamNamePrefix=f"{name}/")  # fmt: skip
            for stream in streams.get("logStreams", []):
                ask = {"logGroupName": LOG_GROUP, "logStreamName": stream["logStreamName"],
                       "startFromHead": True}  # fmt: skip
                while True:
                    page = logs.get_log_events(**ask)
                    out += [{"t": e["timestamp"] / 1000, "stream": "job", "line": e["message"]}
                            for e in page.get("events", [])]  # fmt: skip
                    token = page.get("nextForwardToken")
                    if not page.get("events") or token == ask.get("nextToken"):
                        break
                    ask["nextToken"] = token
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []  # no output yet
            raise self._cannot("read the logs of", name, exc, "logs:GetLogEvents") from None
        except BotoCoreError as exc:
            raise self._cannot("read the logs of", name, exc, "logs:GetLogEvents") from None
        return out

    def _cannot(self, verb: str, job_name: str, exc: BaseException, permission: str) -> Exception:
        return ConfigError(
            f"orchestrator {self.name!r} cannot {verb} SageMaker job {job_name} "
            f"({where(self.config.region, self.config.endpoint_url)}): {describe_error(exc)}",
            hint=f"check the region, the endpoint and the credentials ({permission})",
        )

    def verify(self) -> None:
        """SageMaker answers (one ListTrainingJobs call, no retries)."""
        try:
            self._make_client(max_attempts=1).list_training_jobs(MaxResults=1)
        except Exception as exc:
            raise unreachable(f"orchestrator {self.name!r}", "SageMaker", self.config.region,
                              self.config.endpoint_url, exc,
                              "sagemaker:ListTrainingJobs") from None  # fmt: skip
