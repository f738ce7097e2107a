"""runtime="isolated" checkpoints run as their own process on the local orchestrator."""

from __future__ import annotations

import pytest

import kitaru
from kitaru import KitaruClient
from tests import flows_basic as fb


def test_isolated_checkpoints_run_in_their_own_processes() -> None:
    pid_a, pid_b, a, b, flow_pid = fb.with_isolated(2)
    assert (a, b) == (6, 9)
    assert len({pid_a, pid_b, flow_pid}) == 3
    info = KitaruClient().executions.get(KitaruClient().executions.list()[0].id)
    recorded = [c.metadata.get("isolated_pid") for c in info.checkpoints]
    assert all(recorded) and len(set(recorded)) == 2
    # resume/replay returns the journaled value without starting a unit again
    r = KitaruClient().executions.replay(info.id)
    assert r.wait(timeout=30)[:2] == [pid_a, pid_b]
    assert fb.count("isolated") == 2


def test_isolated_failure_names_the_original_error() -> None:
    with pytest.raises(kitaru.ExecutionFailed, match="ValueError: bad 2"):
        fb.with_failing_isolated()
