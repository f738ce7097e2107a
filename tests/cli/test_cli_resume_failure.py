"""A resume that cannot import the flow is visible where users look, never a silent stall.

The flow's module reads an environment variable at import. It runs (detached) with it set and
waits; the input then comes from a shell without it, so the worker started to resume the
execution cannot import the flow.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli.cli_helpers import Invoke, assert_one_line_error, wait_for
from tests.conftest import subprocess_env

FLOW = textwrap.dedent(
    """
    import os
    import kitaru
    from kitaru import checkpoint, flow

    LOG = os.environ["ACC_LOG"]

    @checkpoint
    def one() -> int:
        return 1

    @flow
    def acc() -> int:
        x = one()
        return x if kitaru.wait(name="go", schema=bool) else 0
    """
)


def _status(invoke: Invoke, execution_id: str) -> dict:
    result = invoke("executions", "show", execution_id, "-o", "json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout)["items"][0])


def test_a_worker_that_cannot_import_the_flow_is_reported(
    tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "acc.py"
    script.write_text(FLOW)
    monkeypatch.delenv("ACC_LOG", raising=False)
    started = subprocess.run(
        [sys.executable, "-m", "kitaru.cli", "run", f"{script}:acc", "--detach"],
        env=subprocess_env(ACC_LOG="on"), cwd=tmp_path, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    execution_id = started.stdout.split()[0]
    wait_for(lambda: _status(invoke, execution_id)["status"] == "waiting", what="the wait")

    # the input is stored; the worker it starts fails at once: the command says so
    result = invoke("executions", "input", execution_id, "--value", "true")
    line = assert_one_line_error(result, contains="could not resume")
    assert "KeyError: 'ACC_LOG'" in line and str(script) in line
    assert f"kitaru executions resume {execution_id}" in result.stderr

    # show, list and the JSON (the API's model) say the last resume failed, with the fix
    info = _status(invoke, execution_id)
    assert info["status"] == "waiting"
    assert "KeyError: 'ACC_LOG'" in info["resume_error"]["message"]
    assert info["resume_error"]["hint"].endswith(f"`kitaru executions resume {execution_id}`")
    assert "resume_error" not in info["metadata"]
    shown = invoke("executions", "show", execution_id).stdout
    assert "waiting (resume failed)" in shown and "KeyError: 'ACC_LOG'" in shown
    assert "waiting (resume failed)" in invoke("executions", "list").stdout

    # fixed environment: resume finishes it, and the failure is no longer shown
    monkeypatch.setenv("ACC_LOG", "on")
    resumed = invoke("executions", "resume", execution_id)
    assert resumed.exit_code == 0, resumed.output
    info = _status(invoke, execution_id)
    assert (info["status"], info["resume_error"]) == ("completed", None)
    assert "resume failed" not in invoke("executions", "list").stdout
