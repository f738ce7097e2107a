"""The ``azureml`` orchestrator: each unit of work is an Azure Machine Learning command job
(azure-ai-ml's ``command(...)``), on the :class:`~kitaru.components.job_orchestrator.JobOrchestrator`
base.

A job runs ``python -m kitaru.entrypoint ARGS`` in the flow's image (a custom environment),
on the configured compute, as the compute's managed identity; that identity resolves the API
key and the image's secret environment through the stack's secret store inside the job: no
secret value is in a job's spec. AzureML lets the caller name a job, so the unit's name is the
job's name: any process finds it with ``jobs.get``. The unit records the job's studio URL; a
unit's logs are its job's ``user_logs``, read from the run history (:meth:`unit_logs`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shlex
from collections.abc import Iterator
from typing import Any

from kitaru.components.job_orchestrator import JobOrchestrator, UnitSpec, UnitState
from kitaru.components.orchestrator import LogLine
from kitaru.errors import ConfigError
from kitaru_azure import _azure
from kitaru_azure.azureml_config import PHASES, AzureMLOrchestratorConfig

#: the RBAC actions each call needs (named in errors, listed in rbac/)
JOBS = "Microsoft.MachineLearningServices/workspaces/jobs"
CLOUD_ENV = "AZUREML_CURRENT_CLOUD"


@contextlib.contextmanager
def _own_cloud_setting() -> Iterator[None]:
    """azure-ai-ml keeps the current cloud in the process environment (AZUREML_CURRENT_CLOUD)
    and reads it when imported: a custom cloud's name there (registered in one process only)
    would break the import in every child process. Ours never outlives the client's creation."""
    before = os.environ.get(CLOUD_ENV, "")
    if before.startswith("Kitaru"):
        del os.environ[CLOUD_ENV]
    try:
        yield
    finally:
        if os.environ.get(CLOUD_ENV, "").startswith("Kitaru"):
            del os.environ[CLOUD_ENV]


def _quiet() -> None:
    """azure-ai-ml gives its modules' loggers INFO and a stderr handler of their own at import
    ("Proceeding with no tenant id..." on every jobs.get, a warning per experimental schema
    class): errors only, through Kitaru's logging."""
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith("azure.ai.ml") and isinstance(logger, logging.Logger):
            logger.setLevel(logging.ERROR)


class AzureMLOrchestrator(JobOrchestrator):
    config: AzureMLOrchestratorConfig
    max_name_length = 255

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.poll_longest = self.config.poll_interval
        self._client: Any = None

    @property
    def client(self) -> Any:
        """One ``MLClient`` for the workspace, made on first use."""
        if self._client is None:
            with _own_cloud_setting():
                from azure.ai.ml import MLClient, command  # noqa: F401 - loads its loggers

                _quiet()
                c, cloud = self.config, dict[str, Any](cloud="AzureCloud")
                if c.resource_manager_endpoint:  # a custom cloud: azure-ai-ml's sovereign route
                    arm = c.resource_manager_endpoint.rstrip("/") + "/"
                    name = "Kitaru" + hashlib.sha256(arm.encode()).hexdigest()[:12]
                    cloud = {"cloud": name, "cloud_metadata": {
                        "azure_portal": arm, "resource_manager": arm, "active_directory":
                        c.authority_host or "https://login.microsoftonline.com/",
                        "aml_resource_id": arm, "storage_endpoint": "core.windows.net",
                        "registry_discovery_endpoint": arm}}  # fmt: skip
                self._client = MLClient(_azure.credential_for(self, c), c.subscription_id,
                                        c.resource_group, c.workspace_name, show_progress=False,
                                        enable_telemetry=False, **cloud)  # fmt: skip
        return self._client

    @property
    def where(self) -> str:
        c = self.config
        return (f"AzureML workspace {c.workspace_name}, resource group {c.resource_group}, "
                f"{c.resource_manager_endpoint or 'https://management.azure.com'}")  # fmt: skip

    # -- what a job gets ------------------------------------------------------------------------
    def execution_time_limit(self) -> float:
        return float(self.config.timeout_seconds)

    def checkpoint_time_limit(self) -> float:
        return float(self.config.checkpoint_timeout_seconds)

    def name_prefix(self) -> str:
        return self.config.job_name_prefix

    def command_job(self, spec: UnitSpec) -> Any:
        """The command job of one unit (azure-ai-ml's ``command(...)``)."""
        from azure.ai.ml import command
        from azure.ai.ml.entities import Environment, ManagedIdentityConfiguration

        c, checkpoint = self.config, spec.role == "checkpoint"
        identity = ManagedIdentityConfiguration(client_id=c.job_identity_client_id)
        tags = {**c.tags, "kitaru-role": spec.role, "kitaru-execution": spec.execution_id,
                "kitaru-orchestrator": self.name}  # fmt: skip
        instance = (c.checkpoint_instance_type if checkpoint else None) or c.instance_type
        return command(
            name=spec.name, display_name=spec.name, experiment_name=c.experiment_name,
            command=shlex.join([c.python, "-m", "kitaru.entrypoint", *spec.arguments]),
            environment=Environment(image=spec.image), environment_variables=spec.environment,
            compute=(c.checkpoint_compute if checkpoint else None) or c.compute, tags=tags,
            instance_type=instance, timeout=int(spec.time_limit), identity=identity,
        )  # fmt: skip

    # -- units ----------------------------------------------------------------------------------
    def submit_unit(self, spec: UnitSpec) -> dict[str, Any]:
        client = self.client  # a ConfigError (no credential) as it is
        try:
            job = client.jobs.create_or_update(self.command_job(spec), skip_validation=True)
        except Exception as exc:
            raise self._cannot(f"submit a command job for execution {spec.execution_id}", exc,
                               f"{JOBS}/write", "the compute, the image, the environment "
                               "write permission and ") from None  # fmt: skip
        return {"job": job.name, "studio_url": job.studio_url}

    def unit_state(self, name: str) -> UnitState:
        try:
            job = self.client.jobs.get(name)
        except Exception as exc:
            if _azure.is_not_found(exc):
                return UnitState("gone", "AzureML no longer knows the job")
            raise self._cannot(f"read job {name}", exc, f"{JOBS}/read") from None
        # JobStatus is a str enum: its value, not its str() ("JobStatus.COMPLETED")
        status = str(getattr(job.status, "value", job.status) or "NotStarted")
        phase = PHASES.get(status, "running")
        return UnitState(phase, f"AzureML job status {status}" if phase != "running" else None)

    def stop_unit(self, name: str) -> None:
        try:
            self.client.jobs.begin_cancel(name)
        except Exception as exc:
            # gone (404), or ended meanwhile (AzureML refuses to cancel a finished job: 400/409)
            if getattr(exc, "status_code", None) not in (400, 404, 409):
                raise self._cannot(f"cancel job {name}", exc, f"{JOBS}/cancel/action") from None

    def unit_logs(self, name: str) -> list[LogLine]:
        """What the job's command printed: its ``user_logs`` (``std_log*.txt``, else every log
        file of an older runtime), read where ``jobs.stream`` reads them — the run history's
        log files, SAS URLs of the workspace's storage — once, without waiting. ``jobs.stream``
        itself cannot serve: it blocks while the job runs and prints no log of an ended job.
        Empty when the job has none (not started) or AzureML no longer knows it."""
        import requests  # azure-core's own dependency

        try:
            # the run history client azure-ai-ml's own jobs.stream uses (no public accessor)
            details = self.client.jobs._runs_operations.get_run_details(name)
            files = dict(details.log_files or {})
            chosen = sorted(f for f in files if f.startswith("user_logs/")) or sorted(files)
            lines: list[LogLine] = []
            for file in chosen:
                answer = requests.get(files[file], timeout=60)
                if answer.status_code == 404:  # listed, not uploaded yet
                    continue
                answer.raise_for_status()
                lines += [{"stream": "azureml", "line": line}
                          for line in answer.text.splitlines()]  # fmt: skip
            return lines
        except Exception as exc:
            if _azure.is_not_found(exc):
                return []
            raise self._cannot(f"read the logs of job {name}", exc, f"{JOBS}/read") from None

    def _cannot(self, what: str, exc: BaseException, action: str, check: str = "") -> Any:
        """One line: what failed, where, and the RBAC action refused (or to check)."""
        needed = _azure.refused_action(exc, action)
        reason = f"{needed} refused" if _azure.is_forbidden(exc) else _azure.describe_error(exc)
        return ConfigError(f"orchestrator {self.name!r} cannot {what} ({self.where}): {reason}",
                           hint=f"check {check or 'the subscription, the workspace, '}the "
                           f"endpoint and the credentials ({needed})")  # fmt: skip

    def verify(self) -> None:
        """The workspace answers a job listing (one page), in seconds."""
        endpoint = self.config.resource_manager_endpoint or "https://management.azure.com"
        try:
            _azure.check_reachable(endpoint)
            next(iter(self.client.jobs.list(max_results=1)), None)
        except ConfigError:
            raise
        except Exception as exc:
            raise self._cannot("list jobs", exc, f"{JOBS}/read") from None
