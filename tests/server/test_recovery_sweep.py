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


def _waiting_on(store: Any, deadline_in: float | None, **options: Any) -> Any:
    """An execution released at a wait (as a job unit leaves it) whose deadline is
    ``deadline_in`` seconds away (None: it waits for input only)."""
    import time

    from kitaru.store.records import WAIT, Call
    from kitaru.testing.flows import tiny

    loc = tiny.location
    ex = store.create_execution(
        flow=tiny.name, module=loc.module, qualname=loc.qualname, source_file=loc.source_file,
        root=loc.root, inputs=tiny.inputs_record({"x": 1}), status="running",
        options={"stack": "local", "retries": 0, **options},
    )  # fmt: skip
    now = time.time()
    meta = {"deadline": now + deadline_in} if deadline_in is not None else {}
    store.suspend_on_wait(ex.pk, Call("ok#1", WAIT, "pending", 1, started_at=now, meta=meta))
    assert store.get_execution(ex.id).status == "waiting"
    return ex


@pytest.mark.parametrize(("deadline_in", "recovered"), [(-1.0, True), (3600.0, False),
                                                        (None, False)])  # fmt: skip
def test_a_released_wait_whose_deadline_passed_is_resumed_so_its_timeout_applies(
    deadline_in: float | None, recovered: bool, isolated_kitaru_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A job unit ends when its execution waits; the input's route launches the resume, but a
    timeout has nobody to launch it: the server's sweep does, once the deadline passed."""
    from kitaru.runtime import launch as launch_module
    from kitaru.server.run import recover
    from kitaru.store import default_store

    store = default_store()
    ex = _waiting_on(store, deadline_in)
    launched: list[str] = []
    monkeypatch.setattr(launch_module, "launch",
                        lambda store, execution, reason, **kw: launched.append(reason))  # fmt: skip
    ids = recover(store, may_take=lambda e: True, answered_before=0.0)
    assert (ids == [ex.id]) is recovered and (launched == ["recover"]) is recovered


@pytest.mark.parametrize("why", ["resume failed", "resume starting"])
def test_a_timed_out_wait_is_left_alone_while_its_resume_starts_or_after_it_failed(
    why: str, isolated_kitaru_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resume unit still on its way must not get a second one (the sweep runs once per lease
    TTL; a cloud job takes longer to start); a resume that failed waits for a person (the
    error says how to go on) instead of failing again every sweep."""
    from kitaru.runtime import launch as launch_module
    from kitaru.runtime import stacks
    from kitaru.runtime.runner import RESUME_ERROR
    from kitaru.server.run import recover
    from kitaru.store import default_store

    class Starting:
        def starting(self, execution_id: str) -> bool:
            return True

    store = default_store()
    ex = _waiting_on(store, -1.0)
    if why == "resume failed":
        store.update_metadata(ex.pk, {RESUME_ERROR: {"message": "cannot import", "at": 1.0}})
    else:
        monkeypatch.setattr(stacks, "orchestrator_of", lambda execution: Starting())
    launched: list[str] = []
    monkeypatch.setattr(launch_module, "launch",
                        lambda store, execution, reason, **kw: launched.append(reason))  # fmt: skip
    assert recover(store, may_take=lambda e: True) == [] and launched == []
