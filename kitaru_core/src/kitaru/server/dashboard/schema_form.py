"""A form from a JSON schema, and the value back from what the form posted.

Waits (``kitaru.wait(schema=...)``) and deployments (the flow's parameters) carry JSON schemas;
the dashboard asks for their values with plain HTML inputs, so the browser checks what it can
(required, min/max, step, lengths, patterns, JSON syntax) before anything is sent. The value is
then validated again by the same code as the CLI's (``resolve_input``, ``invoke``).

Field names are dotted paths from a root (``value``, ``value.reviewer.name``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kitaru.errors import UsageError

#: schema keywords that become HTML constraint attributes
_ATTRS = {"minimum": "min", "maximum": "max", "minLength": "minlength",
          "maxLength": "maxlength", "pattern": "pattern"}  # fmt: skip


@dataclass
class Field:
    """One input (or a fieldset of them, for an object)."""

    name: str
    label: str
    kind: str  # boolean | enum | integer | number | string | object | json
    required: bool
    description: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)  # (json value, label)
    attrs: dict[str, Any] = field(default_factory=dict)
    children: list[Field] = field(default_factory=list)
    default: str = ""


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with a local ``$ref`` followed and ``Optional[X]`` (anyOf X, null) read as X."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        return {**_resolve(target, root), **{k: v for k, v in schema.items() if k != "$ref"}}
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list):
        real = [o for o in options if o.get("type") != "null"]
        if len(real) == 1:
            rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
            return {**_resolve(real[0], root), **rest, "nullable": True}
    return dict(schema)


def _kind(schema: Mapping[str, Any]) -> str:
    if "enum" in schema or "const" in schema:
        return "enum"
    kind = schema.get("type")
    if kind in ("boolean", "integer", "number", "string"):
        return str(kind)
    if kind == "object" and schema.get("properties"):
        return "object"
    return "json"


def build(schema: Mapping[str, Any] | None, name: str = "value", label: str = "",
          required: bool = True, root: Mapping[str, Any] | None = None) -> Field:  # fmt: skip
    """The form field for ``schema`` (no schema: any JSON value)."""
    root = root if root is not None else (schema or {})
    s = _resolve(schema or {}, root)
    kind = _kind(s)
    f = Field(name, label or str(s.get("title") or name.rpartition(".")[2]), kind,
              required and not s.get("nullable"), str(s.get("description") or ""))  # fmt: skip
    if "default" in s:
        f.default = s["default"] if isinstance(s["default"], str) else json.dumps(s["default"])
        f.required = False
    if kind == "enum":
        values = s.get("enum", [s.get("const")])
        f.options = [(json.dumps(v), str(v)) for v in values]
    elif kind in ("integer", "number", "string"):
        f.attrs = {html: s[key] for key, html in _ATTRS.items() if key in s}
        f.attrs["step"] = "1" if kind == "integer" else "any"
        if "exclusiveMinimum" in s:
            f.attrs["min"] = s["exclusiveMinimum"]
    elif kind == "object":
        needed = set(s.get("required") or [])
        f.children = [build(sub, f"{name}.{key}", str(sub.get("title") or key), key in needed, root)
                      for key, sub in s["properties"].items()]  # fmt: skip
    return f


class FormError(UsageError):
    """A posted form that does not give a value of the schema's shape."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field_name = field_name


_MISSING = object()


def read(f: Field, form: Mapping[str, Any]) -> Any:
    """The value ``form`` gives for ``f`` (``_MISSING`` for an empty optional field)."""
    value = _read(f, form)
    if value is _MISSING:
        if f.required:
            raise FormError(f.name, "a value is required")
        return None
    return value


def _read(f: Field, form: Mapping[str, Any]) -> Any:
    if f.kind == "object":
        out = {}
        for child in f.children:
            got = _read(child, form)
            if got is _MISSING:
                if child.required:
                    raise FormError(child.name, "a value is required")
                continue
            out[child.name.rpartition(".")[2]] = got
        return out
    raw = str(form.get(f.name, "")).strip()
    if raw == "":
        return _MISSING
    try:
        if f.kind == "string":
            return raw
        if f.kind == "boolean":
            return {"true": True, "false": False}[raw]
        if f.kind == "integer":
            return int(raw)
        if f.kind == "number":
            return float(raw)
        return json.loads(raw)  # enum options and free JSON
    except (KeyError, ValueError) as exc:
        raise FormError(f.name, f"not a valid {f.kind} ({exc})") from None


def flatten(f: Field) -> list[Field]:
    """Every input field under ``f`` (objects open into their children)."""
    return [x for c in f.children for x in flatten(c)] if f.kind == "object" else [f]
