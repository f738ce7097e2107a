"""The hooks a Kitaru plugin can implement. Every hook returns a list (or None)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from kitaru.components.flavor import Flavor
    from kitaru.components.standins import StandIn
    from kitaru.runtime.serialization import Serializer

hookspec = pluggy.HookspecMarker("kitaru")


@hookspec
def kitaru_flavors() -> list[Flavor]:
    """Flavors this plugin provides: name, component type, config class and implementation
    by import path (imported only when a stack uses them), install hint and docs URL."""
    raise NotImplementedError


@hookspec
def kitaru_cli_commands() -> list[Any]:
    """click commands or groups to add to the ``kitaru`` command line."""
    raise NotImplementedError


@hookspec
def kitaru_serializers() -> list[Serializer]:
    """Serializers for types the builtin ones don't handle (tried before pickle)."""
    raise NotImplementedError


@hookspec
def kitaru_stack_templates() -> list[tuple[str, str]]:
    """Stack templates as ``(name, YAML text)`` that ``kitaru stack register --template``
    offers, with ``${ENV}`` placeholders for what the user must fill in."""
    raise NotImplementedError


@hookspec
def kitaru_standins() -> list[StandIn]:
    """Local services that stand in for this plugin's cloud backends in ``kitaru smoke``:
    which ``(component type, flavor)`` each serves and its starter by import path (imported
    only by a smoke run that needs it)."""
    raise NotImplementedError
