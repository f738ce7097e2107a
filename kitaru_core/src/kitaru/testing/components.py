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
