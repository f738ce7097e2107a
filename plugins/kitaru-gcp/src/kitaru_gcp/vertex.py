"""The ``vertex`` orchestrator: each unit of work is a Vertex AI CustomJob (``JobServiceClient``,
REST transport), on the :class:`~kitaru.components.job_orchestrator.JobOrchestrator` base.

A job runs ``python -m kitaru.entrypoint ARGS``, which resolves the API key and the image's
secret environment through the stack's secret store as the job's service account: no secret
value is in a job's spec. Vertex AI names a job itself (``.../customJobs/ID``): the unit's name
is its display name and ``kitaru-unit`` label; the resource name is recorded on the unit and
learned back whenever the base reads the records (:meth:`units_of`), else found by display name.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from kitaru.components.job_orchestrator import JobOrchestrator, UnitSpec, UnitState
from kitaru.components.orchestrator import LogLine
from kitaru.errors import ConfigError
from kitaru_gcp import _gcp
from kitaru_gcp._gcp import CALL_TIMEOUT
from kitaru_gcp.vertex_config import VertexOrchestratorConfig, label

LOGS_EXPLORER = "https://console.cloud.google.com/logs/query;query="
#: a job's state as a unit's phase; a state not listed (a new one) counts as running
PHASES = {"JOB_STATE_UNSPECIFIED": "pending", "JOB_STATE_QUEUED": "pending",
          "JOB_STATE_PENDING": "pending", "JOB_STATE_SUCCEEDED": "succeeded",
          "JOB_STATE_FAILED": "failed", "JOB_STATE_EXPIRED": "failed",
          "JOB_STATE_CANCELLING": "stopped", "JOB_STATE_CANCELLED": "stopped"}  # fmt: skip


class VertexOrchestrator(JobOrchestrator):
    config: VertexOrchestratorConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.poll_longest = self.config.poll_interval
        self._client: Any = None
        self._project: str | None = None
        self._jobs: dict[str, str] = {}  # unit name -> the job's resource name

    @property
    def endpoint(self) -> str:
        regional = f"https://{self.config.location}-aiplatform.googleapis.com"
        return self.config.endpoint_url or regional

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.api_core.client_options import ClientOptions
            from google.auth.credentials import AnonymousCredentials
            from google.cloud.aiplatform_v1 import JobServiceClient

            credentials, self._project = _gcp.credentials_for(self, self.config)
            if not self._project:
                raise ConfigError(f"orchestrator {self.name!r} has no project", hint="set `project`"
                                  " (or GOOGLE_CLOUD_PROJECT, or credentials naming one)")  # fmt: skip
            # REST: one transport for Google and drongo, and no gRPC channel to survive a fork
            self._client = JobServiceClient(
                transport="rest", credentials=credentials or AnonymousCredentials(),
                client_options=ClientOptions(api_endpoint=self.endpoint))  # fmt: skip
        return self._client

    @property
    def project(self) -> str:
        self.client  # noqa: B018 - making the client finds the project
        return str(self._project)

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.config.location}"

    # -- what a job gets ------------------------------------------------------------------------
    def unit_environment(self, execution: Any) -> dict[str, str]:
        # the job's own Google calls (its secret store, artifact store) find the project
        return {"GOOGLE_CLOUD_PROJECT": self.project}

    def execution_time_limit(self) -> float:
        return float(self.config.timeout_seconds)  # scheduling.timeout of a run/resume job

    def checkpoint_time_limit(self) -> float:
        return float(self.config.checkpoint_timeout_seconds)

    def name_prefix(self) -> str:  # display names, and the kitaru-unit label
        return self.config.job_name_prefix

    def custom_job(self, spec: UnitSpec) -> dict[str, Any]:
        """The CustomJob (proto-JSON field names) of one unit."""
        c = self.config
        checkpoint = c.checkpoint_machine_type if spec.role == "checkpoint" else None
        machine_spec: dict[str, Any] = {"machine_type": checkpoint or c.machine_type}
        if c.accelerator_type:
            machine_spec |= {"accelerator_type": c.accelerator_type,
                             "accelerator_count": c.accelerator_count}  # fmt: skip
        container = {"image_uri": spec.image, "command": [c.python, "-m", "kitaru.entrypoint"],
                     "args": spec.arguments,
                     "env": [{"name": k, "value": v} for k, v in spec.environment.items()]}  # fmt: skip
        job_spec: dict[str, Any] = {
            "worker_pool_specs": [{"machine_spec": machine_spec, "replica_count": 1,
                                   "disk_spec": {"boot_disk_size_gb": c.boot_disk_size_gb},
                                   "container_spec": container}],
            # a restarted worker would run the unit twice: Kitaru's leases recover instead
            "scheduling": {"timeout": {"seconds": int(spec.time_limit)},
                           "restart_job_on_worker_restart": False},
        }  # fmt: skip
        optional = {"service_account": c.service_account, "network": c.network,
                    "base_output_directory": c.staging_bucket and {"output_uri_prefix": c.staging_bucket}}  # fmt: skip
        job_spec |= {k: v for k, v in optional.items() if v}
        labels = {**c.labels, "kitaru-unit": spec.name, "kitaru-role": spec.role,
                  "kitaru-execution": label(spec.execution_id),
                  "kitaru-orchestrator": label(self.name)}  # fmt: skip
        return {"display_name": spec.name, "labels": labels, "job_spec": job_spec}

    # -- units ----------------------------------------------------------------------------------
    def submit_unit(self, spec: UnitSpec) -> dict[str, Any]:
        client, parent = self.client, self.parent  # a ConfigError (no credentials) as it is
        try:
            job = client.create_custom_job(parent=parent, custom_job=self.custom_job(spec),
                                           timeout=CALL_TIMEOUT)  # fmt: skip
        except Exception as exc:
            raise self._cannot(f"submit a CustomJob for execution {spec.execution_id}", exc,
                               "aiplatform.customJobs.create", "the image, the machine type "
                               "quota, the service account (iam.serviceAccounts.actAs) and ") from None  # fmt: skip
        self._jobs[spec.name] = job.name
        # where the job's output is: Cloud Logging, resource ml_job, by the job's numeric id
        query = f'resource.type="ml_job" resource.labels.job_id="{job.name.rsplit("/", 1)[-1]}"'
        url = f"{LOGS_EXPLORER}{quote(query)}?project={self._project}"
        return {"job": job.name, "logs_filter": query, "logs_url": url}

    def units_of(self, execution: Any) -> list[dict[str, Any]]:
        units = super().units_of(execution)
        self._jobs.update({u["name"]: u["job"] for u in units if u.get("job")})
        return units

    def _job_name(self, name: str) -> str | None:
        """The resource name of unit ``name``'s job: known, else by its display name (the
        filter narrows on Google; the comparison holds wherever the filter is not applied)."""
        if name not in self._jobs:
            try:
                ask = {"parent": self.parent, "filter": f'display_name="{name}"'}
                found = self.client.list_custom_jobs(request=ask, timeout=CALL_TIMEOUT)
                self._jobs |= {j.display_name: j.name for j in found if j.display_name == name}
            except Exception as exc:
                raise self._cannot(f"look up job {name}", exc, "aiplatform.customJobs.list") from None  # fmt: skip
        return self._jobs.get(name)

    def unit_state(self, name: str) -> UnitState:
        from google.api_core.exceptions import NotFound

        job_name = self._job_name(name)
        try:
            job = job_name and self.client.get_custom_job(name=job_name, timeout=CALL_TIMEOUT)
        except NotFound:
            job = None
        except Exception as exc:
            raise self._cannot(f"read job {name} ({job_name})", exc, "aiplatform.customJobs.get") from None  # fmt: skip
        if not job:
            return UnitState("gone", "Vertex AI no longer knows the job")
        message = job.error.message if job.error else ""
        return UnitState(PHASES.get(job.state.name, "running"), " ".join(message.split()) or None)

    def stop_unit(self, name: str) -> None:
        from google.api_core.exceptions import FailedPrecondition, NotFound

        job_name = self._job_name(name)
        try:
            if job_name:
                self.client.cancel_custom_job(name=job_name, timeout=CALL_TIMEOUT)
        except (NotFound, FailedPrecondition):
            pass  # gone, or ended meanwhile
        except Exception as exc:
            raise self._cannot(f"cancel job {name} ({job_name})", exc, "aiplatform.customJobs.cancel") from None  # fmt: skip

    def unit_logs(self, name: str) -> list[LogLine]:
        """None here: Cloud Logging has them (the unit's ``logs_filter`` and ``logs_url``)."""
        return []

    def _cannot(self, what: str, exc: BaseException, permission: str, check: str = "") -> Any:
        """One line: what failed, where, and the permission refused (or to check)."""
        from google.api_core.exceptions import Forbidden

        needed = _gcp.refused_permission(exc, permission)
        refused = isinstance(exc, Forbidden)
        where = _gcp.where(self._project or self.config.project, self.config.endpoint_url,
                           self.endpoint) + f", {self.config.location}"  # fmt: skip
        return ConfigError(f"orchestrator {self.name!r} cannot {what} (Vertex AI, {where}): "
                           + (f"permission {needed} refused" if refused else _gcp.describe_error(exc)),
                           hint=f"check {check or 'the project, the location, '}the endpoint "
                           f"and the credentials ({needed})")  # fmt: skip

    def verify(self) -> None:
        """Vertex AI answers (one ListCustomJobs call of one job, no retries), in seconds."""
        try:
            _gcp.check_reachable(self.endpoint)
            self.client.list_custom_jobs(request={"parent": self.parent, "page_size": 1},
                                         timeout=_gcp.CONNECT_TIMEOUT, retry=None)  # fmt: skip
        except ConfigError:
            raise
        except Exception as exc:
            raise self._cannot("list CustomJobs", exc, "aiplatform.customJobs.list") from None
