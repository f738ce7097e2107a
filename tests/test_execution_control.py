"""Flow-level retries, cross-execution cache, cancellation, nesting."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest

import kitaru
from kitaru import KitaruClient
from tests import flows_basic as fb


def test_cross_execution_cache_is_opt_in() -> None:
    assert fb.cached_flow(3) == 30
    assert fb.cached_flow(3) == 30
    assert fb.count("expensive") == 1
    latest = KitaruClient().executions.get(KitaruClient().executions.list()[0].id)
    assert "cached_from" in latest.checkpoints[0].metadata
    assert fb.cached_flow(4) == 40
    assert fb.count("expensive") == 2
    # without cache=True nothing is shared between executions
    fb.three("q")
    fb.three("q")
    assert fb.count("upper") == 2


def test_flow_retries_resume_the_failed_execution() -> None:
    assert fb.flow_with_retries("m") == "Mm"
    assert fb.count("upper") == 1  # the completed checkpoint was not re-run by the retry
    assert fb.count("flaky_once") == 2


def test_cancel_a_running_execution_stops_at_the_next_checkpoint() -> None:
    h = fb.slow.run(200)
    time.sleep(0.3)
    h.cancel()
    with pytest.raises(kitaru.ExecutionCancelled):
        h.wait(timeout=10)
    assert h.status == "cancelled"
    ran = fb.count("slow_step")
    assert ran < 200
    time.sleep(0.2)
    assert fb.count("slow_step") == ran  # nothing runs after cancellation
    with pytest.raises(kitaru.Conflict, match="already cancelled"):
        h.cancel()


def test_nested_checkpoint_runs_plain_with_a_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fb.nesting(1) == 101
    assert any("inside another checkpoint" in str(w.message) for w in caught)
    info = KitaruClient().executions.get(KitaruClient().executions.list()[0].id)
    assert [c.call_id for c in info.checkpoints] == ["outer_cp"]


def test_crashed_status_is_derived_from_a_dead_lease() -> None:
    from kitaru.store import default_store

    h = fb.approval.run("x")
    while h.status != "waiting":
        time.sleep(0.01)
    h._thread.join(5)  # the run thread has released the execution
    store = default_store()
    ex = store.get_execution(h.id)
    # pretend a worker on this host (a pid that cannot exist) was running it
    store.set_status(ex.pk, "running")
    store.acquire_lease(ex.pk, "nohost:1:x", -1, statuses=("running",), set_status=None)
    assert KitaruClient().executions.get(h.id).status == "crashed"
    assert [e.id for e in KitaruClient().executions.list(status="crashed")] == [h.id]


def test_list_with_a_derived_status_honours_the_limit() -> None:
    from kitaru.store import default_store

    store = default_store()
    ids = []
    for _ in range(3):
        h = fb.approval.run("x")
        while h.status != "waiting":
            time.sleep(0.01)
        h._thread.join(5)  # the run thread has released the execution
        ex = store.get_execution(h.id)
        store.set_status(ex.pk, "running")
        store.acquire_lease(ex.pk, "nohost:1:x", -1, statuses=("running",), set_status=None)
        ids.append(h.id)
    fb.chain(1)  # a completed execution in between must not eat the limit
    assert [e.id for e in KitaruClient().executions.list(status="crashed", limit=2)] == ids[::-1][
        :2
    ]


def test_pending_execution_whose_worker_never_came_shows_as_crashed() -> None:
    from kitaru.store import default_store
    from kitaru.store.records import PENDING_GRACE

    store = default_store()
    ex = store.create_execution(flow="f", module="m", qualname="q", source_file=None, root=None,
                                inputs={})  # fmt: skip
    assert KitaruClient().executions.get(ex.id).status == "pending"
    store._conn.execute("UPDATE executions SET created_at = created_at - ? WHERE pk = ?",
                        (PENDING_GRACE + 1, ex.pk))  # fmt: skip
    assert KitaruClient().executions.get(ex.id).status == "crashed"


def test_abort_after_someone_answered_is_a_conflict() -> None:
    h = fb.approval.run("x")
    while h.status != "waiting":
        time.sleep(0.01)
    h._thread.join(5)
    from kitaru.client import resolve_input
    from kitaru.store import default_store

    resolve_input(default_store(), h.id, {"approved": True}, name=None)
    with pytest.raises(kitaru.Conflict):
        KitaruClient().executions.abort(h.id)


def test_detached_retry_finishes_a_failed_execution(tmp_path) -> None:
    flag = tmp_path / "fail"
    flag.write_text("x")
    with pytest.raises(kitaru.ExecutionFailed):
        fb.may_fail(str(flag))
    ex_id = KitaruClient().executions.list()[0].id
    flag.unlink()
    KitaruClient().executions.retry(ex_id, detach=True)
    end = time.time() + 30
    while KitaruClient().executions.get(ex_id).status != "completed":
        assert time.time() < end, KitaruClient().executions.get(ex_id).status
        time.sleep(0.05)
    assert fb.count("upper") == 1


def test_wait_returns_the_result_when_another_runner_took_the_execution_over(
    isolated_kitaru_home: Path,
) -> None:
    """A handle whose runner in this process was taken over (its lease lapsed under load, and
    a recovery finished the execution) returns the result the taker stored; it raised the
    stale runner's LeaseLost (seen in a fresh-clone CI run on the server + PostgreSQL)."""
    from types import SimpleNamespace

    from kitaru.errors import LeaseLost
    from kitaru.runtime.engine import Outcome
    from kitaru.testing.flows import tiny

    h = tiny.run(3)
    assert h.wait(timeout=30) == 7
    h._launch = SimpleNamespace(  # type: ignore[assignment]
        thread=None, outcome=Outcome("lost", error=LeaseLost("taken over (epoch 3)"))
    )
    assert h.wait(timeout=5) == 7
