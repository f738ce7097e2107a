"""The plugin module (entry point ``kitaru = aws``): it only describes its flavors."""

from __future__ import annotations

from kitaru.components.flavor import Flavor
from kitaru.plugins import hookimpl


@hookimpl
def kitaru_flavors() -> list[Flavor]:
    return []
