"""The contract every orchestrator flavor passes.

It runs the flows of :mod:`kitaru.testing.flows` (an installed module, importable wherever the
executions run) against the metadata store of the current ``KITARU_HOME``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from kitaru.components.orchestrator import Capabilities, Orchestrator
from kitaru.errors import ExecutionCancelled, ExecutionFailed
from kitaru.handle import FlowHandle


def run_on(orchestrator: Orchestrator, flow: Any, arguments: dict[str, Any]) -> FlowHandle[Any]:
    """Start an execution of ``flow`` (on the active stack) launched on ``orchestrator``, as
    ``flow.run()`` launches on the stack's own."""
    from kitaru.runtime.launch import launch, new_execution

    new = new_execution(flow, arguments, orchestrator=orchestrator)
    return FlowHandle._launched(launch(new.store, new, "run", flow=flow,
                                       orchestrator=orchestrator))  # fmt: skip


def resume_on(orchestrator: Orchestrator, execution_id: str) -> None:
    """Launch a waiting or crashed execution on ``orchestrator`` again, as the input to its
    wait from another process does."""
    from kitaru.runtime.launch import launch
    from kitaru.store import default_store

    store = default_store()
    launch(store, store.get_execution(execution_id), "input", detach=True,
           orchestrator=orchestrator)  # fmt: skip


class OrchestratorContract:
    """Subclass as ``TestMyOrchestrator`` and override the ``orchestrator`` fixture."""

    #: seconds one tiny execution may take on this backend (a remote job needs more)
    execution_timeout: float = 60.0

    @pytest.fixture
    def orchestrator(self) -> Orchestrator:
        raise NotImplementedError("override the `orchestrator` fixture to return your orchestrator")

    def until_status(self, orchestrator: Orchestrator, execution_id: str, status: str) -> None:
        deadline = time.monotonic() + self.execution_timeout
        seen = orchestrator.status(execution_id)
        while seen != status:
            if time.monotonic() > deadline:
                pytest.fail(f"execution {execution_id} is {seen!r}, never became {status!r}")
            time.sleep(0.05)
            seen = orchestrator.status(execution_id)

    def test_is_an_orchestrator(self, orchestrator: Orchestrator) -> None:
        assert isinstance(orchestrator, Orchestrator)
        assert orchestrator.TYPE == "orchestrator"
        assert isinstance(orchestrator.capabilities, Capabilities)

    def test_run_returns_a_handle_with_the_result(self, orchestrator: Orchestrator) -> None:
        from kitaru.testing.flows import tiny

        handle = run_on(orchestrator, tiny, {"x": 20})
        assert isinstance(handle.id, str) and handle.id
        assert handle.wait(timeout=self.execution_timeout) == 41

    def test_status_of_a_completed_execution(self, orchestrator: Orchestrator) -> None:
        from kitaru.testing.flows import tiny

        handle = run_on(orchestrator, tiny, {"x": 1})
        handle.wait(timeout=self.execution_timeout)
        assert orchestrator.status(handle.id) == "completed"

    def test_failing_flow_reports_its_error(self, orchestrator: Orchestrator) -> None:
        from kitaru.testing.flows import failing

        handle = run_on(orchestrator, failing, {"message": "on purpose"})
        with pytest.raises(ExecutionFailed) as info:
            handle.wait(timeout=self.execution_timeout)
        assert info.value.error_type == "ValueError"
        assert "on purpose" in str(info.value)
        assert orchestrator.status(handle.id) == "failed"

    def test_logs_hold_the_flow_output(self, orchestrator: Orchestrator) -> None:
        from kitaru.testing.flows import tiny

        handle = run_on(orchestrator, tiny, {"x": 7})
        handle.wait(timeout=self.execution_timeout)
        from kitaru.client import KitaruClient

        records: list[dict[str, Any]] = KitaruClient().executions.logs(handle.id)
        assert "tiny flow got 7" in [r.get("line") for r in records]

    def test_resume_after_input(self, orchestrator: Orchestrator) -> None:
        from kitaru.client import resolve_input
        from kitaru.store import default_store
        from kitaru.testing.flows import waiting

        handle = run_on(orchestrator, waiting, {"question": "go on?"})
        self.until_status(orchestrator, handle.id, "waiting")
        resolve_input(default_store(), handle.id, "yes", name="answer")
        resume_on(orchestrator, handle.id)
        self.until_status(orchestrator, handle.id, "completed")
        assert handle.wait(timeout=self.execution_timeout) == "answered: yes"

    def test_an_isolated_checkpoint_runs_as_a_unit_of_its_own(
        self, orchestrator: Orchestrator
    ) -> None:
        """Its inputs and its reply travel through the artifact store; the call records what
        ran it."""
        from kitaru.client import KitaruClient
        from kitaru.testing.flows import apart

        if not orchestrator.capabilities.isolated_checkpoints:
            pytest.skip(f"orchestrator {orchestrator.name!r} runs no isolated checkpoints")
        handle = run_on(orchestrator, apart, {"x": 5})
        assert handle.wait(timeout=self.execution_timeout) == 16
        (call,) = [c for c in KitaruClient().executions.get(handle.id).checkpoints
                   if c.name == "triple_apart"]  # fmt: skip
        assert call.status == "completed" and call.metadata, call

    def test_a_crashed_execution_is_recovered(self, orchestrator: Orchestrator) -> None:
        """Its runner died (the lease expired): a ``recover`` launch, as a server or
        ``kitaru serve`` makes at start, runs it to completion."""
        from kitaru.runtime.launch import launch, new_execution
        from kitaru.testing.flows import tiny

        new = new_execution(tiny, {"x": 4}, orchestrator=orchestrator)
        crashed = new.create(status="running", lease=("gone-host:1:dead", -1.0))
        launch(new.store, crashed, "recover", detach=True, orchestrator=orchestrator)
        handle: FlowHandle[Any] = FlowHandle(new.store, crashed.id)
        assert handle.wait(timeout=self.execution_timeout) == 9

    def test_retry_runs_a_failed_execution_again_in_place(self, orchestrator: Orchestrator) -> None:
        from kitaru.runtime.launch import launch
        from kitaru.store import default_store
        from kitaru.testing.flows import fails_once

        handle = run_on(orchestrator, fails_once, {"x": 6})
        with pytest.raises(ExecutionFailed):
            handle.wait(timeout=self.execution_timeout)
        store = default_store()
        failed_at = store.get_execution(handle.id).ended_at
        launch(store, store.get_execution(handle.id), "retry", detach=True,
               orchestrator=orchestrator)  # fmt: skip
        deadline = time.monotonic() + self.execution_timeout
        while (ex := store.get_execution(handle.id)).status == "failed" and (
            ex.ended_at == failed_at
        ):  # the retry has not taken it yet
            assert time.monotonic() < deadline, "the retry never took the execution"
            time.sleep(0.05)
        again: FlowHandle[Any] = FlowHandle(store, handle.id)
        assert again.wait(timeout=self.execution_timeout) == 6

    def test_cancel_a_waiting_execution(self, orchestrator: Orchestrator) -> None:
        from kitaru.testing.flows import waiting

        handle = run_on(orchestrator, waiting, {"question": "cancel me?"})
        self.until_status(orchestrator, handle.id, "waiting")
        handle.cancel()
        orchestrator.cancel(handle.id)
        assert orchestrator.status(handle.id) == "cancelled"
        with pytest.raises(ExecutionCancelled):
            handle.wait(timeout=self.execution_timeout)

    def test_cancel_a_finished_execution_does_not_raise(self, orchestrator: Orchestrator) -> None:
        from kitaru.testing.flows import tiny

        handle = run_on(orchestrator, tiny, {"x": 2})
        handle.wait(timeout=self.execution_timeout)
        orchestrator.cancel(handle.id)
        assert orchestrator.status(handle.id) == "completed"

    def test_every_entry_point_reaches_launch(
        self, orchestrator: Orchestrator, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Routing: ``flow.run()``, a direct call, the input that answers a wait nobody holds,
        ``executions retry`` and ``executions replay`` each hand their execution to the stack's
        orchestrator (this one, here) through ``launch``, with their reason — and it runs them."""
        from kitaru.client import KitaruClient
        from kitaru.runtime import stacks
        from kitaru.store import default_store
        from kitaru.store.records import lease_is_live
        from kitaru.testing.flows import fails_once, tiny, waiting

        seen: list[str] = []
        real = orchestrator.launch

        def recording(launch: Any) -> None:
            if launch.reason != "wait":  # a process waiting for a result offers to hold it
                seen.append(launch.reason)
            real(launch)

        monkeypatch.setattr(orchestrator, "launch", recording)
        monkeypatch.setattr(stacks, "orchestrator_of_stack", lambda name: orchestrator)
        timeout = self.execution_timeout
        assert tiny.run(x=1).wait(timeout=timeout) == 3
        assert tiny(x=2) == 5
        assert seen == ["run", "run"]
        client, store = KitaruClient(), default_store()
        held = waiting.run(question="go on?")
        deadline = time.monotonic() + timeout
        while (ex := store.get_execution(held.id)).status != "waiting" or lease_is_live(
            ex.lease_owner, ex.lease_expires, time.time()
        ):  # until no process holds the wait
            assert time.monotonic() < deadline, f"{held.id} is {ex.status}, still held"
            time.sleep(0.05)
        client.executions.input(held.id, "yes", name="answer")
        assert held.wait(timeout=timeout) == "answered: yes"
        assert seen[2:] == ["run", "input"]
        failed = fails_once.run(x=6)
        with pytest.raises(ExecutionFailed):
            failed.wait(timeout=timeout)
        assert client.executions.retry(failed.id).wait(timeout=timeout) == 6
        assert client.executions.replay(failed.id).wait(timeout=timeout) == 6
        assert seen[4:] == ["run", "retry", "replay"]

    def test_verify_ok(self, orchestrator: Orchestrator) -> None:
        orchestrator.verify()  # raises ConfigError saying what is wrong
