"""The server's recovery sweep takes an execution only when its orchestrator agrees it
crashed: a job orchestrator's unit that is still starting (a cloud job can take minutes) must
not get a second job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


class Seen:
    def __init__(self, status: str) -> None:
        self._status = status

    def status(self, execution_id: str) -> str:
        return self._status


@pytest.mark.parametrize(("backend", "recovered"), [("pending", False), ("running", False),
                                                     ("crashed", True)])  # fmt: skip
def test_only_what_the_backend_calls_crashed_is_recovered(
    backend: str, recovered: bool, isolated_kitaru_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitaru.runtime import launch as launch_module
    from kitaru.runtime import stacks
    from kitaru.server.run import recover
    from kitaru.store import default_store
    from kitaru.testing.contracts.metadata_store import dead_local_owner
    from kitaru.testing.flows import tiny

    store = default_store()
    loc = tiny.location
    ex = store.create_execution(
        flow=tiny.name, module=loc.module, qualname=loc.qualname, source_file=loc.source_file,
        root=loc.root, inputs=tiny.inputs_record({"x": 1}), status="running",
        options={"stack": "local", "retries": 0}, lease=(dead_local_owner(), 3600.0),
    )  # fmt: skip
    launched: list[str] = []
    monkeypatch.setattr(stacks, "orchestrator_of", lambda execution: Seen(backend))
    monkeypatch.setattr(launch_module, "launch",
                        lambda store, execution, reason, **kw: launched.append(reason))  # fmt: skip
    ids: Any = recover(store, may_take=lambda e: True)
    assert (ids == [ex.id]) is recovered and (launched == ["recover"]) is recovered


@pytest.mark.parametrize(("answered", "recovered"), [("before", True), ("after", False)])
def test_a_waiting_execution_answered_since_the_server_started_is_left_to_its_resume(
    answered: str, recovered: bool, isolated_kitaru_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Input that reached this server launched a resume whose job may still be starting (a
    fresh-clone CI run saw a second SageMaker job submitted by the sweep); input that arrived
    before the server started may have lost its launch with the previous server."""
    import time

    from kitaru.runtime import launch as launch_module
    from kitaru.server.run import recover
    from kitaru.store import default_store
    from kitaru.store.records import WAIT, Call
    from kitaru.testing.flows import tiny

    store = default_store()
    loc = tiny.location
    ex = store.create_execution(
        flow=tiny.name, module=loc.module, qualname=loc.qualname, source_file=loc.source_file,
        root=loc.root, inputs=tiny.inputs_record({"x": 1}), status="running",
        options={"stack": "local", "retries": 0},
    )  # fmt: skip
    store.suspend_on_wait(ex.pk, Call("ok#1", WAIT, "pending", 1, started_at=time.time()))
    server_started = time.time() + (60 if answered == "before" else -60)
    store.resolve_wait(ex.pk, "ok#1", serializer="json", type_name=None, value=b"true")
    assert store.get_execution(ex.id).status == "waiting" and store.pending_wait(ex.pk) is None
    launched: list[str] = []
    monkeypatch.setattr(launch_module, "launch",
                        lambda store, execution, reason, **kw: launched.append(reason))  # fmt: skip
    ids = recover(store, may_take=lambda e: True, answered_before=server_started)
    assert (ids == [ex.id]) is recovered and (launched == ["recover"]) is recovered
