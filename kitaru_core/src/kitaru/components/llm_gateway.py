"""LLM gateway: completes model calls, resolving aliases and credentials from its config."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any

from kitaru.components.base import LLM_GATEWAY, ComponentConfig, StackComponent
from kitaru.errors import ConfigError


class LLMGatewayConfig(ComponentConfig):
    #: alias -> provider model, e.g. ``{"fast": "openai/gpt-4o-mini"}``
    aliases: dict[str, str] = {}
    #: provider -> secret reference, e.g. ``{"openai": "{{secret:openai.api_key}}"}``
    credentials: dict[str, str] = {}


@dataclass
class LLMRequest:
    model: str
    messages: list[dict[str, Any]]
    temperature: float | None = None
    max_tokens: int | None = None
    tools: list[dict[str, Any]] | None = None
    response_format: dict[str, Any] | None = None


@dataclass
class LLMResult:
    content: str | None
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


class LLMGateway(StackComponent):
    TYPE = LLM_GATEWAY
    config: LLMGatewayConfig

    def resolve_alias(self, model: str) -> str:
        """``fast`` -> ``openai/gpt-4o-mini``; unknown names without a provider are errors."""
        if model in self.config.aliases:
            return self.config.aliases[model]
        if "/" in model:
            return model
        raise ConfigError(
            f"unknown model alias {model!r}",
            hint="known aliases: " + (", ".join(sorted(self.config.aliases)) or "none"),
        )

    @abstractmethod
    def complete(self, request: LLMRequest) -> LLMResult:
        """Call the resolved model."""
