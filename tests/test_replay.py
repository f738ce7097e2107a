"""Replay: a new execution reusing the source journal; overrides and --from."""

from __future__ import annotations

import importlib

import pytest

import kitaru
from kitaru import KitaruClient
from tests import flows_basic as fb

# Every test here runs embedded and connected to a server over PostgreSQL (integration-tests/
# e2e_modes.py): ``e2e_mode`` is parametrized, ``e2e_server`` is its server for this module.
_modes = importlib.import_module("integration-tests.e2e_modes")
e2e_mode, e2e_server = _modes.e2e_mode, _modes.e2e_server
pytestmark = pytest.mark.usefixtures("e2e_mode")


def journal(ex_id: str) -> dict[str, str | None]:
    return {c.call_id: c.preview for c in KitaruClient().executions.get(ex_id).checkpoints}


def run_three() -> str:
    h = fb.three.run("ab")
    assert h.wait(timeout=10) == {"b": "AB!", "c": 2}
    assert (fb.count("upper"), fb.count("exclaim"), fb.count("length")) == (1, 1, 1)
    return h.id


def test_plain_replay_runs_nothing_again() -> None:
    src = run_three()
    r = KitaruClient().executions.replay(src)
    assert r.wait(timeout=10) == {"b": "AB!", "c": 2}
    assert (fb.count("upper"), fb.count("exclaim"), fb.count("length")) == (1, 1, 1)
    info = KitaruClient().executions.get(r.id)
    assert info.replay_of == src
    assert all(c.metadata.get("cached_from") == src for c in info.checkpoints)


def test_override_reexecutes_exactly_the_consumers_of_changed_values() -> None:
    src = run_three()
    before = journal(src)
    r = KitaruClient().executions.replay(src, overrides={"checkpoint.upper": "zz"})
    assert r.wait(timeout=10) == {"b": "zz!", "c": 2}
    # upper is overridden (not run), exclaim consumed its output (re-run), length did not (cached)
    assert (fb.count("upper"), fb.count("exclaim"), fb.count("length")) == (1, 2, 1)
    info = {c.call_id: c for c in KitaruClient().executions.get(r.id).checkpoints}
    assert info["upper"].metadata.get("overridden") is True
    assert "cached_from" in info["length"].metadata
    assert journal(src) == before  # the source is unchanged


def test_from_forces_that_call_and_everything_after() -> None:
    src = run_three()
    r = KitaruClient().executions.replay(src, from_="exclaim")
    assert r.wait(timeout=10) == {"b": "AB!", "c": 2}
    assert (fb.count("upper"), fb.count("exclaim"), fb.count("length")) == (1, 2, 2)
    assert KitaruClient().executions.get(r.id).replay_from == "exclaim"


def test_flow_parameter_override() -> None:
    src = run_three()
    r = KitaruClient().executions.replay(src, overrides={"flow.text": "abc"})
    assert r.wait(timeout=10) == {"b": "ABC!", "c": 3}
    assert (fb.count("upper"), fb.count("exclaim"), fb.count("length")) == (2, 2, 2)


def test_override_is_validated_against_the_return_annotation() -> None:
    src = run_three()
    n = len(KitaruClient().executions.list())
    with pytest.raises(kitaru.UsageError, match=r"override checkpoint\.length"):
        KitaruClient().executions.replay(src, overrides={"checkpoint.length": "not a number"})
    with pytest.raises(kitaru.NotFound, match="no checkpoint call 'nope'"):
        KitaruClient().executions.replay(src, overrides={"checkpoint.nope": 1})
    with pytest.raises(kitaru.UsageError, match="must start with"):
        KitaruClient().executions.replay(src, overrides={"upper": 1})
    with pytest.raises(kitaru.UsageError, match="no parameter 'nope'"):
        KitaruClient().executions.replay(src, overrides={"flow.nope": 1})
    with pytest.raises(kitaru.NotFound, match="no call 'missing'"):
        KitaruClient().executions.replay(src, from_="missing")
    assert len(KitaruClient().executions.list()) == n  # nothing was created


def test_replay_reuses_resolved_waits() -> None:
    h = fb.approval.run("q")
    while h.status != "waiting":
        pass
    h.input({"approved": True, "comment": "yes"})
    h.wait(timeout=10)
    r = KitaruClient().executions.replay(h.id, overrides={"checkpoint.upper": "NEW"})
    assert r.wait(timeout=10) == "NEW:True:yes"
