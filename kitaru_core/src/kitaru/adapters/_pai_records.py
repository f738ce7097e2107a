"""What the PydanticAI adapter records: fingerprints, model-request records, approval schemas.

A model request's fingerprint is what it sends without what changes from one pass to the next
(timestamps, run ids): a resumed run's request matches its record, and a replay whose earlier
tool result was overridden sends something else, so the model is asked again.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import typing
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from kitaru.runtime.serialization import fingerprint

#: keys whose values differ between two passes over the same run (never part of a fingerprint)
_VOLATILE = frozenset({"timestamp", "run_id", "conversation_id", "metadata"})


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value, serialize_unknown=True, bytes_mode="base64")


def model_fingerprint(cache_key: tuple[object, ...]) -> bytes:
    """sha256 over the model id, the messages, settings and request parameters (tools, output
    schema) — the run context (the fifth element) is left out: it holds the run's own state."""
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    model_id, messages, settings, parameters = cache_key[:4]
    sent = {
        "model_id": model_id,
        "messages": _stable(ModelMessagesTypeAdapter.dump_python(messages, mode="json")),  # type: ignore[arg-type]
        "settings": _stable(_jsonable(settings)),
        "parameters": _stable(_jsonable(parameters)),
    }
    return hashlib.sha256(json.dumps(sent, sort_keys=True, default=str).encode()).digest()


def tool_fingerprint(tool: str, args: Any) -> bytes:
    """The tool and its arguments (given by the model, whose answer is itself recorded)."""
    return fingerprint({"tool": tool, "args": _jsonable(args)})


def _last_request(messages: Any) -> list[dict[str, Any]]:
    """The newest request's parts, as the prompt shown for this call (the history before it
    is in the earlier calls' records)."""
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    if not messages:
        return []
    dumped = ModelMessagesTypeAdapter.dump_python(list(messages)[-1:], mode="json")
    return list(dumped[0].get("parts") or [])


def model_record(
    cache_key: tuple[object, ...], payload: Any, latency: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A model request's record value (prompt, response in ``kitaru.llm()``'s shape, and
    PydanticAI's own payload, which a resume returns) and its usage metadata."""
    payload = payload if isinstance(payload, dict) else {}
    parts = payload.get("parts") or []
    text = "".join(str(p.get("content") or "") for p in parts if p.get("part_kind") == "text")
    tool_calls = [
        {"id": p.get("tool_call_id"), "type": "function",
         "function": {"name": p.get("tool_name"), "arguments": json.dumps(p.get("args"))}}
        for p in parts if p.get("part_kind") == "tool-call"
    ]  # fmt: skip
    usage = payload.get("usage") or {}
    model = payload.get("model_name") or ""
    value = {
        "prompt": {"model": str(cache_key[0] or model), "messages": _last_request(cache_key[1])},
        "response": {"content": text or None, "tool_calls": tool_calls,
                     "finish_reason": payload.get("finish_reason"), "model": model},
        "payload": payload,
    }  # fmt: skip
    meta = {
        "provider_model": model, "provider": payload.get("provider_name"), "credential": None,
        "tokens_in": int(usage.get("input_tokens") or 0),
        "tokens_out": int(usage.get("output_tokens") or 0),
        "latency_s": round(latency, 4), "cost_usd": _cost(payload),
        "finish_reason": payload.get("finish_reason"),
    }  # fmt: skip
    return value, meta


def _cost(payload: dict[str, Any]) -> float | None:
    """USD from PydanticAI's price data (genai-prices), or None for a model it does not know."""
    try:
        from pydantic import TypeAdapter
        from pydantic_ai.messages import ModelResponse

        response = TypeAdapter(ModelResponse).validate_python(payload)
        return float(response.cost().total_price)
    except Exception:  # unknown model or provider (test models, local servers): no price
        return None


@lru_cache(maxsize=256)
def _approval_model(tool: str, fn: Callable[..., Any] | None, skip_first: bool) -> Any:
    from pydantic import BaseModel, create_model

    args_type: Any = dict[str, Any]
    if fn is not None:
        fields: dict[str, Any] = {}
        try:  # resolves string annotations (``from __future__ import annotations``)
            hints = typing.get_type_hints(fn)
        except Exception:
            hints = dict(getattr(fn, "__annotations__", {}))
        params = list(inspect.signature(fn).parameters.values())
        for p in params[1:] if skip_first else params:  # skip the RunContext: not the model's
            annotation = hints.get(p.name, Any)
            fields[p.name] = (annotation, ... if p.default is p.empty else p.default)
        args_type = create_model(f"{tool}_args", **fields)
    return create_model(
        f"approve_{tool}",
        __base__=BaseModel,
        approved=(bool, ...),
        reason=(str | None, None),
        args=(args_type | None, None),
    )


def approval_schema(tool: str, fn: Callable[..., Any] | None, skip_first: bool = False) -> Any:
    """The wait's type for approving a call of ``tool``: ``approved``, an optional ``reason``
    (told to the model on a denial) and optional ``args`` typed by the tool's parameters
    (the call runs with them instead of the model's)."""
    return _approval_model(tool, fn, skip_first)
