"""Which stack an execution uses. It is chosen when the execution is created and recorded on
it, so a resume anywhere uses the same artifact store and orchestrator even if the active stack
changed since.

Resolving the active stack reads settings files; the answer is cached per process for as long as
its inputs (working directory, ``KITARU_STACK``, ``configure(stack=)``, ``KITARU_HOME`` and the
global config file) are unchanged, so ``flow.run()`` stays cheap.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from kitaru.stack import active

if TYPE_CHECKING:
    from kitaru.components.orchestrator import Orchestrator
    from kitaru.stack.model import Stack
    from kitaru.store.records import Execution

_names: dict[tuple[Any, ...], str] = {}


def _mtime(path: Any) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def stack_name_for(explicit: str | None) -> str:
    """The stack a new execution runs on (ConfigError if it cannot be resolved)."""
    from kitaru.config import _overrides, settings

    home = settings().home
    key = (explicit, os.getcwd(), os.environ.get("KITARU_STACK"), _overrides.get("stack"),
           str(home), _mtime(home / "config.yaml"))  # fmt: skip
    name = _names.get(key)
    if name is None:
        from kitaru.stack.active import active_stack

        name = _names[key] = active_stack(explicit).name  # validates that it exists
    return name


_orchestrators: dict[tuple[Any, ...], Any] = {}


def orchestrator_of_stack(name: str) -> Orchestrator:
    """Stack ``name``'s orchestrator. Cached like :func:`stack_name_for`: every new
    execution asks for it."""
    key = (name, os.environ.get("KITARU_SERVER_URL"), os.environ.get("KITARU_DB_URL"),
           os.environ.get("KITARU_HOME"), active.generation[0])  # fmt: skip
    found = _orchestrators.get(key)
    if found is None:
        found = _orchestrators[key] = stack_of(name).orchestrator
    return found


def stack_of(name: str | None) -> Stack:
    """The stack recorded on an execution (older executions: ``local``)."""
    from kitaru.stack.active import active_stack

    return active_stack(name or "local")


def orchestrator_of(execution: Execution) -> Orchestrator:
    """The orchestrator of the stack the execution was created on."""
    return orchestrator_of_stack(execution.options.get("stack") or "local")
