"""The plugin module (entry point ``kitaru = kubernetes``): it only describes its flavors.

Listing flavors imports this module and nothing else: the config classes live in
:mod:`kitaru_kubernetes.config` (no ``kubernetes`` import), the implementations are imported by
path when a stack uses them.
"""

from __future__ import annotations

from kitaru.components.flavor import Flavor
from kitaru.plugins import hookimpl

_HINT = "pip install kitaru-kubernetes"


@hookimpl
def kitaru_flavors() -> list[Flavor]:
    """The plugin's flavors (only the secret store for now)."""
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
    ]
