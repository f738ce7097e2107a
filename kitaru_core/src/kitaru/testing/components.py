"""Build a component the way a stack does: through its flavor, found by the plugin manager."""

from __future__ import annotations

from typing import Any

from kitaru.components.base import SecretResolver, StackComponent


def build_component(
    component_type: str,
    flavor: str,
    *,
    name: str = "contract",
    secrets: SecretResolver | None = None,
    **config: Any,
) -> Any:
    """A configured ``component_type`` of ``flavor``, found through the installed plugins.

    Going through ``plugin_manager().flavor(...)`` exercises the registration path (entry point,
    ``kitaru_flavors`` hook, lazy import paths) as well as the implementation itself.
    """
    from kitaru.plugins.manager import plugin_manager

    found = plugin_manager().flavor(component_type, flavor)
    config_class = found.load_config_class()
    implementation = found.load_implementation()
    component = implementation(name, config_class(**config), secrets=secrets)
    if not isinstance(component, StackComponent) or component_type != component.TYPE:
        raise TypeError(f"{found.implementation} is not a {component_type} component")
    return component


class SecretsThrough:
    """What a stack gives its components to resolve ``{{secret:name.key}}``, for a component
    built outside a stack: a secret store of ``flavor`` (built on first use) and its spec, which
    job orchestrators pass to their units::

        build_component("orchestrator", "mine", secrets=SecretsThrough("local", path=...))
    """

    def __init__(self, flavor: str = "local", **config: Any) -> None:
        self.spec: dict[str, Any] = {"flavor": flavor, "config": config}
        self._store: Any = None

    def __call__(self, reference: str) -> str:
        if self._store is None:
            self._store = build_component("secret_store", self.spec["flavor"],
                                          **self.spec["config"])  # fmt: skip
        return str(self._store.resolve(reference))
