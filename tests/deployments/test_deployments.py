"""Deployments: immutable versions, exclusive tags, invoke by tag or version (CLI, client,
flow.invoke, REST), inputs checked against the flow's signature, nothing half-registered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kitaru import KitaruClient
from kitaru.errors import NotFound, UsageError
from tests.conftest import subprocess_env

V1 = """
from pydantic import BaseModel
from kitaru import checkpoint, flow

class Brief(BaseModel):
    topic: str
    words: int = 10

@checkpoint
def write(brief: Brief) -> str:
    return f"VERSION-{VERSION}: {brief.topic} in {brief.words} words"

@flow
def review(brief: Brief, shout: bool = False) -> str:
    text = write(brief)
    return text.upper() if shout else text
"""


def kitaru(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kitaru.cli", *args], cwd=cwd,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)  # fmt: skip


def write_version(path: Path, n: int) -> None:
    path.write_text(f"VERSION = {n}\n" + V1)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_version(tmp_path / "review.py", 1)
    return tmp_path


def result(execution_id: str) -> str:
    return str(KitaruClient().executions.handle(execution_id).wait(timeout=60))


def test_versions_tags_and_invoke_reach_the_right_code(project: Path) -> None:
    out = kitaru("deploy", "review.py:review", cwd=project)
    assert out.returncode == 0, out.stderr
    assert "deployed review v1" in out.stdout and "default" in out.stdout
    # v2 is different code, deployed under canary: default stays on v1
    (project / "v2").mkdir()
    write_version(project / "v2" / "review.py", 2)
    out = kitaru("deploy", "v2/review.py:review", "--tag", "canary", cwd=project)
    assert out.returncode == 0 and "review v2" in out.stdout, out.stderr

    inputs = json.dumps({"brief": {"topic": "agents"}})
    by_default = kitaru("invoke", "review", "--input", inputs, "--wait", cwd=project)
    assert by_default.returncode == 0, by_default.stderr
    assert "VERSION-1: agents in 10 words" in by_default.stdout
    canary = kitaru("invoke", "review", "--tag", "canary", "--input", inputs, "--wait", cwd=project)
    assert "VERSION-2: agents" in canary.stdout, canary.stderr
    v1 = kitaru("invoke", "review", "--version", "1", "--input", inputs, "--wait", cwd=project)
    assert "VERSION-1" in v1.stdout

    client = KitaruClient()
    handle = client.deployments.invoke("review", {"brief": {"topic": "x", "words": 3},
                                                  "shout": True}, tag="canary")  # fmt: skip
    assert handle.wait(timeout=60) == "VERSION-2: X IN 3 WORDS"
    listed = {d.version: d.tags for d in client.deployments.list("review")}
    assert listed == {1: ["default"], 2: ["canary"]}
    # moving a tag: default now points at v2 and has left v1 (exclusive)
    assert kitaru("deployments", "tag", "review", "default", "2", cwd=project).returncode == 0
    listed = {d.version: d.tags for d in client.deployments.list("review")}
    assert listed == {1: [], 2: ["canary", "default"]}
    assert (
        "VERSION-2" in kitaru("invoke", "review", "--input", inputs, "--wait", cwd=project).stdout
    )
    info = client.executions.get(handle.id)
    assert info.status == "completed"


def test_flow_deploy_and_invoke_from_python(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kitaru.runtime.codeloc import relocate  # noqa: F401 - the module loads flows by path

    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    import importlib

    module = importlib.import_module("review")
    d = module.review.deploy()
    assert (d.version, d.tags, d.stack) == (1, ["default"], "local")
    assert d.parameters["required"] == ["brief"]
    again = module.review.deploy(tag=None)
    assert again.version == 2 and again.tags == []
    assert again.code_hash == d.code_hash  # same code: an image build would be reused
    handle = module.review.invoke(brief={"topic": "py"})
    assert handle.wait(timeout=60) == "VERSION-1: py in 10 words"
    sys.modules.pop("review", None)


def test_bad_invocations_are_clear_and_create_nothing(project: Path) -> None:
    assert kitaru("deploy", "review.py:review", cwd=project).returncode == 0
    before = len(KitaruClient().executions.list())
    cases = {
        ("--tag", "nope"): "has no deployment tagged 'nope'",
        ("--version", "7"): "has no deployment version 7",
        ("--input", '{"brief": {"words": 3}}'): "inputs do not match flow 'review' v1: brief",
        ("--input", '{"brief": {"topic": "x"}, "extra": 1}'): "inputs do not match",
        ("--input", "[1, 2]"): "must be a JSON object",
        ("--input", "{not json"): "--input is not valid JSON",
        ("--tag", "a", "--version", "1"): "give a tag or a version, not both",
    }
    for args, message in cases.items():
        out = kitaru("invoke", "review", *args, cwd=project)
        assert out.returncode != 0, args
        assert message in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) <= 2  # one line + a hint
    assert "hint: review(brief: object, shout?: boolean)" in kitaru(
        "invoke", "review", "--input", "{}", cwd=project).stderr  # fmt: skip
    unknown = kitaru("invoke", "nothing-deployed", cwd=project)
    assert "kitaru deploy FILE.py:nothing-deployed" in unknown.stderr
    assert kitaru("deployments", "tag", "review", "default", "9", cwd=project).returncode != 0
    assert kitaru("deploy", "review.py:review", "--tag", "bad tag!", cwd=project).returncode != 0
    assert len(KitaruClient().executions.list()) == before
    assert [d.version for d in KitaruClient().deployments.list("review")] == [1]
    with pytest.raises(UsageError):
        KitaruClient().deployments.invoke("review", {"brief": "not an object"})
    with pytest.raises(NotFound):
        KitaruClient().deployments.get("review", version=3)


def test_curl_prints_a_working_command_for_the_server(project: Path) -> None:
    assert kitaru("deploy", "review.py:review", cwd=project).returncode == 0
    out = kitaru("deployments", "curl", "review", "--tag", "default", "--url",
                 "http://127.0.0.1:8237", cwd=project)  # fmt: skip
    assert out.returncode == 0
    assert out.stdout.startswith(
        "curl -sS -X POST http://127.0.0.1:8237/api/v1/deployments/review/invoke"
    )
    assert '"tag": "default"' in out.stdout and "Bearer $KITARU_API_KEY" in out.stdout
