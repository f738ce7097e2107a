"""Parsing JSON given on the command line (``--input``, ``--value``, ``--override``).

Malformed JSON is a :class:`~kitaru.errors.UsageError` naming the option and the JSON error,
with a hint showing a well-formed example. Nothing here imports more than the stdlib.
"""

from __future__ import annotations

import json
from typing import Any

from kitaru.errors import UsageError

EXAMPLES = {
    "--input": """--input '{"topic": "Durable agents"}'""",
    "--value": "--value true   (strings need JSON quotes: --value '\"yes\"')",
    "--override": """--override checkpoint.research='"new brief"'""",
}


def parse_json(option: str, text: str, *, what: str | None = None) -> Any:
    """``text`` as JSON, or a one-line UsageError naming ``option``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        label = f"{option} {what}" if what else option
        raise UsageError(
            f"{label} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            hint="e.g. " + EXAMPLES.get(option, f"{option} '<JSON>'"),
        ) from None


def parse_object(option: str, text: str | None) -> dict[str, Any]:
    """A JSON object (for flow keyword arguments); ``None`` is ``{}``."""
    if text is None:
        return {}
    value = parse_json(option, text)
    if not isinstance(value, dict):
        raise UsageError(
            f"{option} must be a JSON object of keyword arguments, not {type(value).__name__}",
            hint="e.g. " + EXAMPLES["--input"],
        )
    return value


def parse_overrides(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``KEY=JSON`` pairs (``checkpoint.<call id>=...``, ``flow.<param>=...``) as a dict."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(
                f"--override {item!r} is not KEY=JSON",
                hint="e.g. " + EXAMPLES["--override"],
            )
        if not key.startswith(("checkpoint.", "flow.")) or key.endswith("."):
            raise UsageError(
                f"--override key {key!r} must be checkpoint.<call id> or flow.<param>",
                hint="e.g. " + EXAMPLES["--override"],
            )
        if key in out:
            raise UsageError(f"--override {key} is given twice")
        out[key] = parse_json("--override", raw, what=key)
    return out
