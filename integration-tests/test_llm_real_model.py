"""``kitaru.llm()`` against a real model: SmolLM2 served by llama-cpp-python, reached through the
``litellm`` flavor with an alias and an API key held in the secret store. Requests are counted
at the server: replays must not reach it again unless a call's input changed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from llm_server import LLMServer

from tests.conftest import subprocess_env

API_KEY = "sk-local-7Hq2mZ9xVw4rT1yB8nK3"
FLOW = """
import kitaru
from kitaru import checkpoint, flow

@checkpoint
def research(topic: str) -> str:
    return kitaru.llm(prompt=f"Research: {topic}. Return a brief.", model="fast",
                      max_tokens=16, temperature=0)

@checkpoint
def draft(brief: str) -> str:
    return kitaru.llm(prompt=f"Write a draft from this brief:\\n{brief}", model="fast",
                      max_tokens=16, temperature=0)

@flow
def real_flow(topic: str) -> dict:
    brief = research(topic)
    text = draft(brief)
    title = kitaru.llm(prompt=f"A title for: {text}", model="fast", max_tokens=8,
                       temperature=0, name="title")
    return {"brief": brief, "text": text, "title": title}
"""


def kitaru(*args: str, cwd: Path, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "kitaru.cli", *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert API_KEY not in out.stdout + out.stderr
    return out.stdout


def test_real_model_calls_are_recorded_and_replays_do_not_call_it_again(
    llm_server: LLMServer, tmp_path: Path, kitaru_home: Path
) -> None:
    stack = {
        "name": "smol",
        "components": {
            "orchestrator": {"flavor": "local"},
            "artifact_store": {"flavor": "local"},
            "secret_store": {"flavor": "local"},
            "llm_gateway": {"flavor": "litellm", "config": {
                "aliases": {"fast": f"openai/{llm_server.model}"},
                "api_bases": {"openai": llm_server.url},
                "credentials": {"openai": "{{secret:local-llm.api_key}}"},
            }},
        },
    }  # fmt: skip
    (tmp_path / "smol.yaml").write_text(json.dumps(stack))
    (tmp_path / "real.py").write_text(FLOW)
    env = subprocess_env(KITARU_STACK="smol")
    kitaru("stack", "register", "smol", "--file", "smol.yaml", cwd=tmp_path, env=env)
    kitaru("secret", "set", "local-llm", f"api_key={API_KEY}", cwd=tmp_path, env=env)

    before = llm_server.requests()
    kitaru("run", "real.py:real_flow", "--input", '{"topic": "durable agents"}', cwd=tmp_path,
           env=env)  # fmt: skip
    assert llm_server.requests() == before + 3

    from kitaru import KitaruClient

    client = KitaruClient()
    source = client.executions.list()[0]
    info = client.executions.get(source.id)
    assert info.status == "completed"
    assert [c.call_id for c in info.llm_calls] == ["research/llm", "draft/llm", "title"]
    for call in info.llm_calls:
        m = call.metadata
        assert m["model"] == "fast" and m["alias"] == "fast"
        assert m["resolved_model"] == f"openai/{llm_server.model}"
        assert m["credential"] == "local-llm.api_key"
        assert m["tokens_in"] > 0 and 0 < m["tokens_out"] <= 16
        assert 0 < m["latency_s"] < 60
    assert info.usage is not None and info.usage.calls == 3
    shown = kitaru("executions", "show", source.id, cwd=tmp_path, env={**env, "COLUMNS": "200"})
    assert "fast → openai/smollm2" in shown and "local-llm.api_key" in shown

    # a plain replay: every call's input is unchanged, the server is not asked again
    kitaru("executions", "replay", source.id, cwd=tmp_path, env=env)
    assert llm_server.requests() == before + 3
    # overriding research's output changes draft's prompt, and so the title's: two requests
    kitaru("executions", "replay", source.id, "--override", 'checkpoint.research="A new brief."',
           cwd=tmp_path, env=env)  # fmt: skip
    assert llm_server.requests() == before + 5

    # the key was injected (the server answered) but is stored nowhere
    secrets = kitaru_home / "secrets.json"
    for path in kitaru_home.rglob("*"):
        if path.is_file() and path != secrets:
            assert API_KEY.encode() not in path.read_bytes(), path
