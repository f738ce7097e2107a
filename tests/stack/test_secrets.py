"""Secret references: resolved at use time through the stack's secret store; the value never
appears in describe, JSON output, exports, logs or the metadata store's files."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from kitaru.errors import NotFound
from kitaru.stack.active import active_stack
from tests.cli.cli_helpers import Invoke, assert_one_line_error
from tests.stack.conftest import write

VALUE = "s3cr3t-VALUE-8c1f9e"
STACK = """\
name: k
components:
  orchestrator:
    flavor: local
  artifact_store:
    flavor: keyed
    config:
      path: {path}
      token: "{{{{secret:creds.token}}}}"
  llm_gateway:
    flavor: offline
    config:
      credentials:
        openai: "{{{{secret:creds.token}}}}"
"""


@pytest.fixture
def secret_stack(tmp_path: Path, invoke: Invoke, fake_plugin: object) -> Path:
    result = invoke("secret", "set", "creds", f"token={VALUE}", "region=eu")
    assert result.exit_code == 0, result.output
    assert VALUE not in result.output
    path = write(tmp_path / "k.yaml", STACK.format(path=tmp_path / "artifacts"))
    result = invoke("stack", "register", "k", "--file", str(path))
    assert result.exit_code == 0, result.output
    return path


def _store_bytes(home: Path) -> bytes:
    """Every file of the metadata store (the database and its WAL)."""
    files = sorted(home.glob("kitaru.db*"))
    assert files, "no store files"
    return b"".join(f.read_bytes() for f in files)


def test_resolved_at_use_time(secret_stack: Path) -> None:
    stack = active_stack("k")
    assert stack.spec.components["artifact_store"].config["token"] == "{{secret:creds.token}}"
    assert stack.artifact_store.storage_options() == {"token": VALUE}
    gateway = stack.llm_gateway
    assert gateway.secret(gateway.config.credentials["openai"]) == VALUE
    assert [ok for *_, ok, _ in stack.verify()] == [True] * 4


def test_never_shown_stored_or_logged(
    secret_stack: Path, invoke: Invoke, kitaru_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outputs = []
    for args in (
        ("stack", "describe", "k"),
        ("stack", "describe", "k", "-o", "json"),
        ("stack", "list", "-o", "json"),
        ("stack", "export", "k"),
        ("stack", "verify", "k"),
        ("stack", "verify", "k", "-o", "json"),
        ("component", "list", "-o", "json"),
        ("component", "describe", "artifact_store", "k", "-o", "json"),
        ("secret", "get", "creds"),
        ("secret", "get", "creds", "-o", "json"),
        ("secret", "list", "-o", "json"),
    ):
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)
        outputs.append(result.output)
    active_stack("k").artifact_store.storage_options()  # resolve it once more, logging on
    text = "\n".join(outputs)
    assert "{{secret:creds.token}}" in text  # the reference is what is shown
    assert VALUE not in text
    assert VALUE not in caplog.text
    store = _store_bytes(kitaru_home)
    assert b"{{secret:creds.token}}" in store  # the config is there, as a reference
    assert VALUE.encode() not in store
    described = json.loads(invoke("stack", "describe", "k", "-o", "json").stdout)
    assert described["command"] == "stack describe"
    config = described["items"][0]["components"]["artifact_store"]["config"]
    assert config["token"] == "{{secret:creds.token}}"


def test_secret_get_masks_unless_show(secret_stack: Path, invoke: Invoke) -> None:
    masked = json.loads(invoke("secret", "get", "creds", "-o", "json").stdout)
    assert masked == {"command": "secret get",
                      "items": [{"name": "creds", "values": {"region": "****", "token": "****"}}]}  # fmt: skip
    shown = invoke("secret", "get", "creds", "--show")
    assert VALUE in shown.stdout
    names = json.loads(invoke("secret", "list", "-o", "json").stdout)
    assert names["items"] == [{"name": "creds"}]


def test_secret_file_is_private(secret_stack: Path, kitaru_home: Path) -> None:
    mode = stat.S_IMODE((kitaru_home / "secrets.json").stat().st_mode)
    assert mode == 0o600


def test_a_missing_secret_fails_at_use_time_with_a_hint(secret_stack: Path, invoke: Invoke) -> None:
    assert invoke("secret", "delete", "creds", "--yes").exit_code == 0
    with pytest.raises(NotFound) as err:
        active_stack("k").artifact_store.storage_options()
    assert "kitaru secret set creds" in (err.value.hint or "")
    result = invoke("stack", "verify", "k")
    assert result.exit_code == 1
    assert "FAIL  artifact_store k (keyed): no secret named 'creds'" in result.stdout
    assert_one_line_error(invoke("secret", "get", "creds"), contains="no secret named 'creds'")


def test_secret_set_prompts_for_a_bare_key(invoke: Invoke) -> None:
    result = invoke("secret", "set", "api", "key", input=f"{VALUE}\n")
    assert result.exit_code == 0, result.output
    assert VALUE not in result.output
    assert active_stack().secret_store.get("api") == {"key": VALUE}


OFFLINE = """\
name: o
components:
  orchestrator:
    flavor: local
  artifact_store:
    flavor: local
    config:
      path: {path}
  llm_gateway:
    flavor: offline
    config:
      credentials:
        offline: "{{{{secret:nosuch.api_key}}}}"
"""


def test_verify_resolves_every_secret_reference(tmp_path: Path, invoke: Invoke) -> None:
    """The offline gateway has no verify() of its own: the base class resolves its credential
    anyway, through the stack's secret store, and never prints the value."""
    path = write(tmp_path / "o.yaml", OFFLINE.format(path=tmp_path / "artifacts"))
    assert invoke("stack", "register", "o", "--file", str(path)).exit_code == 0

    def verify(*args: str) -> tuple[int, list[str], str]:
        result = invoke("stack", "verify", "o", *args)
        return result.exit_code, result.stdout.splitlines(), result.stdout + result.stderr

    code, lines, text = verify()
    assert code == 1, text
    (fail,) = [line for line in lines if "FAIL" in line]
    assert fail.startswith("  FAIL  llm_gateway o (offline): "), fail
    assert "{{secret:nosuch.api_key}}" in fail and "no secret named 'nosuch'" in fail, fail
    checks = json.loads(invoke("stack", "verify", "o", "-o", "json").stdout)["items"]
    assert [(c["type"], c["ok"]) for c in checks] == [
        ("orchestrator", True), ("artifact_store", True), ("secret_store", True),
        ("llm_gateway", False)]  # fmt: skip

    # the secret exists but lacks the key: the keys it has are named, never their values
    assert invoke("secret", "set", "nosuch", f"token={VALUE}").exit_code == 0
    code, lines, text = verify()
    assert code == 1 and "secret 'nosuch' has no key 'api_key'" in text, text
    assert VALUE not in text

    # present: every line ok, and the value appears nowhere
    assert invoke("secret", "set", "nosuch", f"api_key={VALUE}").exit_code == 0
    for args in ((), ("-o", "json")):
        code, lines, text = verify(*args)
        assert code == 0, text
        assert VALUE not in text
    assert all(line.startswith("  ok  ") for line in verify()[1][1:])
