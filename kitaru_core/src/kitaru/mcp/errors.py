"""Tool errors that say what the CLI says: ``error: <one line>`` and, when known,
``hint: <one line>`` (the lines ``kitaru`` prints on stderr for the same failure)."""

from __future__ import annotations

import logging

from kitaru.errors import KitaruError, one_line

log = logging.getLogger("kitaru.mcp")


def message_and_hint(exc: BaseException) -> tuple[str, str | None]:
    """``(message, hint)`` of ``exc`` exactly as :func:`kitaru.cli.main.report` words them."""
    if isinstance(exc, KitaruError):
        return exc.message or type(exc).__name__, exc.hint
    from kitaru.imports import missing_extra

    if (missing := missing_extra(exc)) is not None:
        return missing
    from kitaru.store import storage_error

    refused = storage_error(exc)
    if refused is not None:
        return refused.message, refused.hint
    # a bug or an outage: the traceback goes to the server's log (stderr), not to the agent
    log.error("tool failed", exc_info=exc)
    return (f"internal error: {type(exc).__name__}: {exc}",
            "the MCP server's log (stderr) has the traceback")  # fmt: skip


def error_text(exc: BaseException) -> str:
    """The CLI's ``error:`` line and ``hint:`` line for ``exc``."""
    message, hint = message_and_hint(exc)
    text = f"error: {one_line(message)}"
    return f"{text}\nhint: {one_line(hint)}" if hint else text
