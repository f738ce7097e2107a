"""``${ENV}`` and ``{{secret:name.key}}`` references in stack and component configs.

``${VAR}`` is expanded when a stack file is loaded (a missing variable is an error naming it);
``{{secret:name.key}}`` stays a reference everywhere it is stored and shown, and is resolved
through the stack's secret store only at use time.
"""

from __future__ import annotations

import os
import re
from typing import Any

from kitaru.errors import ConfigError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECRET = re.compile(r"^\{\{\s*secret:([A-Za-z0-9_.\-/]+)\.([A-Za-z0-9_\-]+)\s*\}\}$")


def expand_env(value: Any, *, source: str) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of ``value``."""
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(
                f"{source}: environment variable {name} is not set",
                hint=f"export {name}=... or write ${{{name}:-default}}",
            )

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand_env(v, source=source) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, source=source) for v in value]
    return value


def is_secret_reference(value: Any) -> bool:
    return isinstance(value, str) and bool(_SECRET.match(value))


def parse_secret_reference(value: str) -> tuple[str, str]:
    match = _SECRET.match(value)
    if not match:
        raise ConfigError(f"{value!r} is not a secret reference", hint="write {{secret:name.key}}")
    return match.group(1), match.group(2)


def secret_references(config: Any) -> list[tuple[str, str]]:
    """``(where, reference)`` of every ``{{secret:name.key}}`` in a config's values, ``where``
    being the key's path (``credentials.openai``)."""
    found: list[tuple[str, str]] = []

    def walk(value: Any, where: str) -> None:
        if is_secret_reference(value):
            found.append((where, value))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}" if where else str(key))
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")

    walk(config, "")
    return found
