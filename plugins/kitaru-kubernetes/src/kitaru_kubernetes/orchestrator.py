"""The ``kubernetes`` orchestrator: each unit of work is a Kubernetes Job.

A :class:`~kitaru.components.job_orchestrator.JobOrchestrator`: the core decides what runs
(``python -m kitaru.entrypoint run|resume|retry ID``, ``checkpoint ID NAME -``) and records the
units; this module creates, reads, deletes and reads the log of Jobs — one pod each,
``backoffLimit: 0`` (Kitaru retries, not the Job), ``activeDeadlineSeconds`` from the unit's
time limit. A pod that cannot start (image pull, a missing Secret or key) fails its unit at once.

Secrets: when the stack's secret store is ``kubernetes`` in the Jobs' namespace, each secret
reference of a unit becomes a ``secretKeyRef`` (the kubelet reads the Secret; the pod's account
needs no access to it); any other store's references are resolved inside the pod.
"""

from __future__ import annotations

import json
from typing import Any

from kitaru.components import job_orchestrator as base
from kitaru.components.job_orchestrator import JobOrchestrator, UnitSpec, UnitState
from kitaru.components.orchestrator import LogLine
from kitaru.errors import one_line
from kitaru.stack.references import parse_secret_reference
from kitaru_kubernetes.client import IN_CLUSTER_ENV, KubernetesClient
from kitaru_kubernetes.config import KubernetesOrchestratorConfig
from kitaru_kubernetes.names import label_value, object_name

#: a pod waiting for one of these never starts by itself: its unit has failed
STUCK = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
         "CreateContainerError")  # fmt: skip
_GRANT = {"jobs": "create, get, list and delete on jobs (batch)",
          "pods": "list on pods and get on pods/log"}  # fmt: skip


class KubernetesOrchestrator(JobOrchestrator):
    config: KubernetesOrchestratorConfig
    _kube: KubernetesClient | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.poll_longest = self.config.poll_interval

    @property
    def kube(self) -> KubernetesClient:
        """The cluster connection (the plugin's shared helper), made on first use."""
        if self._kube is None:
            self._kube = KubernetesClient(self.config, f"orchestrator {self.name!r}")
        return self._kube

    # -- what a Job gets ------------------------------------------------------------------------
    def checkpoint_time_limit(self) -> float:
        return float(self.config.checkpoint_deadline_seconds)

    def unit_secret_references(self, execution: Any) -> dict[str, str]:
        refs = {k: v for k, v in self.config.secret_environment.items() if v}
        return {**refs, **super().unit_secret_references(execution)}

    def unit_environment(self, execution: Any) -> dict[str, str]:
        return {IN_CLUSTER_ENV: "1"} if self.config.units_in_cluster else {}

    def execution_time_limit(self) -> float:
        return float(self.config.active_deadline_seconds)

    def name_prefix(self) -> str:
        return self.config.job_name_prefix

    def container_env(self, environment: dict[str, str]) -> list[dict[str, Any]]:
        """The container's ``env``: references through the ``kubernetes`` secret store of this
        namespace become ``secretKeyRef``s; anything else stays plain (no secret values)."""
        env = dict(environment)
        store = json.loads(env.get(base.SECRET_STORE_ENV) or "{}")
        refs: dict[str, str] = json.loads(env.get(base.SECRET_ENV) or "{}")
        same = (store.get("config") or {}).get("namespace", "default") == self.config.namespace
        from_secrets = []
        if refs and store.get("flavor") == "kubernetes" and same:
            for variable, reference in sorted(refs.items()):
                secret, key = parse_secret_reference(reference)
                from_secrets.append({"name": variable, "valueFrom": {"secretKeyRef": {
                    "name": object_name(secret), "key": key}}})  # fmt: skip
            del env[base.SECRET_ENV], env[base.SECRET_STORE_ENV]
        return [*({"name": k, "value": v} for k, v in sorted(env.items())), *from_secrets]

    def job_manifest(self, spec: UnitSpec) -> dict[str, Any]:
        """The Job of one unit, as the API takes it."""
        config = self.config
        labels = {**config.labels, **{k: label_value(v) for k, v in spec.labels.items()}}
        meta = {"labels": labels, "annotations": dict(config.annotations)}
        pod: dict[str, Any] = {
            "restartPolicy": "Never",
            "hostNetwork": config.host_network,
            "containers": [{
                "name": "kitaru", "image": spec.image, "args": spec.arguments,
                # set, not appended to: the image's own entrypoint may be anything
                "command": [config.python, "-m", "kitaru.entrypoint"],
                "env": self.container_env(spec.environment),
                "resources": dict(config.resources),
            }],
            "imagePullSecrets": [{"name": n} for n in config.image_pull_secrets],
            "nodeSelector": dict(config.node_selector), "tolerations": list(config.tolerations),
        }  # fmt: skip
        if config.service_account:
            pod["serviceAccountName"] = config.service_account
        if config.image_pull_policy:
            pod["containers"][0]["imagePullPolicy"] = config.image_pull_policy
        job_spec: dict[str, Any] = {"backoffLimit": 0, "template": {"metadata": meta, "spec": pod},
                                    "activeDeadlineSeconds": max(1, int(spec.time_limit))}  # fmt: skip
        if config.ttl_seconds_after_finished is not None:
            job_spec["ttlSecondsAfterFinished"] = config.ttl_seconds_after_finished
        return {"apiVersion": "batch/v1", "kind": "Job", "spec": job_spec,
                "metadata": {"name": spec.name, "namespace": config.namespace, **meta}}  # fmt: skip

    # -- units ----------------------------------------------------------------------------------
    def submit_unit(self, spec: UnitSpec) -> dict[str, Any]:
        try:
            self.kube.batch().create_namespaced_job(self.config.namespace, self.job_manifest(spec),
                                                    _request_timeout=self.kube.timeout)  # fmt: skip
        except Exception as exc:
            raise self._error(exc, "create", "jobs", spec.name) from None
        return {"namespace": self.config.namespace}

    def unit_state(self, name: str) -> UnitState:
        try:
            job = self.kube.batch().read_namespaced_job(name, self.config.namespace,
                                                        _request_timeout=self.kube.timeout)  # fmt: skip
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                return UnitState("gone", f"Job {name} no longer exists")
            raise self._error(exc, "get", "jobs", name) from None
        status = job.status
        for condition in status.conditions or []:
            if condition.status == "True" and condition.type in ("Complete", "Failed"):
                if condition.type == "Complete":
                    return UnitState("succeeded")
                return UnitState("failed", one_line(f"{condition.reason}: {condition.message}"))
        pod = self._pod(name)
        if pod is None:
            return UnitState("succeeded" if status.succeeded else "pending")
        for container in pod.status.container_statuses or []:
            waiting = container.state.waiting if container.state else None
            if waiting is not None and waiting.reason in STUCK:  # never starts by itself
                return UnitState("failed", one_line(f"{waiting.reason}: {waiting.message} "
                                                    f"(image {container.image})"))  # fmt: skip
            ended = container.state.terminated if container.state else None
            if ended is not None and ended.exit_code != 0:  # before the Job says Failed
                return UnitState("failed", f"exit code {ended.exit_code} ({ended.reason})")
        return UnitState({"Pending": "pending", "Succeeded": "succeeded"}.get(
            pod.status.phase, "running"))  # fmt: skip

    def stop_unit(self, name: str) -> None:
        try:
            self.kube.batch().delete_namespaced_job(name, self.config.namespace,
                                                    propagation_policy="Background",
                                                    _request_timeout=self.kube.timeout)  # fmt: skip
        except Exception as exc:
            if getattr(exc, "status", None) != 404:  # gone already: nothing to stop
                raise self._error(exc, "delete", "jobs", name) from None

    def release_unit(self, name: str) -> None:
        """A checkpoint's Job, once its reply is read: deleted with its pod."""
        self.stop_unit(name)

    def unit_logs(self, name: str) -> list[LogLine]:
        """The log of the Job's newest pod (empty once the pod is gone)."""
        pod = self._pod(name)
        if pod is None:
            return []
        try:
            text = self.kube.core().read_namespaced_pod_log(pod.metadata.name,
                                                            self.config.namespace,
                                                            _request_timeout=self.kube.timeout)  # fmt: skip
        except Exception as exc:
            if getattr(exc, "status", None) in (400, 404):  # not started yet, or gone
                return []
            raise self._error(exc, "get", "pods/log", pod.metadata.name) from None
        return [{"stream": "pod", "line": line} for line in str(text).splitlines()]

    def _pod(self, job: str) -> Any:
        """The Job's newest pod (a deleted pod's replacement comes after it), or None."""
        try:
            pods = self.kube.core().list_namespaced_pod(self.config.namespace,
                                                        label_selector=f"job-name={job}",
                                                        _request_timeout=self.kube.timeout)  # fmt: skip
        except Exception as exc:
            raise self._error(exc, "list", "pods", None) from None
        items = sorted(pods.items or [], key=lambda p: p.metadata.creation_timestamp)
        return items[-1] if items else None

    def _error(self, exc: BaseException, verb: str, resource: str, name: str | None) -> Exception:
        grant = _GRANT["jobs" if resource == "jobs" else "pods"]
        return self.kube.error(exc, verb=verb, resource=resource, name=name,
                               grant=f"{grant} (this call: {verb} {resource})")  # fmt: skip

    def verify(self) -> None:
        """The API server answers and the account may list Jobs in the namespace."""
        try:
            self.kube.batch().list_namespaced_job(self.config.namespace, limit=1,
                                                  _request_timeout=self.kube.timeout)  # fmt: skip
        except Exception as exc:
            raise self._error(exc, "list", "jobs", None) from None
