"""A plugin for the tests: an LLM gateway flavor whose "provider" echoes the middle of its API
key in the error it raises (as real SDKs do: "Incorrect API key provided: ...abcd"), and with
``echo_to_logs`` in a warning it logs and a line it prints; and :func:`run_leaky`, which runs
a flow on a stack with that gateway and returns the failed execution's id."""

from __future__ import annotations

import json
import logging

import pytest

import kitaru
from kitaru import checkpoint, flow
from kitaru.builtin.offline_llm import OfflineLLMConfig, OfflineLLMGateway
from kitaru.components.flavor import Flavor
from kitaru.components.llm_gateway import LLMProviderError, LLMRequest, LLMResult
from kitaru.plugins import hookimpl

KEY = "sk-kitaru-TEST-6f1d0c9a8b7e6d5c4b3a"


def middle(key: str) -> str:
    """16 characters from the middle of ``key``: neither its start nor its end."""
    start = (len(key) - 16) // 2
    return key[start : start + 16]


class LeakyConfig(OfflineLLMConfig):
    #: raise a KitaruError of the flavor's own (True), or the SDK's exception as it is (False)
    own_error: bool = False
    #: also log a warning and print a line that echo the key
    echo_to_logs: bool = False


class LeakyGateway(OfflineLLMGateway):
    config: LeakyConfig

    def complete(self, request: LLMRequest) -> LLMResult:
        echoed = middle(request.api_key or "")
        if self.config.echo_to_logs:
            logging.getLogger("leaky.sdk").warning("401 from the provider for key ...%s...",
                                                   echoed)  # fmt: skip
            print(f"leaky sdk: retrying with ...{echoed}...")
        message = f"Incorrect API key provided: ...{echoed}... (see your dashboard)"
        if self.config.own_error:
            raise LLMProviderError(f"{request.model}: AuthenticationError: {message}")
        raise PermissionError(message)


@hookimpl
def kitaru_flavors() -> list[Flavor]:
    return [
        Flavor("leaky", "llm_gateway", f"{__name__}:LeakyConfig", f"{__name__}:LeakyGateway",
               description="test gateway whose provider echoes part of the key")
    ]  # fmt: skip


@checkpoint
def ask_leaky(question: str) -> str:
    return kitaru.llm(prompt=question, model="fast")


@flow
def leaky(question: str) -> str:
    return ask_leaky(question)


def run_leaky(monkeypatch: pytest.MonkeyPatch, **config: object) -> str:
    """Store :data:`KEY` as ``llm-provider.api_key``, run :func:`leaky` on a stack whose
    gateway is ``leaky`` with ``config``; the id of the execution (failed)."""
    from kitaru.errors import ExecutionFailed
    from kitaru.plugins.manager import PluginInfo, plugin_manager, reset_plugin_manager
    from kitaru.stack.active import active_stack
    from kitaru.stack.loader import parse_stack_text
    from kitaru.stack.registry import register_stack

    reset_plugin_manager()
    plugin_manager()._register(__import__(__name__, fromlist=["_"]),
                               PluginInfo("leaky", "kitaru-leaky", "0.0.1"))  # fmt: skip
    try:
        gateway = {**config, "credentials": {"offline": "{{secret:llm-provider.api_key}}"}}
        components = {"orchestrator": {"flavor": "local"}, "artifact_store": {"flavor": "local"},
                      "llm_gateway": {"flavor": "leaky", "config": gateway}}  # fmt: skip
        text = json.dumps({"name": "leaky", "components": components})
        register_stack(parse_stack_text(text, source="test"))
        monkeypatch.setenv("KITARU_STACK", "leaky")
        active_stack().secret_store.set("llm-provider", {"api_key": KEY})
        handle = leaky.run(question="hello?")
        with pytest.raises(ExecutionFailed) as failed:
            handle.wait()
    finally:
        reset_plugin_manager()
    assert middle(KEY) not in str(failed.value) and KEY not in str(failed.value)
    return str(handle.id)
