"""Stacks: which component of each type executions use, and how they are configured.

The functions here are Kitaru's Python API for stacks (``kitaru.list_stacks()``, ...); they
import the stack machinery only when called, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kitaru.stack.model import Stack, StackSpec


def list_stacks() -> list[StackSpec]:
    """Every stack that can be used: the registered ones and the builtin ``local``."""
    from kitaru.stack import registry

    return registry.list_stacks()


def current_stack() -> Stack:
    """The active stack (``configure(stack=)`` > ``KITARU_STACK`` > ``[tool.kitaru]`` in
    pyproject.toml > ``kitaru stack use`` > ``local``)."""
    from kitaru.stack.active import active_stack

    return active_stack()


def use_stack(name: str) -> StackSpec:
    """Make ``name`` the active stack for every process using this KITARU_HOME (like ``kitaru
    stack use``). For this process only, use ``kitaru.configure(stack=name)``."""
    from kitaru.stack import registry

    return registry.use_stack(name)


__all__ = ["current_stack", "list_stacks", "use_stack"]
