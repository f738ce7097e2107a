"""An LLM credential held in the secret store is injected per call and appears nowhere else:
not in the metadata store, the artifact store, the logs, or any CLI output (scanned as bytes)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import subprocess_env
from tests.llm.conftest import Provider

SECRET = "sk-kitaru-TEST-6f1d0c9a8b7e6d5c4b3a"
FLOW = """
import kitaru
from kitaru import checkpoint, flow

@checkpoint
def research(topic: str) -> str:
    print("researching", topic)
    return kitaru.llm(prompt=f"Research: {topic}", model="fast")

@flow
def keyed(topic: str) -> str:
    brief = research(topic)
    kitaru.log(note="flow-level call next")
    return kitaru.llm(prompt=f"Summarize: {brief}", model="fast", name="summary")
"""


def _kitaru(*args: str, cwd: Path) -> bytes:
    out = subprocess.run([sys.executable, "-m", "kitaru.cli", *args], cwd=cwd,
                         env=subprocess_env(), capture_output=True)  # fmt: skip
    return out.stdout + out.stderr


def test_the_credential_is_used_but_never_stored_or_printed(
    register_llm_stack: Callable[..., Provider], kitaru_home: Path, tmp_path: Path
) -> None:
    provider = register_llm_stack(credentials={"offline": "{{secret:llm-provider.api_key}}"})
    assert subprocess.run([sys.executable, "-m", "kitaru.cli", "secret", "set", "llm-provider",
                           f"api_key={SECRET}"], env=subprocess_env(), capture_output=True,
                          check=True).stdout.find(SECRET.encode()) == -1  # fmt: skip
    (tmp_path / "keyed.py").write_text(FLOW)
    run = subprocess.run([sys.executable, "-m", "kitaru.cli", "run", "keyed.py:keyed",
                          "--input", '{"topic": "agents"}'], cwd=tmp_path,
                         env=subprocess_env(), capture_output=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    calls = provider.calls()
    assert len(calls) == 2 and all(c["with_credential"] for c in calls)  # it was injected

    from kitaru import KitaruClient

    info = KitaruClient().executions.list()[0]
    detail = KitaruClient().executions.get(info.id)
    assert [c.metadata["credential"] for c in detail.llm_calls] == ["llm-provider.api_key"] * 2

    outputs = [run.stdout, run.stderr]
    for args in (
        ("executions", "show", info.id), ("executions", "show", info.id, "-o", "json"),
        ("executions", "list", "-o", "json"), ("executions", "logs", info.id),
        ("artifacts", "list", info.id), ("artifacts", "show", info.id, "summary"),
        ("artifacts", "load", info.id, "research/llm"), ("stack", "describe", "llmtest"),
        ("stack", "export", "llmtest"), ("component", "describe", "llm_gateway", "llmtest-llm"),
        ("component", "list", "-o", "json"), ("secret", "get", "llm-provider"),
        ("secret", "list"), ("stack", "verify", "llmtest"),
    ):  # fmt: skip
        outputs.append(_kitaru(*args, cwd=tmp_path))
    assert b"llm-provider" in b"".join(outputs)  # the commands did print the reference
    for printed in outputs:
        assert SECRET.encode() not in printed

    secrets = kitaru_home / "secrets.json"
    assert SECRET.encode() in secrets.read_bytes()  # the one place it belongs (mode 0600)
    stored = [p for p in kitaru_home.rglob("*") if p.is_file() and p != secrets]
    assert any(p.suffix == ".db" for p in stored) and any("logs" in p.parts for p in stored)
    for path in stored:
        assert SECRET.encode() not in path.read_bytes(), f"the secret leaked into {path}"


def _cli(*args: str) -> str:
    """The CLI in-process: stdout and stderr of a command that succeeded."""
    from click.testing import CliRunner

    from kitaru.cli.main import cli

    # wide enough that the error row is never clipped, whatever COLUMNS this worker has
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.stdout + result.stderr


@pytest.mark.parametrize("own_error", [False, True], ids=["sdk-error", "flavor-error"])
def test_a_provider_error_echoing_part_of_the_key_is_scrubbed_before_it_is_stored(
    kitaru_home: Path, monkeypatch: pytest.MonkeyPatch, own_error: bool
) -> None:
    """The provider's error echoes 16 characters from the middle of the key (whether the
    flavor raises the SDK's exception or one of its own): neither the execution's error, nor
    the failed attempt, nor the LLM call's metadata, nor the CLI, nor the store holds them."""
    from kitaru import KitaruClient
    from tests.llm.leaky_provider import KEY, middle, run_leaky

    piece = middle(KEY)
    assert piece not in (KEY[:16], KEY[-16:]) and len(piece) == 16
    execution_id = run_leaky(monkeypatch, own_error=own_error)

    detail = KitaruClient().executions.get(execution_id)
    assert detail.status == "failed" and detail.error is not None
    assert "Incorrect API key provided: ...***..." in detail.error["message"]
    [call] = detail.llm_calls
    assert "Incorrect API key provided: ...***..." in call.metadata["error"]["message"]
    shown = [_cli("executions", "show", execution_id),
             _cli("executions", "show", execution_id, "-o", "json")]  # fmt: skip
    assert "Incorrect API key provided: ...***..." in shown[0]
    for printed in shown:
        assert piece not in printed and KEY not in printed
    store = b"".join(p.read_bytes() for p in kitaru_home.glob("kitaru.db*"))
    assert b"Incorrect API key provided" in store
    assert piece.encode() not in store and KEY.encode() not in store


def test_scrub_masks_every_run_of_8_or_more_characters_of_a_known_value() -> None:
    from kitaru import redact

    key = "0123456789abcdefghijKLMNOPQRST"
    assert redact.scrub(f"a {key[3:19]} b") == f"a {key[3:19]} b"  # not known yet
    redact.remember(key)
    redact.remember("short")  # under 8 characters: never masked (common words)
    try:
        assert redact.scrub(f"a {key[3:19]} b {key} c") == "a *** b *** c"
        assert redact.scrub(f"{key[:7]} {key[-7:]} short") == f"{key[:7]} {key[-7:]} short"
        assert redact.scrub(f"<{key[:8]}>") == "<***>"
        assert redact.scrub(f"{key[0:10]}{key[20:30]}!") == "***!"  # two pieces, one run
        assert redact.scrub_data({"e": [f"x{key[5:15]}"], "n": 1}) == {"e": ["x***"], "n": 1}
        assert redact.scrub("a 0123456Z b", "xx0123456Zyy") == "a *** b"  # ``also``, unknown
    finally:
        redact.forget_all()
