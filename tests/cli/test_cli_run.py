"""``kitaru run FILE.py:FLOW`` in real processes: results, waits answered from another process,
failures, --detach, and bad targets or inputs that change nothing."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest

from tests.cli.cli_helpers import (
    Flows,
    Invoke,
    assert_one_line_error,
    executions,
    kitaru,
    spawn,
    wait_for,
)


def test_run_two_checkpoint_flow_with_input(flows: Flows) -> None:
    proc = kitaru("run", flows.target("review"), "--input", '{"topic": "agents"}')
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("execution ") and lines[0].endswith(" started")
    execution_id = lines[0].split()[1]
    assert "researching agents" in lines  # the flow's own output still reaches the terminal
    assert lines[-2] == f"execution {execution_id} completed"
    assert json.loads(lines[-1]) == "BRIEF ON AGENTS"
    # Loading the file stopped at its `__main__` flow invocation: exactly one execution.
    [info] = executions()
    assert info.id == execution_id and info.status == "completed"
    assert flows.runs("research") == 1 and flows.runs("draft") == 1


def test_run_with_relative_path_and_single_flow_name(flows: Flows) -> None:
    proc = kitaru("run", f"{flows.path.name}:review", "--input", '{"topic": "x"}', cwd=flows.dir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == '"BRIEF ON X"'


def test_run_prints_repr_of_non_json_result(flows: Flows) -> None:
    proc = kitaru("run", flows.target("returns_object"), "--input", '{"n": 3}')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "{1, 2, 3}"


def test_wait_answered_from_another_process(flows: Flows) -> None:
    proc, out = spawn("run", flows.target("approval"), "--input", '{"topic": "durable agents"}')
    try:
        started = out.until(lambda line: line.endswith(" started"))
        execution_id = started.split()[1]
        waiting = out.until(lambda line: "is waiting on" in line)
        assert waiting == (
            f"execution {execution_id} is waiting on 'approve_draft': Approve draft?"
        )
        answer = out.until(lambda line: line.startswith("answer with: "))
        assert answer == f"answer with: kitaru executions input {execution_id} --value 'true'"

        given = kitaru("executions", "input", execution_id, "--value", "true")
        assert given.returncode == 0, given.stderr
        assert given.stdout.strip() == (
            f"resolved wait 'approve_draft' of {execution_id}; the execution resumes"
        )

        rest = out.rest()
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rest[-2:] == [f"execution {execution_id} completed", '"BRIEF ON DURABLE AGENTS"']
    # the wait was announced once; the execution ran in the first process only
    assert sum("is waiting on" in line for line in out.lines) == 1
    assert flows.runs("research") == 1
    [info] = executions()
    assert info.status == "completed"


def test_failed_run_is_one_error_line_and_exit_1(flows: Flows) -> None:
    flows.fail()
    proc = kitaru("run", flows.target("review"), "--input", '{"topic": "t"}')
    assert proc.returncode == 1
    line = assert_one_line_error(proc, code=1)
    [info] = executions()
    assert line == f"error: execution {info.id} failed: ValueError: draft failed"
    assert f"kitaru executions retry {info.id}" in proc.stderr
    assert info.status == "failed"


def test_run_detach_prints_id_and_a_worker_finishes(flows: Flows) -> None:
    proc = kitaru("run", flows.target("review"), "--input", '{"topic": "bg"}', "--detach")
    assert proc.returncode == 0, proc.stderr
    execution_id = proc.stdout.strip()
    assert len(proc.stdout.splitlines()) == 1
    from kitaru.client import KitaruClient

    client = KitaruClient()
    wait_for(lambda: client.executions.get(execution_id).status == "completed", what="worker")
    assert client.executions.handle(execution_id).wait() == "BRIEF ON BG"


def test_crashed_run_is_resumed_by_the_cli(flows: Flows) -> None:
    """SIGKILL `kitaru run` inside a checkpoint; `executions resume` finishes it in place."""
    (flows.dir / "SLOW").write_text("1")
    proc, out = spawn("run", flows.target("review"), "--input", '{"topic": "crash"}')
    execution_id = out.until(lambda line: line.endswith(" started")).split()[1]
    wait_for(lambda: (flows.dir / "in-draft").exists(), what="the slow checkpoint")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    (flows.dir / "SLOW").unlink()

    listed = kitaru("executions", "list", "-o", "json")
    [item] = json.loads(listed.stdout)["items"]
    assert item["status"] == "crashed"
    only_crashed = kitaru("executions", "list", "--status", "crashed", "-o", "json")
    assert [i["id"] for i in json.loads(only_crashed.stdout)["items"]] == [execution_id]
    assert "crashed" in kitaru("executions", "show", execution_id).stdout

    resumed = kitaru("executions", "resume", execution_id[:6])
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[-1] == '"BRIEF ON CRASH"'
    assert flows.runs("research") == 1  # completed before the crash: not run again
    assert flows.runs("draft") == 2  # the in-flight call reran


# -- bad targets and inputs: one line, non-zero, nothing created --------------------------------
@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--input", "{topic: 1}"], 2, "error: --input is not valid JSON: Expecting property name"),
        (["--input", "[1, 2]"], 2, "error: --input must be a JSON object"),
        (["--input", '{"nope": 1}'], 2, "error: bad inputs for flow 'review'"),
    ],
)
def test_bad_input_changes_nothing(
    flows: Flows, invoke: Invoke, args: list[str], code: int, message: str
) -> None:
    result = invoke("run", flows.target("review"), *args)
    line = assert_one_line_error(result, code=code)
    assert line.startswith(message), line
    assert executions() == []
    assert flows.runs("research") == 0


def test_malformed_input_json_in_a_real_process(flows: Flows) -> None:
    proc = kitaru("run", flows.target("review"), "--input", '{"topic": ')
    line = assert_one_line_error(proc, code=2, contains="--input is not valid JSON")
    assert "line 1, column" in line
    assert "hint: e.g. --input '{" in proc.stderr
    assert executions() == []


@pytest.mark.parametrize(
    ("target", "message", "hint"),
    [
        ("{path}:missing", "defines no flow named 'missing'", "approval, returns_object, review"),
        ("{path}:not_a_flow", "'not_a_flow' in {path} is a int, not a @flow", "review"),
        ("{path}", "say which flow of {path} to run", "approval, returns_object, review"),
        ("{dir}/nope.py:review", "no such file", "give a path to a Python file"),
    ],
)
def test_bad_target(flows: Flows, invoke: Invoke, target: str, message: str, hint: str) -> None:
    fmt = {"path": str(flows.path), "dir": str(flows.dir)}
    result = invoke("run", target.format(**fmt))
    assert_one_line_error(result, contains=message.format(**fmt))
    assert hint in result.stderr
    assert executions() == []


def test_file_that_fails_to_load(flows: Flows, invoke: Invoke) -> None:
    broken = flows.dir / "broken.py"
    broken.write_text("import kitaru\nraise RuntimeError('boom at import')\n")
    result = invoke("run", f"{broken}:f")
    assert_one_line_error(result, code=1, contains="RuntimeError: boom at import")


def test_interrupted_run_leaves_the_wait_answerable(flows: Flows) -> None:
    proc, out = spawn("run", flows.target("approval"), "--input", '{"topic": "ctrl-c"}')
    try:
        execution_id = out.until(lambda line: line.endswith(" started")).split()[1]
        out.until(lambda line: line.startswith("answer with: "))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    assert "Traceback" not in stderr
    assert f"interrupted: execution {execution_id} stops here; it keeps waiting" in stderr

    given = kitaru("executions", "input", execution_id, "--value", "false")
    assert given.returncode == 0, given.stderr
    from kitaru.client import KitaruClient

    client = KitaruClient()
    wait_for(lambda: client.executions.get(execution_id).status == "completed", what="worker")
    assert client.executions.handle(execution_id).wait() == "Rejected"


def test_logs_follow_a_detached_run_until_it_ends(flows: Flows) -> None:
    started = kitaru("run", flows.target("review"), "--input", '{"topic": "tail"}', "--detach")
    execution_id = started.stdout.strip()
    followed = kitaru("executions", "logs", execution_id, "--follow")
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout.rstrip().endswith("[research] researching tail")
    from kitaru.client import KitaruClient

    assert KitaruClient().executions.get(execution_id).status == "completed"


def test_inputs_that_do_not_validate_fail_the_run_instead_of_hanging(tmp_path: Any) -> None:
    """A typed (pydantic) parameter given the wrong value: the execution fails and the command
    exits 1 with one line (its driving thread used to die on the validation error, so the
    command waited forever)."""
    script = tmp_path / "typed.py"
    script.write_text(
        "from pydantic import BaseModel\nfrom kitaru import flow\n\n"
        "class P(BaseModel):\n    n: int\n\n@flow\ndef typed(p: P) -> int:\n    return p.n\n"
    )
    proc = kitaru("run", f"{script}:typed", "--input", '{"p": {"n": "abc"}}', timeout=60)
    line = assert_one_line_error(proc, code=1)
    assert "ValidationError" in line and "valid integer" in line
    assert "errors.pydantic.dev" not in proc.stderr  # one line, without the documentation link
    [info] = executions()
    assert info.status == "failed"
