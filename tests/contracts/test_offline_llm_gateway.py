"""The builtin ``offline`` LLM gateway passes the LLM gateway contract."""

from __future__ import annotations

import pytest

from kitaru.components.llm_gateway import LLMGateway
from kitaru.testing import LLMGatewayContract, build_component


class TestOfflineLLMGateway(LLMGatewayContract):
    FLAVOR = "offline"
    any_model = True  # code written for a provider runs offline as written

    @pytest.fixture(params=["default-aliases", "custom-aliases"])
    def llm_gateway(self, request: pytest.FixtureRequest) -> LLMGateway:
        if request.param == "default-aliases":
            return build_component("llm_gateway", self.FLAVOR)
        return build_component("llm_gateway", self.FLAVOR,
                               aliases={"cheap": "offline/mini", "best": "offline/max"})  # fmt: skip
