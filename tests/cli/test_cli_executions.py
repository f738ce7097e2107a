"""``kitaru executions ...`` in-process with CliRunner: output formats, actions, and errors that
are one line, non-zero, and change nothing in the store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kitaru.errors import ExecutionFailed
from tests.cli.cli_helpers import Flows, Invoke, assert_one_line_error, executions, wait_for

MODEL_KEYS = {"id", "flow", "status", "created_at", "duration", "checkpoints", "waits"}


def completed(flows: Flows, topic: str = "agents") -> str:
    handle = flows.module.review.run(topic=topic)
    handle.wait()
    return str(handle.id)


def failed(flows: Flows, topic: str = "agents") -> str:
    flows.fail()
    handle = flows.module.review.run(topic=topic)
    with pytest.raises(ExecutionFailed):
        handle.wait()
    flows.fail(False)
    return str(handle.id)


def waiting(flows: Flows, topic: str = "agents") -> str:
    handle = flows.module.approval.run(topic=topic)
    wait_for(lambda: handle.status == "waiting", what="the wait")
    if handle._thread is not None:
        handle._thread.join(10)
    return str(handle.id)


def status_of(execution_id: str) -> str:
    from kitaru.client import KitaruClient

    return KitaruClient().executions.get(execution_id).status


def snapshot() -> list[tuple[str, str]]:
    return sorted((e.id, e.status) for e in executions())


def envelope(stdout: str, command: str) -> list[dict[str, Any]]:
    data = json.loads(stdout)
    assert set(data) == {"command", "items"}
    assert data["command"] == command
    assert isinstance(data["items"], list)
    return data["items"]  # type: ignore[no-any-return]


# -- list / show / logs ---------------------------------------------------------------------------
def test_list_json_envelope(flows: Flows, invoke: Invoke) -> None:
    first, second = completed(flows, "a"), failed(flows, "b")
    result = invoke("executions", "list", "-o", "json")
    assert result.exit_code == 0, result.output
    items = envelope(result.stdout, "executions list")
    assert [i["id"] for i in items] == [second, first]  # newest first
    assert set(items[0]) >= MODEL_KEYS
    assert [i["status"] for i in items] == ["failed", "completed"]


def test_list_filters_and_limit(flows: Flows, invoke: Invoke) -> None:
    done, broken, paused = completed(flows), failed(flows), waiting(flows)

    def ids(*args: str) -> list[str]:
        result = invoke("executions", "list", "-o", "json", *args)
        assert result.exit_code == 0, result.output
        return [i["id"] for i in envelope(result.stdout, "executions list")]

    assert ids("--status", "failed") == [broken]
    assert ids("--status", "waiting") == [paused]
    assert ids("--flow", "approval") == [paused]
    assert set(ids("--flow", "review")) == {done, broken}
    assert ids("--limit", "1") == [paused]
    assert ids("--flow", "nothing-by-this-name") == []


def test_list_table(flows: Flows, invoke: Invoke) -> None:
    execution_id = completed(flows)
    result = invoke("executions", "list")
    assert result.exit_code == 0, result.output
    header, *rows = [line for line in result.stdout.splitlines() if line.strip("─ ")]
    assert header.split() == ["id", "flow", "status", "created", "duration"]
    assert rows[0].split()[:3] == [execution_id, "review", "completed"]


def test_list_empty(invoke: Invoke) -> None:
    assert invoke("executions", "list").stdout.strip() == "no executions"
    assert envelope(invoke("executions", "list", "-o", "json").stdout, "executions list") == []


def test_show_json_by_prefix(flows: Flows, invoke: Invoke) -> None:
    execution_id = completed(flows)
    result = invoke("executions", "show", execution_id[:5], "-o", "json")
    assert result.exit_code == 0, result.output
    [item] = envelope(result.stdout, "executions show")
    assert item["id"] == execution_id
    assert [c["call_id"] for c in item["checkpoints"]] == ["research", "draft"]
    assert item["result_preview"] == "BRIEF ON AGENTS"


def test_show_table_completed(flows: Flows, invoke: Invoke) -> None:
    execution_id = completed(flows)
    out = invoke("executions", "show", execution_id).stdout
    assert execution_id in out and "completed" in out
    assert "checkpoints" in out and "research" in out and "draft" in out
    assert "artifacts" in out and "brief on agents" in out
    # an artifact of a builtin type shows how it is stored (as the dashboard does), not "-"
    (row,) = [line for line in out.splitlines() if line.startswith("research ")
              and "checkpoint" in line]  # fmt: skip
    assert row.split()[4] != "-", row


def test_show_table_failed_and_waiting(flows: Flows, invoke: Invoke) -> None:
    broken = failed(flows)
    out = invoke("executions", "show", broken).stdout
    assert "ValueError: draft failed" in out
    assert "failed attempts" in out

    paused = waiting(flows)
    out = invoke("executions", "show", paused).stdout
    assert "'approve_draft': Approve draft?" in out
    assert f"kitaru executions input {paused} --value 'true'" in out


def test_logs(flows: Flows, invoke: Invoke) -> None:
    execution_id = completed(flows, "logged")
    result = invoke("executions", "logs", execution_id, "-o", "json")
    assert result.exit_code == 0, result.output
    items = envelope(result.stdout, "executions logs")
    assert {"call": "research", "line": "researching logged"}.items() <= items[0].items()
    text = invoke("executions", "logs", execution_id).stdout
    assert "[research] researching logged" in text
    # --follow on an execution that already ended prints what there is and returns
    followed = invoke("executions", "logs", execution_id, "--follow")
    assert followed.exit_code == 0
    assert followed.stdout == text
    lines = invoke("executions", "logs", execution_id, "--follow", "-o", "json").stdout
    assert [json.loads(line) for line in lines.splitlines()] == items


# -- acting ----------------------------------------------------------------------------------------
def test_input_resolves_and_a_worker_finishes(flows: Flows, invoke: Invoke) -> None:
    execution_id = waiting(flows)
    result = invoke("executions", "input", execution_id, "--value", "true")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"resolved wait 'approve_draft' of {execution_id}; the execution resumes\n"
    )
    wait_for(lambda: status_of(execution_id) == "completed", what="the worker")


def test_input_abort_cancels(flows: Flows, invoke: Invoke) -> None:
    execution_id = waiting(flows)
    result = invoke("executions", "input", execution_id, "--abort", "--name", "approve_draft")
    assert result.exit_code == 0, result.output
    assert "aborted wait 'approve_draft'" in result.stdout
    assert status_of(execution_id) == "cancelled"


def test_input_that_does_not_match_the_schema(flows: Flows, invoke: Invoke) -> None:
    execution_id = waiting(flows)
    result = invoke("executions", "input", execution_id, "--value", '"yes"')
    assert_one_line_error(result, contains="invalid input for wait 'approve_draft'")
    assert "hint: expected JSON matching" in result.stderr
    assert status_of(execution_id) == "waiting"


def test_input_to_the_wrong_wait_name(flows: Flows, invoke: Invoke) -> None:
    execution_id = waiting(flows)
    result = invoke("executions", "input", execution_id, "--value", "true", "--name", "other")
    assert_one_line_error(result, code=3, contains="is waiting on 'approve_draft', not 'other'")
    assert status_of(execution_id) == "waiting"


def test_the_racing_resolver_that_lost_is_told_the_wait_was_just_resolved(
    flows: Flows, invoke: Invoke
) -> None:
    """The winner's input is stored before its worker resumes the execution: the loser finds
    it still ``waiting`` with no pending wait, and is told that the wait was just resolved."""
    import time

    from kitaru.runtime.serialization import serialize
    from kitaru.store import default_store

    execution_id = waiting(flows)
    store = default_store()
    ex = store.get_execution(execution_id)
    won = serialize(True)
    assert store.resolve_wait(ex.pk, "approve_draft", serializer=won.serializer,
                              type_name=won.type_name, value=won.data,
                              meta={"resolved_at": time.time()})  # fmt: skip
    assert status_of(execution_id) == "waiting"
    for args in (["--value", "false"], ["--abort"]):
        result = invoke("executions", "input", execution_id, *args)
        line = assert_one_line_error(
            result, code=4,
            contains=f"wait 'approve_draft' of execution {execution_id} was just resolved",
        )  # fmt: skip
        assert "no pending wait" not in line
    assert status_of(execution_id) == "waiting"


def test_cancel(flows: Flows, invoke: Invoke) -> None:
    execution_id = waiting(flows)
    result = invoke("executions", "cancel", execution_id)
    assert result.exit_code == 0
    assert result.stdout.strip() == f"cancelled execution {execution_id}"
    assert status_of(execution_id) == "cancelled"
    again = invoke("executions", "cancel", execution_id)
    assert_one_line_error(again, code=4, contains="is already cancelled")


def test_retry_a_failed_execution(flows: Flows, invoke: Invoke) -> None:
    execution_id = failed(flows)
    result = invoke("executions", "retry", execution_id)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"retrying execution {execution_id}",
        f"execution {execution_id} completed",
        '"BRIEF ON AGENTS"',
    ]
    assert flows.runs("research") == 1  # cached, not re-run
    assert status_of(execution_id) == "completed"


def test_retry_that_fails_again_exits_1(flows: Flows, invoke: Invoke) -> None:
    execution_id = failed(flows)
    flows.fail()
    result = invoke("executions", "retry", execution_id)
    assert_one_line_error(result, code=1, contains="failed: ValueError: draft failed")
    assert result.stdout.splitlines() == [f"retrying execution {execution_id}"]


def test_resume_a_waiting_execution_suspends_again(flows: Flows, invoke: Invoke) -> None:
    execution_id = waiting(flows)
    result = invoke("executions", "resume", execution_id)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"resuming execution {execution_id}",
        f"execution {execution_id} is waiting on 'approve_draft': Approve draft?",
        f"answer with: kitaru executions input {execution_id} --value 'true'",
    ]
    assert status_of(execution_id) == "waiting"


def test_replay_from_with_override(flows: Flows, invoke: Invoke) -> None:
    source = completed(flows)
    before = flows.runs("draft")
    result = invoke(
        "executions", "replay", source, "--from", "draft",
        "--override", 'checkpoint.research="other brief"',
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    first, *_, done, value = result.stdout.splitlines()
    new_id = first.split()[1]
    assert first == f"execution {new_id} started (replay of {source})"
    assert done == f"execution {new_id} completed"
    assert json.loads(value) == "OTHER BRIEF"
    assert flows.runs("research") == 1 and flows.runs("draft") == before + 1
    [item] = envelope(invoke("executions", "show", new_id, "-o", "json").stdout, "executions show")
    assert item["replay_of"] == source and item["replay_from"] == "draft"


def test_replay_flow_input_override_detached(flows: Flows, invoke: Invoke) -> None:
    source = completed(flows)
    result = invoke("executions", "replay", source, "--override", 'flow.topic="new"', "--detach")
    assert result.exit_code == 0, result.output
    new_id = result.stdout.strip()
    wait_for(lambda: status_of(new_id) == "completed", what="the detached replay")
    from kitaru.client import KitaruClient

    assert KitaruClient().executions.handle(new_id).wait() == "BRIEF ON NEW"


@pytest.mark.parametrize("override", ["checkpoint.research=1", "flow.topic=[1]"])
def test_a_wrong_type_override_is_one_line_without_pydantics_link(
    flows: Flows, invoke: Invoke, override: str
) -> None:
    source = completed(flows)
    result = invoke("executions", "replay", source, "--override", override)
    line = assert_one_line_error(result, code=2, contains="does not match its type")
    assert "input should be a valid string" in line.lower(), line
    assert "pydantic.dev" not in result.stderr and "For further information" not in result.stderr


# -- errors: one line, non-zero, nothing changed ------------------------------------------------
@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["executions", "show", "ffffffffffff"], 3, "no execution with id 'ffffffffffff'"),
        (["executions", "logs", "ffffffffffff"], 3, "no execution with id"),
        (["executions", "cancel", "ffffffffffff"], 3, "no execution with id"),
        (["executions", "resume", "ffffffffffff"], 3, "no execution with id"),
        (["executions", "input", "ffffffffffff", "--value", "1"], 3, "no execution with id"),
        (["executions", "replay", "ffffffffffff"], 3, "no execution with id"),
        (["executions", "input", "{id}", "--value", "true"], 4, "is completed; it is not waiting"),
        (["executions", "input", "{id}", "--value", "tru"], 2, "--value is not valid JSON"),
        (["executions", "input", "{id}"], 2, "give exactly one of --value JSON or --abort"),
        (["executions", "input", "{id}", "--value", "1", "--abort"], 2, "give exactly one of"),
        (["executions", "replay", "{id}", "--from", "nope"], 3, "has no call 'nope'"),
        (["executions", "replay", "{id}", "--override", "bad=1"], 2, "--override key 'bad'"),
        (["executions", "replay", "{id}", "--override", "research=1"], 2, "--override key"),
        (["executions", "replay", "{id}", "--override", "noequals"], 2, "is not KEY=JSON"),
        (
            ["executions", "replay", "{id}", "--override", "checkpoint.nope=1"],
            3,
            "has no checkpoint call 'nope'",
        ),
        (
            ["executions", "replay", "{id}", "--override", "flow.nope=1"],
            2,
            "has no parameter 'nope'",
        ),
        (
            ["executions", "replay", "{id}", "--override", "checkpoint.research={x"],
            2,
            "--override checkpoint.research is not valid JSON",
        ),
        (
            ["executions", "replay", "{id}", "--override", "checkpoint.research=1"],
            2,
            "override checkpoint.research does not match its type",
        ),
        (["executions", "resume", "{id}"], 4, "is completed; nothing to resume"),
        (["executions", "retry", "{id}"], 4, "is completed, not failed"),
        (["executions", "cancel", "{id}"], 4, "is already completed"),
    ],
)
def test_errors_are_one_line_and_change_nothing(
    flows: Flows, invoke: Invoke, args: list[str], code: int, message: str
) -> None:
    execution_id = completed(flows)
    before = snapshot()
    result = invoke(*[a.replace("{id}", execution_id) for a in args])
    assert_one_line_error(result, code=code, contains=message)
    assert result.stdout == ""
    assert snapshot() == before


def test_empty_id(invoke: Invoke) -> None:
    result = invoke("executions", "show", "")
    assert_one_line_error(result, code=2, contains="an execution id is required")


def test_click_usage_errors_keep_clicks_behaviour(invoke: Invoke) -> None:
    result = invoke("executions", "list", "--status", "bogus")
    assert result.exit_code == 2
    assert "Usage: kitaru executions list" in result.stderr
    assert "Invalid value for '--status'" in result.stderr
    assert invoke("executions", "nope").exit_code == 2
    assert invoke("executions", "show").exit_code == 2  # missing ID


def test_debug_shows_the_traceback(invoke: Invoke) -> None:
    result = invoke("--debug", "executions", "show", "ffffffffffff")
    assert result.exit_code == 3
    assert "Traceback (most recent call last)" in result.stderr
    assert "kitaru.errors.NotFound" in result.stderr
    assert "error: no execution with id 'ffffffffffff'" in result.stderr


def test_debug_from_the_environment(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITARU_DEBUG", "1")
    result = invoke("executions", "show", "ffffffffffff")
    assert "Traceback" in result.stderr


def test_unexpected_exception_is_an_internal_error(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitaru.client import Executions

    def boom(self: object, **kwargs: object) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(Executions, "list", boom)
    result = invoke("executions", "list")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: internal error: RuntimeError: the disk is on fire",
        "hint: re-run with --debug for the traceback",
    ]
    debug = invoke("--debug", "executions", "list")
    assert "Traceback" in debug.stderr and debug.exit_code == 1
