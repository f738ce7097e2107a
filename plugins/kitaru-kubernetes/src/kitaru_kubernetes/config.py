"""The flavors' config classes: plain pydantic, no ``kubernetes`` import (listing flavors and
registering a stack load these; the client is loaded only when a component is used)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from kitaru.components.base import ComponentConfig, OptionalStr

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
