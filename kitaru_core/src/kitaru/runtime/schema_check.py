"""A small JSON-schema checker for the shapes waits usually have, so answering a wait does not
pay for importing ``jsonschema`` (~130 ms). Anything it does not fully understand is handed to
``jsonschema``: :func:`check` returns None only when it is sure the value is valid.
"""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}
_KNOWN = {"type", "title", "description", "default", "enum", "const", "properties", "required",
          "items", "additionalProperties", "anyOf"}  # fmt: skip


class Unsupported(Exception):
    """The schema uses something this checker does not handle."""


def check(
    value: Any, schema: dict[str, Any], path: tuple[Any, ...] = ()
) -> tuple[list[Any], str] | None:
    """``None`` if valid, else ``(path, message)``; raises Unsupported for other schemas."""
    if not set(schema) <= _KNOWN or not isinstance(schema.get("type", "x"), str):
        raise Unsupported
    if "anyOf" in schema:
        errors = [check(value, branch, path) for branch in schema["anyOf"]]
        if all(e is not None for e in errors):
            return list(path), f"{value!r} matches none of the allowed shapes"
    kind = schema.get("type")
    if kind is not None:
        if kind not in _TYPES:
            raise Unsupported
        if not _TYPES[kind](value):
            return list(path), f"{value!r} is not of type {kind!r}"
    if "enum" in schema and value not in schema["enum"]:
        return list(path), f"{value!r} is not one of {schema['enum']!r}"
    if "const" in schema and value != schema["const"]:
        return list(path), f"{schema['const']!r} was expected"
    if isinstance(value, dict):
        extra = schema.get("additionalProperties", True)
        if not isinstance(extra, bool):
            raise Unsupported
        for key in schema.get("required", []):
            if key not in value:
                return list(path), f"{key!r} is a required property"
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                err = check(item, props[key], (*path, key))
                if err:
                    return err
            elif not extra:
                return list(path), f"additional property {key!r} is not allowed"
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            err = check(item, schema["items"], (*path, i))
            if err:
                return err
    return None
