"""The one error hierarchy of Kitaru.

Every error carries a short message and, where the cause is known, a ``hint`` saying what to do.
The CLI prints ``error: <message>`` and ``hint: <hint>`` and exits non-zero.
"""

from __future__ import annotations

from typing import Any


def one_line(text: object, limit: int | None = None) -> str:
    """Any message — an SDK's multi-line error, a traceback's last words — as one readable
    line: its lines stripped and joined with ``; ``, runs of spaces collapsed, cut to
    ``limit`` characters with ``...``. Flavors use it for the errors they raise."""
    lines = (" ".join(line.split()) for line in str(text).splitlines())
    joined = "; ".join(line for line in lines if line)
    if limit is not None and len(joined) > limit:
        return joined[: limit - 3] + "..."
    return joined


def describe(exc: BaseException, limit: int | None = None) -> str:
    """``Type: message`` of an exception on one line (just ``Type`` when it has no message)."""
    text = one_line(exc, limit)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class KitaruError(Exception):
    """Root of every error Kitaru raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(KitaruError):
    """The API or CLI was called the wrong way (bad arguments, wrong place)."""

    exit_code = 2


class ConfigError(KitaruError):
    """A stack, component, plugin or setting is missing or invalid."""


class NotFound(KitaruError):
    """An execution, call, artifact or other named thing does not exist."""

    exit_code = 3


class UnknownName(NotFound, ConfigError):
    """A stack, component or template name that is not registered: not found (exit code 3),
    and a configuration error to code that handles those."""


class Conflict(KitaruError):
    """Someone else got there first (a wait already resolved, a version moved on)."""

    exit_code = 4


class AuthError(KitaruError):
    """Missing, wrong or revoked credentials."""

    exit_code = 5


class Forbidden(AuthError):
    """Valid credentials that do not allow this (e.g. a member managing keys)."""


class WaitInputError(KitaruError):
    """Input for a wait does not match its schema; the execution stays waiting."""

    def __init__(self, message: str, *, detail: Any = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.detail = detail


class WaitTimeout(KitaruError):
    """Raised inside a flow when a ``kitaru.wait(timeout=...)`` expired without a default."""


class ExecutionFailed(KitaruError):
    """An execution ended in failure.

    ``origin`` says whose fault it was: ``user_code`` (the flow raised), ``runtime`` (Kitaru
    refused to go on, e.g. a budget), or ``backend`` (the store or orchestrator failed).
    """

    def __init__(
        self,
        message: str,
        *,
        origin: str = "user_code",
        error_type: str | None = None,
        execution_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.origin = origin
        self.error_type = error_type
        self.execution_id = execution_id


class BudgetExceeded(KitaruError):
    """An LLM call would take the execution over its ``@flow(max_cost_usd=)`` budget.

    Not retried: the execution fails (origin ``runtime``) and can be retried with a higher
    budget (``kitaru executions retry ID --max-cost-usd N``); completed calls are not re-run."""

    origin = "runtime"
    retryable = False


class LLMOutputError(KitaruError):
    """A model's answer does not parse as the requested ``response_format``."""


class ExecutionCancelled(KitaruError):
    """The execution was cancelled (``cancel`` or a wait ``--abort``)."""


class AlreadyRegistered(Conflict, ConfigError):
    """A stack or component name already taken (exit code 4): ``--replace`` changes it."""


class InUse(Conflict, ConfigError):
    """A stack or component that cannot go (exit code 4): the builtin ones, the active stack."""


class LeaseLost(Conflict):
    """Another runner took the execution over (its lease expired while this process was
    paused, partitioned or outlived by a restarted server). This process stops running it at
    once; nothing it does afterwards is recorded."""

    retryable = False


__all__ = [
    "AuthError",
    "BudgetExceeded",
    "ConfigError",
    "Conflict",
    "ExecutionCancelled",
    "ExecutionFailed",
    "Forbidden",
    "KitaruError",
    "LLMOutputError",
    "LeaseLost",
    "NotFound",
    "UsageError",
    "WaitInputError",
    "WaitTimeout",
]


TRACEBACK_HEADER = "Traceback (most recent call last):\n"


def user_traceback(exc: BaseException) -> str:
    """``exc``'s traceback without Kitaru's own frames: what the user's code did (their flow,
    checkpoints and libraries), as Python prints it."""
    import os
    import traceback

    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(here)]  # fmt: skip
    lines = traceback.format_list(frames) if frames else []
    return TRACEBACK_HEADER + "".join(lines) + "".join(traceback.format_exception_only(exc))
