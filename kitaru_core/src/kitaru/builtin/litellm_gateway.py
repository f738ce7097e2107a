"""``litellm`` LLM gateway: every provider litellm speaks to (OpenAI, Anthropic, Bedrock, Vertex,
Azure, any OpenAI-compatible server such as vLLM, llama.cpp or Ollama) behind Kitaru's aliases,
secret-store credentials and prices.

litellm is imported on the first call, never at ``import kitaru``: it takes seconds and ~150 MB.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Any, Literal

from pydantic import Field, field_validator

from kitaru.components.llm_gateway import (
    LLMGateway,
    LLMGatewayConfig,
    LLMProviderError,
    LLMRequest,
    LLMResult,
    ModelPrice,
    provider_of,
    scrub,
)
from kitaru.errors import ConfigError, KitaruError

INSTALL_HINT = "pip install 'kitaru[litellm]'"


def _is_credential(param: str) -> bool:
    """``api_key``, ``aws_secret_access_key``, ``azure_ad_token``, ``vertex_credentials``: keys
    of ``params`` that would hold a credential in plain text (not ``max_tokens``)."""
    p = param.lower()
    return p.endswith("token") or any(w in p for w in ("key", "secret", "password", "credential"))


class LiteLLMConfig(LLMGatewayConfig):
    #: provider (``openai``) or provider model (``openai/smollm2``) -> API base URL; the model's
    #: entry wins. For self-hosted OpenAI-compatible servers, proxies and regional endpoints.
    api_bases: dict[str, str] = {}
    #: seconds one request may take, connecting included
    timeout: float = Field(120.0, gt=0)
    #: litellm's retries of a failed request (rate limit, 5xx, connection). 0 by default: a
    #: checkpoint's own retries decide, and they are recorded.
    num_retries: int = Field(0, ge=0)
    #: provider or provider model -> how a structured answer is asked for: ``json_schema``
    #: (OpenAI's, the default) or ``json_object`` with the schema beside it, for servers that
    #: lack json_schema (llama-cpp-python's)
    response_formats: dict[str, Literal["json_schema", "json_object"]] = {}
    #: drop request parameters a provider does not support instead of failing the call
    drop_params: bool = False
    #: provider or provider model -> extra litellm arguments (``api_version``, ``top_p``,
    #: ``reasoning_effort``, ``extra_headers``, ...); the model's entry is applied last
    params: dict[str, dict[str, Any]] = {}

    @field_validator("params")
    @classmethod
    def _no_credentials_in_params(cls, value: dict[str, dict[str, Any]]) -> Any:
        for target, extra in value.items():
            bad = [k for k in extra if _is_credential(k)]
            if bad:
                raise ValueError(f"params[{target!r}] sets {bad[0]!r}: put credentials under "
                                 "`credentials` as {{secret:name.key}} references")  # fmt: skip
        return value


def _litellm() -> Any:
    # The cost map is bundled with litellm; without this it downloads a fresh one at import,
    # which hangs or warns on machines without internet access.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError as exc:
        raise ConfigError(f"the litellm LLM gateway needs litellm ({exc})",
                          hint=INSTALL_HINT) from None  # fmt: skip
    # no "Give Feedback / Get Help" and "Provider List" banners on stdout for every error
    litellm.suppress_debug_info = True
    # litellm 1.80 dumps its own response types in a way pydantic >= 2.12 warns about, on every
    # call; harmless. Re-added each time: pytest resets the filters around each test.
    warnings.filterwarnings("ignore", r"Pydantic serializer warnings:[\s\S]*StreamingChoices",
                            UserWarning)  # fmt: skip
    return litellm


def _tool_call(call: Any) -> dict[str, Any]:
    name, arguments = call.function.name, call.function.arguments or "{}"
    return {"id": call.id, "type": getattr(call, "type", None) or "function",
            "function": {"name": name, "arguments": arguments}}  # fmt: skip


class LiteLLMGateway(LLMGateway):
    config: LiteLLMConfig

    def _for(self, mapping: dict[str, Any], model: str) -> Any:
        """The model's entry of ``mapping``, else its provider's."""
        return mapping.get(model, mapping.get(provider_of(model)))

    def complete(self, request: LLMRequest) -> LLMResult:
        litellm = _litellm()
        model = request.model
        kwargs: dict[str, Any] = {
            "model": model, "messages": request.messages, "api_key": request.api_key,
            "api_base": self._for(self.config.api_bases, model),
            "timeout": self.config.timeout, "num_retries": self.config.num_retries,
            # the provider SDK's own retries (openai: 2, with backoff) would hide behind ours
            "max_retries": 0,
        }  # fmt: skip
        if self.config.drop_params:
            kwargs["drop_params"] = True
        for key in (provider_of(model), model):  # provider's params, then the model's
            kwargs.update(self.config.params.get(key, {}))
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        if request.tools:
            kwargs["tools"] = request.tools
            kwargs["tool_choice"] = "auto"  # the model answers or calls, as it sees fit
        if request.response_format:
            fmt, schema = request.response_format, request.response_format["schema"]
            if self._for(self.config.response_formats, model) == "json_object":
                kwargs["response_format"] = {"type": "json_object", "schema": schema}
            else:
                kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": fmt.get("name") or "answer", "schema": schema}}  # fmt: skip
        try:
            response = litellm.completion(**kwargs)
        except Exception as exc:
            raise self._error(exc, model, kwargs["api_base"], request.api_key) from None
        choice = response.choices[0]
        message = choice.message
        usage = getattr(response, "usage", None)
        try:  # litellm knows the price of the models in its cost map only
            cost: float | None = float(litellm.completion_cost(completion_response=response))
        except Exception:
            cost = None
        return LLMResult(
            content=message.content,
            model=getattr(response, "model", None) or model,
            tokens_in=int(getattr(usage, "prompt_tokens", 0) or 0),
            tokens_out=int(getattr(usage, "completion_tokens", 0) or 0),
            cost_usd=cost,
            tool_calls=[_tool_call(c) for c in message.tool_calls or []],
            finish_reason=choice.finish_reason,
        )

    def _error(self, exc: Exception, model: str, api_base: str | None,
               key: str | None) -> KitaruError:  # fmt: skip
        """One line naming the model and what failed; never the key, never a traceback."""
        if isinstance(exc, KitaruError):
            return exc
        name = type(exc).__name__
        # litellm prefixes its messages with the class name, twice: "litellm.X: X: ..."
        message = " ".join(str(exc).split())  # one line
        message = re.sub(rf"^(litellm\.)?{name}:\s*({name}:\s*)?", "", message)
        message = scrub(message, key)[:400]
        where = f" at {api_base}" if api_base else ""
        if "Authentication" in name or "PermissionDenied" in name:
            hint = f"check the credential configured for {provider_of(model)!r}"
        elif re.search(r"Connection|Timeout|timed out", f"{name} {message}"):
            # litellm reports a refused connection as an InternalServerError
            hint = f"is the provider{where} reachable? (timeout {self.config.timeout:g}s)"
        elif "NotFound" in name or "BadRequest" in name:
            hint = "check the model name and the request's parameters"
        else:
            hint = "check the model name, the provider's credentials and that it is reachable"
        return LLMProviderError(f"{model}{where}: {name}: {message}", hint=hint)

    def resolve_alias(self, model: str) -> str:
        """An alias, a ``provider/model``, or a bare model name litellm knows (``gpt-4o``)."""
        if model in self.config.aliases or "/" in model:
            return super().resolve_alias(model)
        if model in _litellm().model_cost:
            return model
        return super().resolve_alias(model)  # the error listing the aliases

    def known_price(self, model: str) -> ModelPrice | None:
        litellm = _litellm()
        try:
            info = litellm.get_model_info(model)
        except Exception:  # not in litellm's cost map
            return None
        cost_in, cost_out = info.get("input_cost_per_token"), info.get("output_cost_per_token")
        if cost_in is None or cost_out is None:
            return None
        return ModelPrice(input=cost_in * 1e6, output=cost_out * 1e6)

    def count_tokens(self, model: str, messages: list[dict[str, Any]]) -> int:
        litellm = _litellm()
        try:
            return int(litellm.token_counter(model=model, messages=messages))
        except Exception:  # a message shape litellm cannot count: the estimate will do
            return super().count_tokens(model, messages)

    def verify(self) -> None:
        """litellm is installed and every credential resolves; nothing is sent to a provider."""
        _litellm()
        for provider in sorted(self.config.credentials):
            ref = self.config.credentials[provider]
            try:
                self.secret(ref)
            except KitaruError as exc:
                raise ConfigError(f"credential for {provider!r} ({ref}): {exc}",
                                  hint=exc.hint) from None  # fmt: skip
