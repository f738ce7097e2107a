"""kitaru.wait(): typed input, validation, conflicts, abort, timeouts, cross-process resume."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time

import pytest

import kitaru
from kitaru import KitaruClient
from tests import flows_basic as fb
from tests.conftest import subprocess_env

# Every test here runs embedded and connected to a server over PostgreSQL (integration-tests/
# e2e_modes.py): ``e2e_mode`` is parametrized, ``e2e_server`` is its server for this module.
_modes = importlib.import_module("integration-tests.e2e_modes")
e2e_mode, e2e_server = _modes.e2e_mode, _modes.e2e_server
pytestmark = pytest.mark.usefixtures("e2e_mode")


def wait_for_status(handle: kitaru.FlowHandle, status: str, timeout: float = 10) -> None:
    end = time.time() + timeout
    while handle.status != status:
        assert time.time() < end, f"still {handle.status}"
        time.sleep(0.01)


def test_wait_suspends_and_valid_input_resumes() -> None:
    h = fb.approval.run("hi")
    wait_for_status(h, "waiting")
    pending = h.pending_wait
    assert pending is not None and pending.name == "review"
    assert pending.question == "Review the text"
    assert pending.schema and "approved" in pending.schema["properties"]
    h.input({"approved": True, "comment": "ok"})
    assert h.wait(timeout=10) == "HI:True:ok"
    assert fb.count("upper") == 1


def test_invalid_input_is_rejected_and_execution_stays_waiting() -> None:
    h = fb.approval.run("hi")
    wait_for_status(h, "waiting")
    with pytest.raises(kitaru.WaitInputError) as err:
        KitaruClient().executions.input(h.id, {"approved": "maybe"})
    assert "approved" in str(err.value)
    assert err.value.detail["path"] == ["approved"]
    assert h.status == "waiting" and h.pending_wait is not None
    KitaruClient().executions.input(h.id, {"approved": False})
    assert h.wait(timeout=10) == "HI:False:"


def test_wrong_wait_name_and_completed_execution_are_errors() -> None:
    h = fb.approval.run("x")
    wait_for_status(h, "waiting")
    with pytest.raises(kitaru.NotFound, match="waiting on 'review'"):
        KitaruClient().executions.input(h.id, {"approved": True}, name="other")
    h.input({"approved": True})
    h.wait(timeout=10)
    with pytest.raises(kitaru.Conflict, match="completed"):
        KitaruClient().executions.input(h.id, {"approved": True})
    with pytest.raises(kitaru.NotFound):
        KitaruClient().executions.input("ffffffffffff", True)


def test_two_waits_in_sequence_held_by_wait() -> None:
    h = fb.two_waits.run()
    wait_for_status(h, "waiting")
    KitaruClient().executions.input(h.id, 7)
    # wait() holds the execution: the second wait is answered while it is held
    import threading

    def answer() -> None:
        end = time.time() + 10
        while time.time() < end:
            p = h.pending_wait
            if p is not None and p.name == "second":
                KitaruClient().executions.input(h.id, "seven")
                return
            time.sleep(0.01)

    t = threading.Thread(target=answer)
    t.start()
    assert h.wait(timeout=15) == [7, "seven"]
    t.join()


def test_abort_cancels() -> None:
    h = fb.approval.run("x")
    wait_for_status(h, "waiting")
    KitaruClient().executions.abort(h.id)
    with pytest.raises(kitaru.ExecutionCancelled):
        h.wait(timeout=10)
    assert h.status == "cancelled"


def test_timeout_with_default_returns_default() -> None:
    assert fb.timed(0.3, True) == "fallback"
    info = KitaruClient().executions.get(KitaruClient().executions.list()[0].id)
    assert info.waits[0].timed_out


def test_timeout_without_default_raises_inside_the_flow() -> None:
    assert fb.timed(0.3, False) == "timed out"


def test_wait_outside_a_flow_is_a_usage_error() -> None:
    with pytest.raises(kitaru.UsageError, match="inside a @flow"):
        kitaru.wait("x")


def test_wait_inside_a_checkpoint_is_a_usage_error() -> None:
    @kitaru.checkpoint
    def bad() -> str:
        return str(kitaru.wait("x"))

    @kitaru.flow
    def outer() -> str:
        return bad()

    with pytest.raises(kitaru.ExecutionFailed, match="cannot be called inside a @checkpoint"):
        outer()


RESOLVE = """
import sys, kitaru
from kitaru import KitaruClient
try:
    KitaruClient().executions.input(sys.argv[1], {"approved": True, "comment": sys.argv[2]})
    print("won")
except kitaru.Conflict:
    print("conflict")
"""


def test_concurrent_resolvers_exactly_one_wins() -> None:
    for _ in range(3):
        h = fb.approval.run("x")
        wait_for_status(h, "waiting")
        procs = [
            subprocess.Popen([sys.executable, "-c", RESOLVE, h.id, f"r{i}"],
                             stdout=subprocess.PIPE, text=True, env=subprocess_env())
            for i in range(4)
        ]  # fmt: skip
        outs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
        assert outs == ["conflict", "conflict", "conflict", "won"], outs
        result = h.wait(timeout=20)
        assert result.startswith("X:True:r")


def test_input_from_another_process_resumes_a_held_execution_promptly() -> None:
    h = fb.approval.run("x")
    wait_for_status(h, "waiting")
    subprocess.run([sys.executable, "-c", RESOLVE, h.id, "remote"], check=True,
                   env=subprocess_env(), timeout=60)  # fmt: skip
    assert h.wait(timeout=10) == "X:True:remote"


def test_input_with_no_holder_starts_a_worker() -> None:
    h = fb.approval.run("x")
    wait_for_status(h, "waiting")
    h._thread.join(5)  # the run thread released the execution: nobody holds it
    # The flow lives in an importable module, so a detached worker can resume it.
    KitaruClient().executions.input(h.id, {"approved": True, "comment": "cold"})
    fresh = KitaruClient().executions.handle(h.id)
    end = time.time() + 30
    while fresh.status != "completed":
        assert time.time() < end, fresh.status
        time.sleep(0.05)
    assert fresh.wait(timeout=1) == "X:True:cold"


def test_async_flow_suspends_on_a_wait_and_resumes() -> None:
    h = fb.async_approval.run(4)
    wait_for_status(h, "waiting")
    h.input(True)
    assert h.wait(timeout=10) == 8
