"""``kitaru.llm()``: a tracked model call through the active stack's LLM gateway.

Inside a flow every call is journaled (see :mod:`kitaru.runtime.llm_calls`): at flow level it is
its own durable call, inside a checkpoint a child record of that checkpoint. Resume and replay
return the recorded answer; the provider is called again only when the call's input changed.
Outside a flow the call goes straight to the gateway of the active stack, untracked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, overload

from kitaru.errors import LLMOutputError, UsageError
from kitaru.validation import check_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import BaseModel

    from kitaru.components.llm_gateway import LLMResult

M = TypeVar("M", bound="BaseModel")

__all__ = ["LLMResponse", "ToolCall", "Usage", "llm"]


@dataclass(frozen=True)
class ToolCall:
    """A tool the model asked to call, with its arguments parsed from JSON."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Usage:
    tokens_in: int
    tokens_out: int


@dataclass(frozen=True)
class LLMResponse:
    """What ``kitaru.llm(..., tools=[...])`` returns."""

    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=lambda: Usage(0, 0))
    cost: float | None = None
    model: str = ""
    finish_reason: str | None = None


@overload
def llm(
    prompt: str | None = None, *, messages: list[dict[str, Any]] | None = None,
    model: str | None = None, system: str | None = None, temperature: float | None = None,
    max_tokens: int | None = None, tools: None = None, response_format: None = None,
    name: str | None = None,
) -> str: ...  # fmt: skip
@overload
def llm(
    prompt: str | None = None, *, messages: list[dict[str, Any]] | None = None,
    model: str | None = None, system: str | None = None, temperature: float | None = None,
    max_tokens: int | None = None, tools: None = None, response_format: type[M],
    name: str | None = None,
) -> M: ...  # fmt: skip
@overload
def llm(
    prompt: str | None = None, *, messages: list[dict[str, Any]] | None = None,
    model: str | None = None, system: str | None = None, temperature: float | None = None,
    max_tokens: int | None = None, tools: list[dict[str, Any] | Callable[..., Any]],
    response_format: None = None, name: str | None = None,
) -> LLMResponse: ...  # fmt: skip
def llm(
    prompt: str | None = None,
    *,
    messages: list[dict[str, Any]] | None = None,
    model: str | None = None,
    system: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    tools: list[dict[str, Any] | Callable[..., Any]] | None = None,
    response_format: type[BaseModel] | None = None,
    name: str | None = None,
) -> Any:
    """Call a model through the stack's LLM gateway and record it.

    ``model`` is an alias of the gateway (``"fast"``) or ``provider/model``; without it the
    alias ``default`` is used. ``prompt`` is appended to ``messages`` as the user's turn and
    ``system`` put first. Returns the answer's text; with ``response_format=`` a validated
    instance of that pydantic model; with ``tools=`` (OpenAI tool specs or plain functions) an
    :class:`LLMResponse` carrying the tool calls. ``name`` names the journal record (``llm``).
    """
    from kitaru.components.llm_gateway import LLMRequest
    from kitaru.runtime.llm_calls import complete

    request = LLMRequest(
        model=model or "default",
        messages=_messages(prompt, messages, system),
        temperature=temperature,
        max_tokens=max_tokens,
        tools=[_tool_spec(t) for t in tools] if tools else None,
        response_format=_response_format(response_format),
    )
    check_text(name, "llm name")
    if name is not None and (not name or "/" in name or "#" in name):
        raise UsageError(f"llm name must be non-empty without '/' or '#', not {name!r}")
    result = complete(request, name or "llm", validate=_validator(response_format))
    if response_format is not None:
        return response_format.model_validate_json(result.content or "")
    if tools:
        return to_response(result)
    return result.content or ""


def to_response(result: LLMResult) -> LLMResponse:
    calls = []
    for c in result.tool_calls:
        fn = c.get("function") or {}
        raw = fn.get("arguments") or "{}"
        try:
            args = json.loads(raw) if isinstance(raw, str) else dict(raw)
        except ValueError:
            args = {"_raw": raw}
        calls.append(ToolCall(str(c.get("id") or ""), str(fn.get("name") or ""), args))
    return LLMResponse(result.content, calls, Usage(result.tokens_in, result.tokens_out),
                       result.cost_usd, result.model, result.finish_reason)  # fmt: skip


def _messages(
    prompt: str | None, messages: list[dict[str, Any]] | None, system: str | None
) -> list[dict[str, Any]]:
    if prompt is None and not messages:
        raise UsageError("kitaru.llm() needs prompt= or messages=")
    out = [dict(m) for m in messages or []]
    for m in out:
        if not isinstance(m, dict) or "role" not in m:
            raise UsageError(f"each message must be a dict with 'role' and 'content', not {m!r}")
    if system is not None:
        out.insert(0, {"role": "system", "content": system})
    if prompt is not None:
        out.append({"role": "user", "content": prompt})
    return out


def _tool_spec(tool: dict[str, Any] | Callable[..., Any]) -> dict[str, Any]:
    """An OpenAI tool spec; a plain function becomes one from its signature and docstring."""
    if isinstance(tool, dict):
        return tool
    if not callable(tool):
        raise UsageError(f"a tool must be an OpenAI tool spec (dict) or a function, not {tool!r}")
    import inspect

    from pydantic import create_model

    fields: dict[str, Any] = {}
    for p in inspect.signature(tool).parameters.values():
        annotation = Any if p.annotation is inspect.Parameter.empty else p.annotation
        fields[p.name] = (annotation, ... if p.default is inspect.Parameter.empty else p.default)
    schema = create_model(f"{tool.__name__}_args", **fields).model_json_schema()
    schema.pop("title", None)
    doc = inspect.getdoc(tool) or ""
    return {"type": "function",
            "function": {"name": tool.__name__, "description": doc, "parameters": schema}}  # fmt: skip


def _response_format(model: type[BaseModel] | None) -> dict[str, Any] | None:
    if model is None:
        return None
    if not hasattr(model, "model_json_schema"):
        raise UsageError(f"response_format must be a pydantic model class, not {model!r}")
    return {"name": model.__name__, "schema": model.model_json_schema()}


def _validator(model: type[BaseModel] | None) -> Callable[[LLMResult], None] | None:
    if model is None:
        return None

    def validate(result: LLMResult) -> None:
        try:
            model.model_validate_json(result.content or "")
        except Exception as exc:
            detail = str(exc).splitlines()
            raise LLMOutputError(
                f"{result.model} answered something that is not a valid {model.__name__}: "
                + " ".join(line.strip() for line in detail[:3]),
                hint="lower the temperature, use a larger model or loosen the schema",
            ) from None

    return validate
