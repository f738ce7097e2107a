"""Kitaru: durable execution for Python agents.

Public names are imported lazily, so ``import kitaru`` stays fast and loads no optional
dependency: ``from kitaru import flow, checkpoint`` costs only what those need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# These share their names with their modules: bind them eagerly, otherwise importing the
# submodule anywhere would shadow the function with the module. They are light (stdlib only).
from kitaru.checkpoint import Checkpoint, checkpoint
from kitaru.flow import Flow, flow
from kitaru.llm import LLMResponse, ToolCall, llm
from kitaru.log import log
from kitaru.version import __version__ as __version__
from kitaru.wait import wait

_EXPORTS: dict[str, str] = {
    "save": "kitaru.artifacts",
    "load": "kitaru.artifacts",
    "memory": "kitaru.memory",
    "configure": "kitaru.config",
    "connect": "kitaru.connection",
    "disconnect": "kitaru.connection",
    "KitaruClient": "kitaru.client",
    "FlowHandle": "kitaru.handle",
    "ImageSettings": "kitaru.build",
    "PendingWait": "kitaru.handle",
    "Queue": "kitaru.queues",
    "KitaruError": "kitaru.errors",
    "UsageError": "kitaru.errors",
    "ConfigError": "kitaru.errors",
    "WaitInputError": "kitaru.errors",
    "WaitTimeout": "kitaru.errors",
    "ExecutionFailed": "kitaru.errors",
    "ExecutionCancelled": "kitaru.errors",
    "NotFound": "kitaru.errors",
    "Conflict": "kitaru.errors",
    "AuthError": "kitaru.errors",
    "BudgetExceeded": "kitaru.errors",
    "LLMOutputError": "kitaru.errors",
    "LeaseLost": "kitaru.errors",
    "list_stacks": "kitaru.stack",
    "current_stack": "kitaru.stack",
    "use_stack": "kitaru.stack",
}

__all__ = [
    "AuthError",
    "BudgetExceeded",
    "Checkpoint",
    "ConfigError",
    "Conflict",
    "ExecutionCancelled",
    "ExecutionFailed",
    "Flow",
    "FlowHandle",
    "ImageSettings",
    "KitaruClient",
    "KitaruError",
    "LLMOutputError",
    "LLMResponse",
    "LeaseLost",
    "NotFound",
    "PendingWait",
    "Queue",
    "ToolCall",
    "UsageError",
    "WaitInputError",
    "WaitTimeout",
    "checkpoint",
    "configure",
    "connect",
    "current_stack",
    "disconnect",
    "flow",
    "list_stacks",
    "llm",
    "load",
    "log",
    "memory",
    "save",
    "use_stack",
    "wait",
]

if TYPE_CHECKING:
    from kitaru import memory
    from kitaru.artifacts import load, save
    from kitaru.build import ImageSettings
    from kitaru.client import KitaruClient
    from kitaru.config import configure
    from kitaru.connection import connect, disconnect
    from kitaru.errors import (
        AuthError,
        BudgetExceeded,
        ConfigError,
        Conflict,
        ExecutionCancelled,
        ExecutionFailed,
        KitaruError,
        LeaseLost,
        LLMOutputError,
        NotFound,
        UsageError,
        WaitInputError,
        WaitTimeout,
    )
    from kitaru.handle import FlowHandle, PendingWait
    from kitaru.queues import Queue
    from kitaru.stack import current_stack, list_stacks, use_stack


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kitaru' has no attribute {name!r}")
    value = importlib.import_module(module)
    if module != f"kitaru.{name}":  # ``kitaru.memory`` is the module itself
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
