"""Every entry point hands its execution to the stack's orchestrator through one method.

A recording orchestrator (the ``local`` one, noting each :class:`Launch` and cancel, and always
driving here: no worker process knows this test flavor) is the active stack's. Each way of
starting, continuing or stopping an execution must reach it with its reason.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import kitaru
from kitaru.builtin.local_orchestrator import LocalOrchestrator, LocalOrchestratorConfig
from kitaru.components.flavor import Flavor
from kitaru.components.orchestrator import Launch
from kitaru.plugins import hookimpl

RECORDED: list[tuple[str, bool]] = []


class RecordingOrchestrator(LocalOrchestrator):
    def launch(self, launch: Launch) -> None:
        RECORDED.append((launch.reason, launch.detach))
        launch.here()  # detached too: a worker process would not know this flavor

    def cancel(self, execution_id: str) -> None:
        RECORDED.append(("cancel", False))

    def failure(self, execution_id: str) -> str | None:
        return "kitaru-run-0001 failed: exit code 3: no module named kitaru"

    def status(self, execution_id: str) -> str:
        if execution_id in DEAD_UNITS:  # its unit died before it took the lease
            return "crashed"
        return super().status(execution_id)


DEAD_UNITS: set[str] = set()


@hookimpl
def kitaru_flavors() -> list[Flavor]:
    return [Flavor("recording", "orchestrator", f"{__name__}:LocalOrchestratorConfig",
                   f"{__name__}:RecordingOrchestrator", description="records launches")]  # fmt: skip


assert LocalOrchestratorConfig  # the config class the flavor names


@pytest.fixture(autouse=True)
def routed(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """The ``routed`` stack (the recording orchestrator) is the active one."""
    import sys

    from kitaru.plugins.manager import PluginInfo, plugin_manager, reset_plugin_manager
    from kitaru.stack import registry
    from kitaru.stack.active import reset_stack_cache

    reset_plugin_manager()
    plugin_manager()._register(sys.modules[__name__], PluginInfo("routing", "kitaru-routing", "0"))
    registry.register_stack(registry.StackSpec.model_validate({"name": "routed", "components": {
        "orchestrator": {"name": "recorder", "flavor": "recording"},
        "artifact_store": {"name": "routed-artifacts", "flavor": "local",
                           "config": {"path": str(tmp_path / "artifacts")}},
    }}))  # fmt: skip
    monkeypatch.setenv("KITARU_STACK", "routed")
    reset_stack_cache()
    RECORDED.clear()
    yield
    # the executions this test drove end before its store closes (a thread outliving it
    # fails there, reported against a later test)
    for thread in threading.enumerate():
        if re.fullmatch(r"kitaru-[0-9a-f]{12}", thread.name):
            thread.join(timeout=30)
    reset_plugin_manager()
    reset_stack_cache()


def reasons() -> list[tuple[str, bool]]:
    seen = list(RECORDED)
    RECORDED.clear()
    return seen


def released_wait() -> str:
    """An execution waiting for input that no process holds (as after a detached run)."""
    from kitaru.testing.flows import waiting

    handle = waiting.run(question="go on?")
    deadline = time.monotonic() + 30
    while handle.status != "waiting" or (handle._thread and handle._thread.is_alive()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    RECORDED.clear()
    return handle.id


def crashed() -> str:
    """A running execution whose holder died (its lease is free)."""
    from kitaru.store import default_store
    from kitaru.testing.contracts.metadata_store import dead_local_owner
    from kitaru.testing.flows import tiny

    loc = tiny.location
    return default_store().create_execution(
        flow=tiny.name, module=loc.module, qualname=loc.qualname, source_file=loc.source_file,
        root=loc.root, inputs=tiny.inputs_record({"x": 1}), status="running",
        options={"stack": "routed", "retries": 0}, lease=(dead_local_owner(), 3600.0),
    ).id  # fmt: skip


def test_flow_run_and_a_direct_call() -> None:
    from kitaru.testing.flows import tiny

    assert tiny.run(x=1).wait(timeout=30) == 3
    assert tiny(x=2) == 5
    assert reasons() == [("run", False), ("run", False)]


def test_kitaru_run_attached_and_detached(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from kitaru.cli.main import cli

    script = tmp_path / "f.py"
    script.write_text("from kitaru.testing.flows import tiny\n")
    for extra in ([], ["--detach"]):
        result = CliRunner().invoke(cli, ["run", f"{script}:tiny", "--input", '{"x": 1}', *extra])
        assert result.exit_code == 0, result.output
    assert reasons() == [("run", False), ("run", True)]


def test_resume_retry_and_replay() -> None:
    from kitaru.testing.flows import failing

    client = kitaru.KitaruClient()
    assert client.executions.resume(crashed()).wait(timeout=30) == 3
    assert reasons() == [("resume", False)]
    client.executions.resume(crashed(), detach=True).wait(timeout=30)
    assert reasons() == [("resume", True)]

    failed = failing.run(message="no")
    with pytest.raises(kitaru.ExecutionFailed):
        failed.wait(timeout=30)
    reasons()
    with pytest.raises(kitaru.ExecutionFailed):
        client.executions.retry(failed.id).wait(timeout=30)
    assert reasons() == [("retry", False)]

    done = kitaru.KitaruClient().executions.list(status="completed")[0].id
    assert client.executions.replay(done).wait(timeout=30) == 3
    assert reasons() == [("replay", False)]


def test_input_from_the_sdk_the_cli_and_the_rest_api() -> None:
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from kitaru.cli.main import cli
    from kitaru.server import auth
    from kitaru.server.app import create_app
    from kitaru.store import default_store

    client = kitaru.KitaruClient()
    first = released_wait()
    client.executions.input(first, "yes")
    assert reasons() == [("input", True)]
    assert client.executions.handle(first).wait(timeout=30) == "answered: yes"

    second = released_wait()
    result = CliRunner().invoke(cli, ["executions", "input", second, "--value", '"yes"'])
    assert result.exit_code == 0, result.output
    assert reasons() == [("input", True)]

    third = released_wait()
    store = default_store()
    api = TestClient(create_app(store))
    api.headers["Authorization"] = f"Bearer {auth.bootstrap(store)}"
    answer = api.post(f"/api/v1/executions/{third}/input", json={"value": "yes"})
    assert answer.status_code == 200, answer.text
    assert reasons() == [("input", True)]
    for execution_id in (second, third):  # driven here: let them finish before the store goes
        assert client.executions.handle(execution_id).wait(timeout=30) == "answered: yes"


def test_a_handle_waiting_on_a_released_wait_offers_to_hold_it() -> None:
    handle = kitaru.KitaruClient().executions.handle(released_wait())
    with pytest.raises(TimeoutError):
        handle.wait(timeout=0.2)
    assert ("wait", False) in reasons()
    # end the hold it started before this test's store closes (its thread outlived it)
    kitaru.KitaruClient().executions.cancel(handle.id)
    deadline = time.monotonic() + 30
    while any(t.name == f"kitaru-{handle.id}" for t in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_deployments_invoke_serve_and_the_servers_recovery() -> None:
    from kitaru.deployments import invoke
    from kitaru.serve import LocalRunner
    from kitaru.server.run import recover
    from kitaru.store import default_store
    from kitaru.testing.flows import tiny

    tiny.deploy()
    assert invoke("tiny", {"x": 3}).wait(timeout=30) == 7
    assert reasons() == [("invoke", True)]

    store = default_store()
    stuck = crashed()
    assert recover(store, may_take=lambda ex: ex.id == stuck) == [stuck]
    assert reasons() == [("recover", True)]

    runner = LocalRunner(store, {})
    stuck = crashed()
    runner.sweep()
    deadline = time.monotonic() + 30
    while stuck not in runner.ran:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert ("recover", False) in reasons()


def test_cancel_reaches_the_orchestrator() -> None:
    handle = kitaru.KitaruClient().executions.handle(released_wait())
    kitaru.KitaruClient().executions.cancel(handle.id)
    assert reasons() == [("cancel", False)]


def test_show_gives_the_backends_reason_for_a_crash() -> None:
    from click.testing import CliRunner

    from kitaru.cli.main import cli

    execution_id = crashed()
    info = kitaru.KitaruClient().executions.get(execution_id)
    assert info.status == "crashed"
    assert info.crash_reason == "kitaru-run-0001 failed: exit code 3: no module named kitaru"
    shown = CliRunner().invoke(cli, ["executions", "show", execution_id], env={"COLUMNS": "200"})
    assert "exit code 3: no module named kitaru" in shown.output


def test_show_asks_the_backend_about_a_pending_execution() -> None:
    """A unit that died before taking the lease: the store still says pending (for a minute),
    the orchestrator knows at once."""
    from kitaru.store import default_store
    from kitaru.testing.flows import tiny

    loc = tiny.location
    pending = default_store().create_execution(
        flow=tiny.name, module=loc.module, qualname=loc.qualname, source_file=loc.source_file,
        root=loc.root, inputs=tiny.inputs_record({"x": 1}), options={"stack": "routed"},
    )  # fmt: skip
    assert kitaru.KitaruClient().executions.get(pending.id).status == "pending"
    DEAD_UNITS.add(pending.id)
    info = kitaru.KitaruClient().executions.get(pending.id)
    assert info.status == "crashed" and info.crash_reason and "exit code 3" in info.crash_reason
