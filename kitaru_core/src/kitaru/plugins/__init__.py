"""Plugins: pluggy hooks named ``kitaru_*`` and the manager that loads entry points lazily.

Write a plugin with ``from kitaru.plugins import hookimpl``.
"""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("kitaru")

__all__ = ["hookimpl", "templates_in"]


def templates_in(package: str, folder: str = "templates") -> list[tuple[str, str]]:
    """``(name, YAML text)`` of every ``*.yaml`` in a package's folder: what a plugin's
    ``kitaru_stack_templates`` hook returns (``aws.yaml`` is the template ``aws``)."""
    from importlib.resources import files

    found = files(package) / folder
    if not found.is_dir():  # no templates (yet): nothing to offer, not a failing plugin
        return []
    return sorted((item.name.removesuffix(".yaml"), item.read_text()) for item in found.iterdir()
                  if item.name.endswith(".yaml"))  # fmt: skip
