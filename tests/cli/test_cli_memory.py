"""``kitaru memory ...``: JSON envelopes, tables, and bad input that is one line and changes
nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.cli_helpers import Flows, Invoke, assert_one_line_error, kitaru


def items(stdout: str, command: str) -> list[dict[str, Any]]:
    data = json.loads(stdout)
    assert set(data) == {"command", "items"} and data["command"] == command
    rows: list[dict[str, Any]] = data["items"]
    return rows


def history(key: str, **where: str) -> list[tuple[int, bool]]:
    import kitaru

    return [(v.version, v.deleted) for v in kitaru.memory.history(key, **where)]


def test_set_get_list_history_delete(invoke: Invoke) -> None:
    r = invoke("memory", "set", "plan", "--value", '{"steps": 3}', "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert items(r.stdout, "memory set") == [{"key": "plan", "version": 1}]
    assert (
        invoke("memory", "set", "plan", "--value", "4").stdout.strip() == "set 'plan' (version 2)"
    )
    r = invoke("memory", "get", "plan", "-o", "json")
    assert items(r.stdout, "memory get") == [{"key": "plan", "value": 4}]
    r = invoke("memory", "get", "plan", "--version", "1")
    assert json.loads(r.stdout) == {"steps": 3}
    r = invoke("memory", "list", "-o", "json")
    assert [(e["key"], e["version"]) for e in items(r.stdout, "memory list")] == [("plan", 2)]
    assert "plan" in invoke("memory", "list").stdout
    r = invoke("memory", "delete", "plan")
    assert r.exit_code == 0 and "version 3" in r.stdout
    r = invoke("memory", "get", "plan")
    assert_one_line_error(r, contains="plan")
    r = invoke("memory", "history", "plan", "-o", "json")
    rows = items(r.stdout, "memory history")
    assert [(v["version"], v["deleted"]) for v in rows] == [(1, False), (2, False), (3, True)]
    assert "(deleted)" in invoke("memory", "history", "plan").stdout


def test_scopes_and_scope_list(invoke: Invoke) -> None:
    assert invoke("memory", "set", "a", "--value", "1", "--namespace", "team").exit_code == 0
    assert invoke("memory", "set", "b", "--value", "2", "--namespace", "team").exit_code == 0
    assert invoke("memory", "set", "c", "--value", '"x"', "--flow", "research").exit_code == 0
    r = invoke("memory", "get", "c", "--scope", "flow", "--flow", "research", "-o", "json")
    assert items(r.stdout, "memory get") == [{"key": "c", "value": "x"}]
    r = invoke("memory", "scope", "list", "-o", "json")
    assert items(r.stdout, "memory scope list") == [
        {"scope": "flow", "name": "research", "keys": 1},
        {"scope": "namespace", "name": "team", "keys": 2},
    ]
    assert "research" in invoke("memory", "scope", "list").stdout


def test_execution_scope_from_a_flow(flows: Flows, invoke: Invoke) -> None:
    handle = flows.module.review.run(topic="t")
    handle.wait()
    r = invoke("memory", "set", "note", "--value", '"hi"', "--execution", handle.id[:6])
    assert r.exit_code == 0, r.stderr
    r = invoke("memory", "history", "note", "--execution", handle.id, "-o", "json")
    assert [v["scope_key"] for v in items(r.stdout, "memory history")] == [handle.id]


def test_if_version_conflict_is_one_line(invoke: Invoke) -> None:
    invoke("memory", "set", "k", "--value", "1")
    r = invoke("memory", "set", "k", "--value", "2", "--if-version", "0")
    assert_one_line_error(r, contains="version 1")
    assert history("k") == [(1, False)]
    assert invoke("memory", "set", "k", "--value", "2", "--if-version", "1").exit_code == 0


@pytest.mark.parametrize(
    ("args", "contains"),
    [
        (("set", "k", "--value", "{not json"), "--value"),
        (("set", "k", "--value", "2", "--scope", "galaxy"), "galaxy"),
        (("get", "k", "--scope", "galaxy"), "galaxy"),
        (("list", "--scope", "flow"), "flow="),
        (("set", "k", "--value", "2", "--namespace", "a", "--flow", "b"), "at most one"),
        (("delete", "missing"), "missing"),
        (("history", "missing"), "missing"),
        (("set", "k", "--value", "2", "--execution", "ffffffffffff"), "ffffffffffff"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    invoke: Invoke, args: tuple[str, ...], contains: str
) -> None:
    import kitaru

    invoke("memory", "set", "k", "--value", "1")
    r = invoke("memory", *args)
    assert_one_line_error(r, contains=contains)
    assert history("k") == [(1, False)]
    assert kitaru.memory.get("k") == 1
    assert [s for s, _, _ in kitaru.memory.scopes()] == ["namespace"]


def test_subprocess_bad_json_has_no_traceback() -> None:
    result = kitaru("memory", "set", "k", "--value", "[1")
    assert_one_line_error(result, contains="--value")
    assert kitaru("memory", "list", "-o", "json").stdout.count('"key"') == 0
