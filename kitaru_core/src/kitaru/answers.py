"""How to answer a wait from a shell: the ``kitaru executions input`` command with an example
value for the wait's JSON schema (printed by the CLI and, in a terminal, by ``FlowHandle``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def example_value(schema: Mapping[str, Any] | None, depth: int = 0) -> Any:
    """A value that matches simple JSON schemas, to show in the ``answer with:`` command."""
    if not schema or depth > 3:
        return "..."
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if options:
            non_null = [o for o in options if o.get("type") != "null"] or options
            return example_value(non_null[0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "boolean":
        return True
    if kind == "integer":
        return 0
    if kind == "number":
        return 0.0
    if kind == "null":
        return None
    if kind == "array":
        return [example_value(schema.get("items"), depth + 1)] if schema.get("items") else []
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        required = schema.get("required") or list(props)
        return {k: example_value(props.get(k), depth + 1) for k in required}
    return "..."


def shell_quote(text: str) -> str:
    """Single-quote ``text`` for a POSIX shell (always quoted, like the docs show it)."""
    return "'" + text.replace("'", "'\"'\"'") + "'"


def answer_command(execution_id: str, schema: Mapping[str, Any] | None) -> str:
    value = json.dumps(example_value(schema), ensure_ascii=False)
    return f"kitaru executions input {execution_id} --value {shell_quote(value)}"
