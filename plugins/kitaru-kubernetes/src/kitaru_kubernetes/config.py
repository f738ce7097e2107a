"""The flavors' config classes: plain pydantic, no ``kubernetes`` import (listing flavors and
registering a stack load these; the client is loaded only when a component is used)."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, model_validator

from kitaru.components.base import ComponentConfig, OptionalStr, SecretReference
from kitaru.components.job_orchestrator import JobOrchestratorConfig

#: a Kubernetes namespace name: a DNS-1123 label
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class KubernetesClusterConfig(ComponentConfig):
    """Where the cluster is and which namespace to use; shared by every flavor of the plugin.

    Outside a cluster, the API server and credentials come from a kubeconfig file (``kubeconfig``,
    else ``$KUBECONFIG``, else ``~/.kube/config``) and one of its contexts (``context``, else its
    current context). Inside a pod, ``in_cluster: true`` uses the pod's service account instead.
    """

    #: a kubeconfig file; empty: $KUBECONFIG, else ~/.kube/config
    kubeconfig: OptionalStr = None
    #: a context of the kubeconfig; empty: its current context
    context: OptionalStr = None
    #: use the pod's service account (token and CA mounted in the pod) instead of a kubeconfig
    in_cluster: bool = False
    #: the namespace the plugin's objects live in
    namespace: str = Field(default="default", max_length=63, pattern=NAMESPACE_PATTERN)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.in_cluster and (self.kubeconfig or self.context):
            raise ValueError("in_cluster: true takes no kubeconfig or context (pick one source)")
        return self


class KubernetesSecretStoreConfig(KubernetesClusterConfig):
    """The ``kubernetes`` secret store: Kubernetes Secrets in ``namespace``."""


class KubernetesOrchestratorConfig(JobOrchestratorConfig, KubernetesClusterConfig):
    """The ``kubernetes`` orchestrator: one Job per unit in ``namespace``; the fields of
    :class:`~kitaru.components.job_orchestrator.JobOrchestratorConfig` (image, server_url,
    environment, api_key) and of the cluster, plus the pods' settings."""

    #: more secret environment of every unit: variable -> ``{{secret:name.key}}`` (with the
    #: ``kubernetes`` secret store a secretKeyRef; never a value in the Job's spec)
    secret_environment: dict[str, SecretReference] = Field(default_factory=dict)
    #: the pods' service account (see rbac/job-pods.yaml); empty: the namespace's ``default``
    service_account: OptionalStr = None
    #: Secrets (type kubernetes.io/dockerconfigjson) the kubelet pulls the image with
    image_pull_secrets: list[str] = Field(default_factory=list)
    #: empty: Kubernetes' default (IfNotPresent, Always for :latest)
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    #: the container's ``resources``: ``{requests: {cpu: 500m, memory: 1Gi}, limits: {...}}``
    resources: dict[Literal["requests", "limits"], dict[str, str]] = Field(default_factory=dict)
    node_selector: dict[str, str] = Field(default_factory=dict)
    #: the pods' ``tolerations``, as Kubernetes spells them (key, operator, value, effect)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    #: on every Job and its pods (Kitaru adds kitaru-execution, kitaru-role, kitaru-orchestrator)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    #: the pods share the node's network (127.0.0.1 is the node's): for a server on the node
    host_network: bool = False
    #: a finished Job (and its pod, its logs) is deleted this long after it ended; empty: kept
    ttl_seconds_after_finished: int | None = Field(default=3600, ge=0)
    #: a unit driving an execution / an isolated checkpoint's unit may run this long
    #: (the Job's activeDeadlineSeconds)
    active_deadline_seconds: int = Field(default=24 * 3600, ge=1)
    checkpoint_deadline_seconds: int = Field(default=3600, ge=1)
    #: units reach the API server (isolated checkpoints' Jobs, the kubernetes secret store)
    #: with their service account, whatever kubeconfig/context this client uses
    units_in_cluster: bool = True
    #: Job names are ``<prefix>-<role>-<16 hex>``
    job_name_prefix: str = Field(default="kitaru", max_length=30, pattern=NAMESPACE_PATTERN)
    #: the Python in the image that has kitaru installed
    python: str = "python"
    #: the longest pause between two reads of a Job while waiting for it
    poll_interval: float = Field(default=2.0, gt=0)
