"""``offline`` LLM gateway: deterministic answers with realistic token counts, no network.

A placeholder for demos and tests until the litellm flavor lands; it never calls anything.
"""

from __future__ import annotations

import hashlib

from kitaru.components.llm_gateway import LLMGateway, LLMGatewayConfig, LLMRequest, LLMResult


class OfflineLLMConfig(LLMGatewayConfig):
    aliases: dict[str, str] = {"fast": "offline/echo", "smart": "offline/echo"}


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class OfflineLLMGateway(LLMGateway):
    config: OfflineLLMConfig

    def complete(self, request: LLMRequest) -> LLMResult:
        model = self.resolve_alias(request.model)
        prompt = "\n".join(str(m.get("content", "")) for m in request.messages)
        digest = hashlib.sha256(prompt.encode()).hexdigest()[:8]
        first = prompt.strip().splitlines()[0][:60] if prompt.strip() else ""
        content = f"[{model} {digest}] {first}"
        return LLMResult(content, model, _tokens(prompt), _tokens(content), cost_usd=0.0)
