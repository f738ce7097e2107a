"""LLM gateway: completes model calls, resolving aliases, credentials and prices from its config.

A flavor implements :meth:`LLMGateway.complete` only: it receives a request whose ``model`` is
already resolved (``openai/gpt-4o-mini``, never an alias) and whose ``api_key`` holds the
credential for that provider, resolved through the stack's secret store for this one call.
:meth:`LLMGateway.call` is what the runtime uses: alias → model, credential → request, then the
cost (the config's ``prices`` win over what the flavor reports).
"""

from __future__ import annotations

import re
from abc import abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kitaru.components.base import LLM_GATEWAY, ComponentConfig, StackComponent
from kitaru.errors import ConfigError, KitaruError


class ModelPrice(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: float = Field(ge=0, description="USD per million prompt tokens")
    output: float = Field(ge=0, description="USD per million completion tokens")


class LLMGatewayConfig(ComponentConfig):
    #: alias -> provider model, e.g. ``{"fast": "openai/gpt-4o-mini"}``
    aliases: dict[str, str] = {}
    #: provider -> secret reference, e.g. ``{"openai": "{{secret:openai.api_key}}"}``
    credentials: dict[str, str] = {}
    #: provider model -> price; overrides what the flavor knows (models it has no price for)
    prices: dict[str, ModelPrice] = {}


@dataclass
class LLMRequest:
    """One model call. ``model`` is an alias or ``provider/model`` when given to :meth:`call`
    and always the resolved model when a flavor's :meth:`complete` receives it."""

    model: str
    messages: list[dict[str, Any]]
    temperature: float | None = None
    max_tokens: int | None = None
    tools: list[dict[str, Any]] | None = None
    #: ``{"name": ..., "schema": <JSON schema>}`` when a structured answer is asked for
    response_format: dict[str, Any] | None = None
    #: the provider credential for this call only; never recorded, never printed
    api_key: str | None = field(default=None, repr=False)


@dataclass
class LLMResult:
    content: str | None
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float | None = None
    #: OpenAI shape: ``{"id", "type": "function", "function": {"name", "arguments"}}``
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    #: where the credential came from (``openai.api_key``: the secret's name), set by ``call``
    credential: str | None = None


class LLMProviderError(KitaruError):
    """The provider refused or failed a call (network, auth, rate limit, bad request)."""


def provider_of(model: str) -> str:
    return model.partition("/")[0] if "/" in model else ""


def scrub(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` masked: whole, by a long prefix, or any run of 8+ of its
    characters; and every secret value this process knows (:mod:`kitaru.redact`)."""
    from kitaru.redact import scrub as scrub_known

    if secret:
        text = text.replace(secret, "***")
        if len(secret) >= 8:  # providers echo keys partly masked: "sk-loca********cret"
            text = re.sub(re.escape(secret[:6]) + r"\S*", "***", text)
    return scrub_known(text, secret)


def _chain(exc: BaseException) -> str:
    """The text of ``exc`` and of every exception it was raised from or during."""
    parts, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{current} {getattr(current, 'hint', None) or ''}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


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
            hint="known aliases: " + (", ".join(sorted(self.config.aliases)) or "none")
            + "; or name a model as provider/model",
        )  # fmt: skip

    def credential(self, model: str) -> tuple[str | None, str | None]:
        """``(source, value)`` of the credential configured for ``model``'s provider: source is
        the secret's ``name.key``, never its value. ``(None, None)`` when none is configured."""
        ref = self.config.credentials.get(provider_of(model))
        if ref is None:
            return None, None
        from kitaru.stack.references import is_secret_reference, parse_secret_reference

        if not is_secret_reference(ref):  # refused at register time; be safe anyway
            raise ConfigError(f"credential for {provider_of(model)!r} is not a secret reference")
        name, key = parse_secret_reference(ref)
        return f"{name}.{key}", self.secret(ref)

    def price(self, model: str) -> ModelPrice | None:
        """The price per million tokens of ``model``: the config's, else the flavor's."""
        return self.config.prices.get(model) or self.known_price(model)

    def known_price(self, model: str) -> ModelPrice | None:
        """The flavor's own price list (litellm's cost map, say); None if it has none."""
        return None

    def estimate_cost(self, request: LLMRequest) -> float | None:
        """What ``request`` costs at least: its prompt tokens at the model's input price (the
        completion is unknown before the call). None when the model has no known price. Used
        to refuse a call that would exceed a budget before anything is sent."""
        model = self.resolve_alias(request.model)
        p = self.price(model)
        if p is None:
            return None
        return self.count_tokens(model, request.messages) * p.input / 1e6

    def count_tokens(self, model: str, messages: list[dict[str, Any]]) -> int:
        """Prompt tokens of ``messages`` (flavors may count exactly; ~4 characters a token)."""
        return max(1, sum(len(str(m.get("content") or "")) for m in messages) // 4)

    def call(self, request: LLMRequest) -> LLMResult:
        """Resolve the alias and the credential, complete, price. Errors never carry the key."""
        model = self.resolve_alias(request.model)
        source, key = self.credential(model)  # a missing secret fails here: nothing was sent
        try:
            result = self.complete(replace(request, model=model, api_key=key))
        except KitaruError as exc:
            chain = _chain(exc)
            if scrub(chain, key) != chain:  # the message, hint or a cause echoes a secret
                hint = None if exc.hint is None else scrub(exc.hint, key)
                raise type(exc)(scrub(str(exc), key), hint=hint) from None
            raise
        except Exception as exc:
            raise LLMProviderError(
                f"{model}: {type(exc).__name__}: {scrub(str(exc), key)}"[:2000],
                hint="check the model name, the provider's credentials and that it is reachable",
            ) from None
        result.credential = source
        result.model = scrub(result.model, key)  # recorded in the call's metadata
        if result.finish_reason is not None:
            result.finish_reason = scrub(result.finish_reason, key)
        configured = self.config.prices.get(model)
        p = configured or (self.known_price(model) if result.cost_usd is None else None)
        if p is not None:
            result.cost_usd = (result.tokens_in * p.input + result.tokens_out * p.output) / 1e6
        return result

    @abstractmethod
    def complete(self, request: LLMRequest) -> LLMResult:
        """Call ``request.model`` (resolved) with ``request.api_key`` (may be None)."""
