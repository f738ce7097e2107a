"""The plugin module (entry point ``kitaru = kubernetes``): it only describes its flavors.

Listing flavors imports this module and nothing else: the config classes live in
:mod:`kitaru_kubernetes.config` (no ``kubernetes`` import), the implementations are imported by
path when a stack uses them.
"""

from __future__ import annotations

from kitaru.components.flavor import Flavor
from kitaru.components.standins import StandIn
from kitaru.plugins import hookimpl, templates_in

_HINT = "pip install kitaru-kubernetes"


@hookimpl
def kitaru_flavors() -> list[Flavor]:
    """The plugin's flavors: the secret store and the orchestrator."""
    return [
        Flavor(
            name="kubernetes",
            type="secret_store",
            config_class="kitaru_kubernetes.config:KubernetesSecretStoreConfig",
            implementation="kitaru_kubernetes.secret_store:KubernetesSecretStore",
            install_hint=_HINT,
            description="one Kubernetes Secret per Kitaru secret in `namespace` "
            "(label kitaru.secret)",
        ),
        Flavor(
            name="kubernetes",
            type="orchestrator",
            config_class="kitaru_kubernetes.config:KubernetesOrchestratorConfig",
            implementation="kitaru_kubernetes.orchestrator:KubernetesOrchestrator",
            install_hint=_HINT,
            description="one Kubernetes Job per execution unit in `namespace`, from `image`",
        ),
    ]


@hookimpl
def kitaru_stack_templates() -> list[tuple[str, str]]:
    """``kubernetes`` (Jobs, Kubernetes Secrets, the docker builder, S3): the package's
    ``templates/kubernetes.yaml``, for ``kitaru stack register NAME --template kubernetes``."""
    return templates_in("kitaru_kubernetes")


@hookimpl
def kitaru_standins() -> list[StandIn]:
    """In a smoke run a local cluster stands in for the stack's, and only one that is
    configured (its API server on this machine, or ``KITARU_SMOKE_KUBECONFIG``): it runs the
    Jobs and keeps the Secrets itself."""
    return [
        StandIn(
            name="local cluster",
            serves=(("orchestrator", "kubernetes"), ("secret_store", "kubernetes")),
            implementation="kitaru_kubernetes.smoke:local_kubernetes",
            install_hint="start a local cluster (scripts/standins/k8s.sh, k3s, kind) and set "
            "KUBECONFIG or KITARU_SMOKE_KUBECONFIG",
            description="the configured local cluster (127.0.0.1 / KITARU_SMOKE_KUBECONFIG) "
            "runs the Jobs; nothing emulated",
        )
    ]
