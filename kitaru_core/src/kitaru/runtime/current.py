"""The only global state of the runtime: the execution a flow body runs in and the checkpoint
body in progress, as context variables (copied into the threads ``.submit()`` starts)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from kitaru.runtime.context import CallFrame, ExecutionContext

current_execution: ContextVar[Optional[ExecutionContext]] = ContextVar(  # noqa: UP045
    "kitaru_execution", default=None
)
current_frame: ContextVar[Optional[CallFrame]] = ContextVar("kitaru_frame", default=None)  # noqa: UP045
