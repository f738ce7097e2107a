"""The contract every LLM gateway flavor passes."""

from __future__ import annotations

import pytest

from kitaru.components.llm_gateway import LLMGateway, LLMRequest, LLMResult
from kitaru.errors import ConfigError


class LLMGatewayContract:
    """Subclass as ``TestMyGateway`` and override the ``llm_gateway`` fixture; its config must
    define at least one alias. Override ``llm_model`` to choose which one the suite calls (the
    cheapest: every call is a real request). A gateway that answers any model name (the
    offline one) sets ``any_model = True``: the suite then checks such a name is answered and
    recorded instead of refused."""

    #: True when every model name is answered (no unknown-alias error to check)
    any_model: bool = False

    @pytest.fixture
    def llm_gateway(self) -> LLMGateway:
        raise NotImplementedError("override the `llm_gateway` fixture to return your gateway")

    @pytest.fixture
    def llm_model(self, llm_gateway: LLMGateway) -> str:
        if not llm_gateway.config.aliases:
            pytest.fail("the gateway under test defines no alias; configure one")
        return sorted(llm_gateway.config.aliases)[0]

    def request(self, model: str) -> LLMRequest:
        return LLMRequest(model=model, messages=[{"role": "user", "content": "Say hello."}],
                          max_tokens=16)  # fmt: skip

    def test_is_an_llm_gateway(self, llm_gateway: LLMGateway) -> None:
        assert isinstance(llm_gateway, LLMGateway)
        assert llm_gateway.TYPE == "llm_gateway"

    def test_resolve_known_alias(self, llm_gateway: LLMGateway, llm_model: str) -> None:
        assert llm_gateway.resolve_alias(llm_model) == llm_gateway.config.aliases[llm_model]

    def test_resolve_provider_model_passes_through(self, llm_gateway: LLMGateway) -> None:
        assert llm_gateway.resolve_alias("someprovider/some-model") == "someprovider/some-model"

    def test_unknown_alias_lists_the_known_ones(self, llm_gateway: LLMGateway) -> None:
        if self.any_model:
            assert llm_gateway.resolve_alias("no-such-alias") == "no-such-alias"
            return
        with pytest.raises(ConfigError) as info:
            llm_gateway.resolve_alias("no-such-alias")
        assert "no-such-alias" in str(info.value)
        assert info.value.hint is not None
        for alias in llm_gateway.config.aliases:
            assert alias in info.value.hint

    def test_call_returns_a_result(self, llm_gateway: LLMGateway, llm_model: str) -> None:
        result = llm_gateway.call(self.request(llm_model))
        assert isinstance(result, LLMResult)
        assert isinstance(result.content, str) and result.content
        # the provider may report a more precise name ("gpt-4o-mini-2024-07-18")
        assert result.model
        assert result.tokens_in > 0 and result.tokens_out > 0
        assert result.cost_usd is None or result.cost_usd >= 0

    def test_call_with_unknown_alias_raises_before_sending(self, llm_gateway: LLMGateway) -> None:
        if self.any_model:
            result = llm_gateway.call(self.request("no-such-alias"))
            assert result.model == "no-such-alias" and result.content
            return
        with pytest.raises(ConfigError):
            llm_gateway.call(self.request("no-such-alias"))

    def test_configured_price_wins(self, llm_gateway: LLMGateway, llm_model: str) -> None:
        from kitaru.components.llm_gateway import ModelPrice

        model = llm_gateway.resolve_alias(llm_model)
        priced = llm_gateway.config.model_copy(
            update={"prices": {model: ModelPrice(input=1_000_000.0, output=0.0)}}
        )
        gateway = type(llm_gateway)(llm_gateway.name, priced, secrets=llm_gateway._secrets)
        result = gateway.call(self.request(llm_model))
        assert result.cost_usd == result.tokens_in  # $1 per token in, nothing out

    def test_describe_holds_no_secret_values(self, llm_gateway: LLMGateway) -> None:
        from kitaru.stack.references import is_secret_reference

        credentials = llm_gateway.describe()["config"].get("credentials", {})
        assert all(is_secret_reference(v) for v in credentials.values()), (
            "credentials must be {{secret:name.key}} references, never plain values"
        )

    def test_verify_ok(self, llm_gateway: LLMGateway) -> None:
        llm_gateway.verify()  # raises ConfigError saying what is wrong
