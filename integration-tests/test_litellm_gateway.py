"""The ``litellm`` LLM gateway against a real model: llama-cpp-python's OpenAI-compatible server
serving SmolLM2-135M (``llm_server``), with its credential in a real local secret store.

The model's answers are nonsense (deterministic at temperature 0): only shapes are asserted.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kitaru.components.llm_gateway import LLMGateway, LLMProviderError, LLMRequest, ModelPrice
from kitaru.errors import ConfigError, KitaruError
from kitaru.testing import LLMGatewayContract, build_component
from tests.conftest import REPO, subprocess_env

if TYPE_CHECKING:  # the fixture comes from conftest; tests/contracts loads this module too
    from llm_server import LLMServer

#: llama's server accepts any key; this one must leak nowhere
API_KEY = "sk-kitaru-canary-7f3a9c1e5b"
CREDENTIAL = "{{secret:local-llm.api_key}}"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}  # fmt: skip


def gateway(tmp_path: Path, api_base: str, *, store_key: bool = True, **config: Any) -> Any:
    """A litellm gateway built through its flavor, its credential resolved by a real local
    secret store (as a stack does)."""
    store = build_component("secret_store", "local", path=str(tmp_path / "secrets.json"))
    if store_key:
        store.set("local-llm", {"api_key": API_KEY})
    config = {"aliases": {"fast": "openai/smollm2"}, "api_bases": {"openai": api_base},
              "credentials": {"openai": CREDENTIAL}, **config}  # fmt: skip
    return build_component("llm_gateway", "litellm", secrets=store.resolve, **config)


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


class TestLiteLLMGateway(LLMGatewayContract):
    FLAVOR = "litellm"

    @pytest.fixture
    def llm_gateway(self, llm_server: LLMServer, tmp_path: Path) -> LLMGateway:
        return gateway(tmp_path, llm_server.url)


def ask(**kw: Any) -> LLMRequest:
    defaults = {"model": "fast", "temperature": 0.0, "max_tokens": 24,
                "messages": [{"role": "user", "content": "Say hello."}]}  # fmt: skip
    return LLMRequest(**{**defaults, **kw})


def test_a_call_reports_model_tokens_credential_and_no_cost(
    llm_server: LLMServer, tmp_path: Path
) -> None:
    g = gateway(tmp_path, llm_server.url)
    before = llm_server.requests()
    result = g.call(ask())
    assert llm_server.requests() == before + 1
    assert isinstance(result.content, str)
    assert llm_server.model in result.model
    assert 0 < result.tokens_out <= 24 and result.tokens_in > 0
    assert result.finish_reason in ("stop", "length")
    assert result.credential == "local-llm.api_key"  # the secret's name, not its value
    # litellm has no price for a local model and none is configured: unknown, not free
    assert result.cost_usd is None
    assert g.known_price("openai/smollm2") is None and g.estimate_cost(ask()) is None


def test_configured_prices_give_the_cost(llm_server: LLMServer, tmp_path: Path) -> None:
    g = gateway(tmp_path, llm_server.url, prices={"openai/smollm2": {"input": 2.0, "output": 8.0}})
    result = g.call(ask())
    assert result.cost_usd == pytest.approx(
        (result.tokens_in * 2.0 + result.tokens_out * 8.0) / 1e6
    )
    estimate = g.estimate_cost(ask())
    assert estimate is not None and 0 < estimate == pytest.approx(g.count_tokens(
        "openai/smollm2", ask().messages) * 2.0 / 1e6)  # fmt: skip


def test_litellm_prices_known_models(tmp_path: Path) -> None:
    g = gateway(tmp_path, "http://127.0.0.1:9/v1")
    price = g.known_price("openai/gpt-4o-mini")
    assert isinstance(price, ModelPrice) and price.input > 0 and price.output > price.input
    assert g.count_tokens("openai/gpt-4o-mini", ask().messages) > 0


def test_tool_calls_come_back_in_openai_shape(llm_server: LLMServer, tmp_path: Path) -> None:
    g = gateway(tmp_path, llm_server.url)
    request = ask(messages=[{"role": "user", "content": "What is the weather in Paris?"}],
                  tools=[WEATHER], max_tokens=64)  # fmt: skip
    result = g.call(request)
    assert result.tool_calls, result
    for call in result.tool_calls:
        assert set(call) == {"id", "type", "function"}
        assert isinstance(call["id"], str) and call["id"]
        assert call["type"] == "function"
        assert call["function"]["name"] == "get_weather"
        assert isinstance(json.loads(call["function"]["arguments"]), dict)
    json.dumps(result.tool_calls)  # plain data: recordable as is


def test_structured_output_is_json_of_the_schema(llm_server: LLMServer, tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    # llama-cpp-python's server takes the schema as json_object's, not as OpenAI's json_schema
    g = gateway(tmp_path, llm_server.url, response_formats={"openai/smollm2": "json_object"})
    result = g.call(ask(response_format={"name": "answer", "schema": schema}, max_tokens=32))
    assert isinstance(json.loads(result.content or ""), dict)
    assert isinstance(json.loads(result.content or "")["ok"], bool)


def test_missing_secret_fails_before_any_request(llm_server: LLMServer, tmp_path: Path) -> None:
    g = gateway(tmp_path, llm_server.url, store_key=False)
    before = llm_server.requests()
    with pytest.raises((ConfigError, KitaruError)) as info:
        g.call(ask())
    assert "local-llm" in str(info.value)
    with pytest.raises(ConfigError) as verified:
        g.verify()
    assert "openai" in str(verified.value) and "local-llm" in str(verified.value)
    assert llm_server.requests() == before


def test_unreachable_provider_is_one_line_without_the_key(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    base = f"http://127.0.0.1:{closed_port()}/v1"
    g = gateway(tmp_path, base)
    g.verify()  # verify sends nothing: a down provider does not fail it
    started = time.monotonic()
    with pytest.raises(LLMProviderError) as info:
        g.call(ask())
    elapsed = time.monotonic() - started
    text = f"{info.value}\n{info.value.hint}"
    assert elapsed < 20, elapsed  # no retry loop with backoff (litellm is imported already)
    assert "\n" not in str(info.value) and len(str(info.value)) <= 600
    assert "openai/smollm2" in str(info.value) and base in str(info.value)
    assert "reachable" in (info.value.hint or "")
    assert API_KEY not in text and API_KEY[:8] not in text
    out, err = capfd.readouterr()
    assert API_KEY not in out + err


def test_without_litellm_the_error_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = gateway(tmp_path, "http://127.0.0.1:9/v1")
    monkeypatch.setitem(sys.modules, "litellm", None)  # what `import litellm` sees uninstalled
    for attempt in (g.verify, lambda: g.call(ask())):
        with pytest.raises(ConfigError) as info:
            attempt()
        assert info.value.hint == "pip install 'kitaru[litellm]'"


def test_params_refuse_credentials(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="credentials"):
        gateway(tmp_path, "http://127.0.0.1:9/v1", params={"openai": {"api_key": API_KEY}})
    gateway(tmp_path, "http://127.0.0.1:9/v1", params={"openai": {"max_tokens": 5, "top_p": 1}})


def test_the_docs_stack_builds_its_gateway_without_importing_litellm() -> None:
    """docs/stacks.md's LLM stack registers; building and describing its gateway import no
    litellm; verify says which credential is missing."""
    doc = (REPO / "docs" / "stacks.md").read_text()
    (yaml_text,) = [b for b in re.findall(r"```yaml[^\n]*\n(.*?)```", doc, re.S)
                    if "flavor: litellm" in b]  # fmt: skip
    probe = f"""
import sys
from kitaru.stack import registry
from kitaru.stack.loader import parse_stack_text
from kitaru.stack.model import Stack
spec = registry.register_stack(parse_stack_text({yaml_text!r}, source="docs/stacks.md"))
gateway = Stack(spec).llm_gateway
assert type(gateway).__name__ == "LiteLLMGateway", gateway
assert gateway.resolve_alias("fast") == "openai/gpt-4o-mini"
gateway.describe()
assert "litellm" not in sys.modules, "litellm imported before any call"
verified = {{kind: (ok, message) for kind, _, ok, message in Stack(spec).verify()}}
print(verified["llm_gateway"])
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=subprocess_env(), timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("(False, \"credential for 'anthropic'"), out.stdout
