"""``kitaru artifacts list/show/load`` and ``kitaru executions diff`` through the CLI."""

from __future__ import annotations

import importlib
import json
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.cli.cli_helpers import Invoke, assert_one_line_error, kitaru

pytestmark = pytest.mark.filterwarnings("ignore:kitaru. storing .* with pickle")

SOURCE = """
import kitaru
from kitaru import checkpoint, flow


@checkpoint
def research(topic: str) -> str:
    return f"Brief on {topic}.\\nSources: three papers."


@checkpoint
def draft(brief: str) -> str:
    return "Draft: " + brief.splitlines()[-1]


@checkpoint
def stats(topic: str) -> dict:
    return {"topic": topic, "items": [1, 2, len(topic)]}


class Tags:
    def __init__(self, *tags: str) -> None:
        self.tags = sorted(tags)

    def __repr__(self) -> str:
        return f"Tags({self.tags})"


@flow
def review(topic: str) -> str:
    text = draft(research(topic))
    stats(topic)
    kitaru.save("raw", topic.encode() * 3)
    kitaru.save("tags", Tags(topic, "x"))
    kitaru.save("big", "line of text\\n" * 200)
    return text
"""


@pytest.fixture
def mod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    name = f"cli_artifacts_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KITARU_INLINE_LIMIT", "1024")
    return importlib.import_module(name)


def run(mod: ModuleType, topic: str) -> str:
    handle = mod.review.run(topic=topic)
    handle.wait()
    return str(handle.id)


def items(stdout: str, command: str) -> list[dict[str, Any]]:
    data = json.loads(stdout)
    assert set(data) == {"command", "items"} and data["command"] == command
    return data["items"]  # type: ignore[no-any-return]


def test_list_json_and_table(mod: ModuleType, invoke: Invoke) -> None:
    ex = run(mod, "agents")
    result = invoke("artifacts", "list", ex[:8], "-o", "json")
    assert result.exit_code == 0, result.output
    rows = {r["call_id"]: r for r in items(result.stdout, "artifacts list")}
    assert list(rows) == ["research", "draft", "stats", "raw", "tags", "big"]
    assert rows["research"]["kind"] == "checkpoint" and rows["research"]["inline"] is True
    assert rows["raw"]["serializer"] == "bytes" and rows["tags"]["serializer"] == "pickle"
    assert rows["big"]["inline"] is False and len(rows["big"]["sha256"]) == 64
    assert {"name", "version", "type_name", "size", "preview"} <= set(rows["stats"])
    table = invoke("artifacts", "list", ex)
    assert table.exit_code == 0 and "research" in table.stdout
    assert rows["big"]["sha256"][:12] in table.stdout and "Tags (pickle)" in table.stdout


def test_show(mod: ModuleType, invoke: Invoke) -> None:
    ex = run(mod, "agents")
    result = invoke("artifacts", "show", ex, "stats", "-o", "json")
    assert result.exit_code == 0, result.output
    (detail,) = items(result.stdout, "artifacts show")
    assert detail["artifact"]["serializer"] == "json"
    assert json.loads(detail["preview"]) == {"topic": "agents", "items": [1, 2, 6]}
    big = items(invoke("artifacts", "show", ex, "big", "-o", "json").stdout, "artifacts show")[0]
    assert big["location"] and big["artifact"]["sha256"] in big["location"]
    text = invoke("artifacts", "show", ex, "big")
    assert "sha256" in text.stdout and "location" in text.stdout
    pickled = invoke("artifacts", "show", ex, "tags")
    assert pickled.exit_code == 0 and "pickle" in pickled.stdout


def test_load_values(mod: ModuleType, invoke: Invoke, tmp_path: Path) -> None:
    ex = run(mod, "agents")
    assert invoke("artifacts", "load", ex, "research").stdout == (
        "Brief on agents.\nSources: three papers.\n"
    )
    assert json.loads(invoke("artifacts", "load", ex, "stats").stdout)["items"] == [1, 2, 6]
    assert invoke("artifacts", "load", ex, "big").stdout == "line of text\n" * 200
    out = tmp_path / "raw.bin"
    result = invoke("artifacts", "load", ex, "raw", "--out", str(out))
    assert result.exit_code == 0 and out.read_bytes() == b"agents" * 3
    tags = invoke("artifacts", "load", ex, "tags", "--allow-pickle")
    assert tags.exit_code == 0 and tags.stdout == "Tags(['agents', 'x'])\n"


def test_bad_input_is_one_line(mod: ModuleType, invoke: Invoke) -> None:
    ex = run(mod, "agents")
    assert_one_line_error(invoke("artifacts", "list", "nosuchexec"), contains="nosuchexec")
    assert_one_line_error(invoke("artifacts", "show", ex, "nope"), code=3, contains="'nope'")
    assert_one_line_error(invoke("artifacts", "load", ex, "nope"), code=3)
    raw = invoke("artifacts", "load", ex, "raw")
    assert "--out" in assert_one_line_error(raw, code=2) + raw.stderr
    tags = invoke("artifacts", "load", ex, "tags")
    assert_one_line_error(tags, code=2, contains="pickle")
    assert "--allow-pickle" in tags.stderr
    assert_one_line_error(invoke("executions", "diff", ex, "nosuchexec"), code=3)


def test_executions_diff(mod: ModuleType, invoke: Invoke) -> None:
    a, b = run(mod, "agents"), run(mod, "memory")
    result = invoke("executions", "diff", a, b, "-o", "json")
    assert result.exit_code == 0, result.output
    (d,) = items(result.stdout, "executions diff")
    by_id = {c["call_id"]: c for c in d["checkpoints"]}
    assert list(by_id) == ["research", "draft", "stats", "save:raw", "save:tags", "save:big"]
    assert by_id["save:raw"]["status"] == "changed"  # bytes: sizes and hashes only
    assert by_id["save:big"]["status"] == "same"
    assert by_id["research"]["status"] == "changed"
    assert by_id["research"]["diff"]["kind"] == "text"
    assert "+Brief on memory." in by_id["research"]["diff"]["lines"]
    assert by_id["draft"]["status"] == "same"
    assert [c["path"] for c in by_id["stats"]["diff"]["changes"]] == ["/topic"]
    people = invoke("executions", "diff", a, b)
    assert people.exit_code == 0
    assert "-Brief on agents." in people.stdout and "same" in people.stdout
    assert '/topic: "agents" -> "memory"' in people.stdout


def test_diff_in_subprocess(mod: ModuleType) -> None:
    a, b = run(mod, "agents"), run(mod, "memory")
    proc = kitaru("executions", "diff", a, b, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["items"][0]["checkpoints"][0]["status"] == "changed"
    bad = kitaru("artifacts", "load", a, "tags")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
