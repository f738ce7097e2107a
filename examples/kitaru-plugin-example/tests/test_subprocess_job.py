"""The ``subprocess-job`` flavor passes Kitaru's orchestrator contract; its isolated checkpoints
run as units of their own and reply through the artifact store; a unit that ends before Kitaru
starts in it leaves its execution ``crashed``, with the unit's reason."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kitaru.components.orchestrator import Orchestrator
from kitaru.testing import OrchestratorContract, build_component, run_on

EXAMPLE = Path(__file__).parents[1]


class TestSubprocessJobOrchestrator(OrchestratorContract):
    @pytest.fixture
    def orchestrator(self, isolated_kitaru_home: Path) -> Orchestrator:
        return build_component("orchestrator", "subprocess-job")


def test_an_isolated_checkpoint_runs_as_a_unit_of_its_own(
    isolated_kitaru_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flow's unit submits the checkpoint's unit, waits for it and reads the reply it wrote
    to the stack's artifact store."""
    import jobs_flows

    from kitaru.components.job_orchestrator import read_reply, reply_key
    from kitaru.stack.loader import load_stack_file
    from kitaru.stack.registry import register_stack
    from kitaru.store import default_store

    register_stack(load_stack_file(EXAMPLE / "jobs-stack.yaml"), replace=True)  # a server keeps it
    monkeypatch.setenv("KITARU_STACK", "jobs")
    handle = jobs_flows.with_isolated.run(3)
    result = handle.wait(timeout=60)
    assert result["value"] == 16
    assert len({result["checkpoint_pid"], result["flow_pid"], os.getpid()}) == 3

    store = default_store()
    execution = store.get_execution(handle.id)
    run, checkpoint = execution.metadata["units"]
    assert (run["role"], checkpoint["role"]) == ("run", "checkpoint")
    assert run["image"] == checkpoint["image"]  # the Python that ran them
    (call,) = store.find_calls(execution.pk, "heavy")
    assert (call.meta or {})["unit"] == checkpoint["name"]
    # the reply is in the stack's artifact store (`local`: $KITARU_HOME/artifacts), under the
    # key the unit was given
    artifacts = build_component("artifact_store", "local")
    reply = read_reply(artifacts, reply_key(checkpoint["name"]), {})
    assert reply is not None and reply.error is None and reply.output is not None
    orchestrator = build_component("orchestrator", "subprocess-job")
    printed = [r["line"] for r in orchestrator.unit_logs(checkpoint["name"])]
    assert "heavy got 4" in printed


def test_a_unit_that_fails_before_kitaru_starts_leaves_the_execution_crashed(
    isolated_kitaru_home: Path, tmp_path: Path
) -> None:
    """An "image" without kitaru: the unit exits 1 before it can reach any store, which still
    says pending; only the backend knows why."""
    import venv

    from kitaru.testing.flows import tiny

    venv.create(tmp_path / "bare", with_pip=False)
    orchestrator = build_component("orchestrator", "subprocess-job",
                                   image=str(tmp_path / "bare" / "bin" / "python"))  # fmt: skip
    handle = run_on(orchestrator, tiny, {"x": 1})
    deadline = time.monotonic() + 30
    while orchestrator.status(handle.id) != "crashed":
        assert time.monotonic() < deadline, orchestrator.status(handle.id)
        time.sleep(0.05)
    reason = orchestrator.failure(handle.id)
    assert reason is not None and " failed: exit code 1: " in reason
    assert "No module named 'kitaru'" in reason
    assert any("No module named 'kitaru'" in r["line"] for r in orchestrator.logs(handle.id))


def test_stop_unit_ends_a_running_unit(tmp_path: Path) -> None:
    """SIGTERM reaches the unit's process group; the unit is then ``stopped``."""
    from kitaru.components.job_orchestrator import UnitSpec

    sleeper = tmp_path / "sleeper"  # an "image" whose unit runs until stopped
    sleeper.write_text("#!/bin/sh\nexec sleep 60\n")
    sleeper.chmod(0o755)
    orchestrator = build_component("orchestrator", "subprocess-job", folder=str(tmp_path))
    spec = UnitSpec(name="kitaru-run-1", execution_id="x", role="run", image=str(sleeper),
                    arguments=["run", "x"], environment={}, time_limit=60)  # fmt: skip
    facts = orchestrator.submit_unit(spec)
    assert facts["log"] == str(tmp_path / "kitaru-run-1" / "log")
    assert orchestrator.unit_state("kitaru-run-1").phase == "running"
    started = time.monotonic()
    orchestrator.stop_unit("kitaru-run-1")
    assert time.monotonic() - started < 5  # SIGTERM was enough
    state = orchestrator.unit_state("kitaru-run-1")
    assert (state.phase, state.reason) == ("stopped", "stopped by the orchestrator")
    assert orchestrator.unit_state("kitaru-run-2").phase == "gone"


def test_starting_while_the_unit_has_not_ended(isolated_kitaru_home: Path, tmp_path: Path) -> None:
    """What the server's sweep asks before it resumes a timed-out wait: a unit launched for the
    execution that has not ended (still on its way to the lease) must not get a second one."""
    from kitaru.store import default_store
    from kitaru.testing.flows import tiny

    sleeper = tmp_path / "sleeper"  # an "image" whose unit runs until stopped
    sleeper.write_text("#!/bin/sh\nexec sleep 60\n")
    sleeper.chmod(0o755)
    orchestrator = build_component("orchestrator", "subprocess-job", image=str(sleeper),
                                   folder=str(tmp_path / "units"))  # fmt: skip
    handle = run_on(orchestrator, tiny, {"x": 1})
    assert orchestrator.starting(handle.id)
    (unit,) = default_store().get_execution(handle.id).metadata["units"]
    orchestrator.stop_unit(unit["name"])
    assert not orchestrator.starting(handle.id)
