"""Plugins: pluggy hooks named ``kitaru_*`` and the manager that loads entry points lazily.

Write a plugin with ``from kitaru.plugins import hookimpl``.
"""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("kitaru")

__all__ = ["hookimpl"]
