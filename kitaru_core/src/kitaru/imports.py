"""Importing an object by its ``module:qualname`` path (flavors' classes, serializers' types),
and what to install when an optional dependency is missing."""

from __future__ import annotations

import importlib
from typing import Any


def import_object(path: str) -> Any:
    """The object at ``module:qualname`` (``qualname`` may be dotted)."""
    module_name, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


#: top-level modules of kitaru's optional extras (pyproject's optional-dependencies)
EXTRAS: dict[str, str] = {
    "fastapi": "server", "uvicorn": "server", "starlette": "server", "jinja2": "server",
    "multipart": "server", "psycopg": "postgres", "litellm": "litellm", "mcp": "mcp",
    "pydantic_ai": "pydantic-ai", "opentelemetry": "otel", "croniter": "schedules",
}  # fmt: skip


def missing_extra(exc: BaseException) -> tuple[str, str] | None:
    """``(message, hint)`` when ``exc`` is a missing module of one of kitaru's extras."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return None
    return (f"this needs {top}, from kitaru's {extra!r} extra, which is not installed",
            f"pip install 'kitaru[{extra}]'")  # fmt: skip
