"""``kitaru mcp`` over stdio with the SDK's ClientSession: the seed flow run, answered and
replayed through tools; read-only mode; tool errors that say what the CLI says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.mcp.conftest import call, cli_error, refused, stdio_session

pytestmark = pytest.mark.anyio

SEED = "examples/review_flow.py:review_flow"

READING = {
    "artifacts_list", "artifacts_load", "deployments_list", "executions_diff", "executions_get",
    "executions_list", "executions_logs", "executions_wait", "flavors_list", "memory_get",
    "memory_history", "memory_list", "memory_scopes", "plugins_list", "stacks_describe",
    "stacks_list",
}  # fmt: skip
WRITING = {
    "deployments_invoke", "executions_abort", "executions_cancel", "executions_input",
    "executions_replay", "executions_resume", "executions_retry", "flows_run", "memory_delete",
    "memory_set",
}  # fmt: skip


async def test_tools_have_output_schemas_and_read_only_hints() -> None:
    async with stdio_session() as s:
        tools = (await s.list_tools()).tools
    assert {t.name for t in tools} == READING | WRITING
    for t in tools:
        assert t.output_schema and t.output_schema.get("type") == "object", t.name
        assert t.description, t.name
        assert t.annotations is not None and t.annotations.read_only_hint is (t.name in READING)
    get = next(t for t in tools if t.name == "executions_get")
    assert {"status", "pending_wait", "checkpoints"} <= set(get.output_schema["properties"])


async def test_seed_flow_waits_is_answered_completes_and_replays_with_an_override() -> None:
    async with stdio_session() as s:
        run = await call(s, "flows_run", target=SEED, inputs={"topic": "Durable agents"},
                         wait=True, timeout_s=60)  # fmt: skip
        eid = run["execution_id"]
        assert run["status"] == "waiting" and run["settled"] is True
        wait = run["pending_wait"]
        assert (wait["name"], wait["question"]) == ("approve_draft", "Approve draft?")
        assert wait["input_schema"] == {"type": "boolean"} and wait["example"] is True
        listed = await call(s, "executions_list", status="waiting")
        assert [e["id"] for e in listed["executions"]] == [eid]

        done = await call(s, "executions_input", execution_id=eid[:8], value=True, wait=True,
                          timeout_s=60)  # fmt: skip
        assert done["status"] == "completed", done
        assert done["message"] == f"resolved wait 'approve_draft' of {eid}; the execution resumes"
        assert done["result"].startswith("[offline answer")

        shown = await call(s, "executions_get", execution_id=eid)
        assert [c["call_id"] for c in shown["checkpoints"]] == ["research", "draft"]
        assert shown["pending_wait"] is None and shown["usage"]["calls"] == 2
        assert shown["created_at"].endswith("Z")  # ISO-8601 UTC, as the CLI's JSON

        replay = await call(s, "executions_replay", execution_id=eid,
                            overrides={"checkpoint.draft": "An edited draft"}, wait=True,
                            timeout_s=60)  # fmt: skip
        assert replay["status"] == "completed" and replay["result"] == "An edited draft"
        new = replay["execution_id"]
        diff = await call(s, "executions_diff", a=eid, b=new)
        assert "draft" in diff["changed"] and "research" not in diff["changed"]
        again = await call(s, "executions_get", execution_id=new)
        assert again["replay_of"] == eid

        arts = await call(s, "artifacts_list", execution_id=new)
        assert "draft" in {a["call_id"] for a in arts["artifacts"]}
        draft = await call(s, "artifacts_load", execution_id=new, name="draft")
        assert (draft["encoding"], draft["value"]) == ("text", "An edited draft")
        logs = await call(s, "executions_logs", execution_id=eid)
        assert logs["execution_id"] == eid and isinstance(logs["records"], list)


async def test_memory_tools_write_read_and_keep_history() -> None:
    async with stdio_session() as s:
        first = await call(s, "memory_set", key="style", value={"tone": "dry"}, namespace="team")
        assert first == {"key": "style", "version": 1, "deleted": False}
        await call(s, "memory_set", key="style", value={"tone": "warm"}, namespace="team")
        got = await call(s, "memory_get", key="style", namespace="team")
        assert got == {"key": "style", "found": True, "value": {"tone": "warm"}}
        old = await call(s, "memory_get", key="style", namespace="team", version=1)
        assert old["value"] == {"tone": "dry"}
        await call(s, "memory_delete", key="style", namespace="team")
        gone = await call(s, "memory_get", key="style", namespace="team")
        assert gone["found"] is False
        history = await call(s, "memory_history", key="style", namespace="team")
        assert [(v["version"], v["deleted"]) for v in history["entries"]] == [
            (1, False), (2, False), (3, True)]  # fmt: skip
        conflict = await refused(s, "memory_set", key="style", value=1, namespace="team",
                                 if_version=1)  # fmt: skip
        assert conflict.startswith("error: ")


async def test_stacks_flavors_and_plugins_are_listed() -> None:
    async with stdio_session() as s:
        stacks = await call(s, "stacks_list")
        local = next(st for st in stacks["stacks"] if st["name"] == "local")
        assert local["active"] is True and "orchestrator" in local["components"]
        described = await call(s, "stacks_describe")
        assert described["name"] == "local"
        flavors = await call(s, "flavors_list", type="orchestrator")
        assert "local" in {f["name"] for f in flavors["flavors"]}
        assert {f["type"] for f in flavors["flavors"]} == {"orchestrator"}
        plugins = await call(s, "plugins_list")
        assert "kitaru" in {p["name"] for p in plugins["plugins"]}


async def test_read_only_offers_and_runs_no_writing_tool() -> None:
    async with stdio_session("--read-only") as s:
        names = {t.name for t in (await s.list_tools()).tools}
        assert names == READING
        for name, args in (("memory_set", {"key": "k", "value": 1}),
                           ("flows_run", {"target": SEED}),
                           ("executions_cancel", {"execution_id": "abc"})):  # fmt: skip
            message = await refused(s, name, **args)
            assert "unknown tool" in message.lower(), message
        assert (await call(s, "memory_list"))["entries"] == []


async def test_bad_arguments_are_tool_errors_with_the_cli_lines() -> None:
    async with stdio_session() as s:
        run = await call(s, "flows_run", target=SEED, inputs={"topic": "t"}, wait=True,
                         timeout_s=60)  # fmt: skip
        eid = run["execution_id"]
        cases = [
            (("executions_get", {"execution_id": "ffffffffff"}),
             ("executions", "show", "ffffffffff")),
            (("executions_input", {"execution_id": eid, "value": "yes"}),
             ("executions", "input", eid, "--value", json.dumps("yes"))),
            (("executions_retry", {"execution_id": eid}), ("executions", "retry", eid)),
            (("executions_replay", {"execution_id": eid, "from_call": "nope"}),
             ("executions", "replay", eid, "--from", "nope")),
            (("executions_replay", {"execution_id": eid, "overrides": {"checkpoint.draft": 3}}),
             ("executions", "replay", eid, "--override", "checkpoint.draft=3")),
            (("flows_run", {"target": "examples/missing.py:flow"}),
             ("run", "examples/missing.py:flow")),
            (("memory_list", {"scope": "flow"}), ("memory", "list", "--scope", "flow")),
            (("artifacts_load", {"execution_id": eid, "name": "nothing"}),
             ("artifacts", "load", eid, "nothing")),
        ]  # fmt: skip
        for (tool, args), command in cases:
            message = await refused(s, tool, **args)
            assert message == cli_error(*command), (tool, message)
            assert message.startswith("error: ") and len(message.splitlines()) <= 2
        # still waiting: nothing above changed it
        assert (await call(s, "executions_get", execution_id=eid))["status"] == "waiting"
        # arguments that do not match the input schema are refused by the SDK, before the tool
        schema_error = await refused(s, "executions_list", limit=0)
        assert "limit" in schema_error


FLAKY = """
from pathlib import Path

from kitaru import checkpoint, flow

MARK = Path(__file__).with_name("fixed")


@checkpoint
def fetch(n: int) -> int:
    if not MARK.exists():
        raise RuntimeError("the service is down")
    return n * 2


@flow
def flaky(n: int) -> int:
    return fetch(n) + 1
"""


async def test_abort_cancel_resume_and_retry(tmp_path: Path) -> None:
    script = tmp_path / "flaky.py"
    script.write_text(FLAKY)
    async with stdio_session() as s:
        run = await call(s, "flows_run", target=f"{script}:flaky", inputs={"n": 20}, wait=True,
                         timeout_s=60)  # fmt: skip
        eid = run["execution_id"]
        assert run["status"] == "failed" and "the service is down" in json.dumps(run["error"])
        (tmp_path / "fixed").write_text("")
        retried = await call(s, "executions_retry", execution_id=eid, wait=True, timeout_s=60)
        assert (retried["status"], retried["result"]) == ("completed", 41)
        again = await refused(s, "executions_retry", execution_id=eid)
        assert again == cli_error("executions", "retry", eid)

        seed = [(await call(s, "flows_run", target=SEED, inputs={"topic": t}, wait=True,
                            timeout_s=60))["execution_id"] for t in ("a", "b", "c")]  # fmt: skip
        resumed = await call(s, "executions_resume", execution_id=seed[0], wait=True,
                             timeout_s=60)  # fmt: skip
        assert resumed["status"] == "waiting"  # it ran again to the same wait, nothing re-run
        assert resumed["pending_wait"]["name"] == "approve_draft"
        aborted = await call(s, "executions_abort", execution_id=seed[1])
        assert aborted["status"] == "cancelled"
        assert aborted["message"] == (f"aborted wait 'approve_draft' of {seed[1]}; the "
                                      "execution is cancelled")  # fmt: skip
        cancelled = await call(s, "executions_cancel", execution_id=seed[2][:6])
        assert cancelled == {**cancelled, "execution_id": seed[2], "status": "cancelled"}
        waited = await call(s, "executions_wait", execution_id=seed[2], timeout_s=5)
        assert (waited["status"], waited["settled"]) == ("cancelled", True)
