"""``offline`` LLM gateway: deterministic answers with realistic token counts, no network.

For demos, tests and laptops without a provider. The answer depends only on the model and the
messages, so replays and caches behave exactly as with a real provider at temperature 0. With
``tools`` it calls the first tool (arguments built from its JSON schema); with a
``response_format`` it answers a JSON instance of the schema. ``calls_log`` appends one line per
call to a file: the number of times the "provider" was really called, which tests count.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kitaru.components.llm_gateway import (
    LLMGateway,
    LLMGatewayConfig,
    LLMRequest,
    LLMResult,
    ModelPrice,
)


class OfflineLLMConfig(LLMGatewayConfig):
    aliases: dict[str, str] = {"fast": "offline/echo", "smart": "offline/echo-large",
                               "default": "offline/echo"}  # fmt: skip
    #: priced like small and large hosted models, so budgets and cost roll-ups can be tried
    prices: dict[str, ModelPrice] = {
        "offline/echo": ModelPrice(input=0.15, output=0.60),
        "offline/echo-large": ModelPrice(input=2.50, output=10.0),
    }
    #: append one JSON line per call here (tests count provider hits with it)
    calls_log: str | None = None


def _tokens(text: str) -> int:
    """~4 characters a token, as for English text with common tokenizers."""
    return max(1, (len(text) + 3) // 4)


class OfflineLLMGateway(LLMGateway):
    config: OfflineLLMConfig

    def resolve_alias(self, model: str) -> str:
        """Any model name works offline (code written for a provider runs as written); the
        requested name is what the call records."""
        return self.config.aliases.get(model, model)

    def known_price(self, model: str) -> ModelPrice | None:
        """A model this gateway has no price for costs what ``offline/echo`` does."""
        return self.config.prices.get("offline/echo")

    def complete(self, request: LLMRequest) -> LLMResult:
        prompt = "\n".join(str(m.get("content") or "") for m in request.messages)
        digest = hashlib.sha256(f"{request.model}\n{prompt}".encode()).hexdigest()
        tool_calls: list[dict[str, Any]] = []
        if request.tools:
            fn = request.tools[0].get("function") or {}
            args = _instance(fn.get("parameters") or {}, digest)
            tool_calls = [{"id": f"call_{digest[:12]}", "type": "function",
                           "function": {"name": fn.get("name", ""),
                                        "arguments": json.dumps(args)}}]  # fmt: skip
            content = None
        elif request.response_format:
            content = json.dumps(_instance(request.response_format.get("schema") or {}, digest))
        else:
            content = _answer(request.messages, digest)
        if request.max_tokens is not None and content is not None:
            content = content[: request.max_tokens * 4]
        if self.config.calls_log:
            with open(self.config.calls_log, "a", encoding="utf-8") as f:
                # whether a credential was injected, never the credential itself
                f.write(
                    json.dumps(
                        {
                            "model": request.model,
                            "digest": digest[:16],
                            "with_credential": request.api_key is not None,
                        }
                    )
                    + "\n"
                )
        out = content if content is not None else json.dumps(tool_calls)
        return LLMResult(content, request.model, self.count_tokens(request.model,
                         request.messages), _tokens(out), tool_calls=tool_calls,
                         finish_reason="tool_calls" if tool_calls else "stop")  # fmt: skip


def _answer(messages: list[dict[str, Any]], digest: str) -> str:
    """A short deterministic paragraph that echoes the last user turn."""
    last = next((str(m.get("content") or "") for m in reversed(messages)
                 if m.get("role") == "user"), "")  # fmt: skip
    first = " ".join(last.split())[:120]
    return (
        f'[offline answer {digest[:8]}] On "{first}": three points stand out. '
        "First, state the goal plainly. Second, check each claim against a source. "
        "Third, keep what survives and say what is still open."
    )


def _instance(schema: dict[str, Any], digest: str, defs: dict[str, Any] | None = None) -> Any:
    """A small value that satisfies a JSON schema (the subset pydantic emits)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return _instance(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), digest, defs)
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return _instance(schema[key][0], digest, defs)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _instance(v, digest, defs) for k, v in props.items()}
    if kind == "array":
        return [_instance(schema.get("items", {}), digest, defs)]
    if kind in ("integer", "number"):
        return int(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return f"offline-{digest[:8]}"
