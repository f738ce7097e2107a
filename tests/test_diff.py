"""``KitaruClient().executions.diff(a, b)`` and the pure functions of :mod:`kitaru.diff`."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from kitaru import KitaruClient, checkpoint, flow
from kitaru.diff import StoredValue, change_line, diff_values, merge_order, structural_changes
from kitaru.errors import NotFound


@checkpoint
def research(topic: str) -> str:
    return f"Brief on {topic}.\nSources: three papers.\nConfidence: high"


@checkpoint
def draft(brief: str) -> str:
    return "Draft\n" + brief.splitlines()[-1]


@flow
def review_flow(topic: str) -> str:
    brief = research(topic)
    return draft(brief)


@checkpoint
def stats(n: int) -> dict[str, Any]:
    return {"items": [1, 2, n], "name": "run", **({"extra": True} if n > 3 else {"old": 1})}


@checkpoint
def blob(n: int) -> bytes:
    return bytes([n]) * 10


@checkpoint
def bonus(n: int) -> int:
    return n * 2


@flow
def data_flow(n: int) -> int:
    stats(n)
    blob(n)
    if n > 3:
        bonus(n)
    return 1


def _run(f: Any, **kw: Any) -> str:
    handle = f.run(**kw)
    handle.wait()
    return str(handle.id)


# -- executions.diff ------------------------------------------------------------------------------
def test_diff_two_runs_text_and_same() -> None:
    a = _run(review_flow, topic="Durable agents")
    b = _run(review_flow, topic="Vector stores")
    d = KitaruClient().executions.diff(a, b)
    assert (d.a, d.b, d.flow_a, d.flow_b) == (a, b, "review_flow", "review_flow")
    by_id = {c.call_id: c for c in d.checkpoints}
    assert [c.call_id for c in d.checkpoints] == ["research", "draft"]
    assert by_id["research"].status == "changed"
    assert by_id["research"].diff is not None and by_id["research"].diff.kind == "text"
    lines = by_id["research"].diff.lines
    assert "-Brief on Durable agents." in lines and "+Brief on Vector stores." in lines
    assert " Sources: three papers." in lines
    # draft only depends on the last line, which is identical
    assert by_id["draft"].status == "same" and by_id["draft"].diff is None
    assert d.result is not None and d.result.status == "same"
    assert [change_line(c) for c in d.inputs] == ['/topic: "Durable agents" -> "Vector stores"']
    assert d.changed == ["research"]
    assert d.to_dict()["checkpoints"][0]["diff"]["kind"] == "text"


def test_diff_same_execution_is_all_same() -> None:
    a = _run(review_flow, topic="x")
    d = KitaruClient().executions.diff(a, a[:10])
    assert {c.status for c in d.checkpoints} == {"same"} and d.inputs == []


def test_diff_structural_opaque_and_only_in() -> None:
    a = _run(data_flow, n=3)
    b = _run(data_flow, n=4)
    d = KitaruClient().executions.diff(a, b)
    assert [c.call_id for c in d.checkpoints] == ["stats", "blob", "bonus"]
    stats_diff = d.checkpoints[0].diff
    assert stats_diff is not None and stats_diff.kind == "structural"
    assert [change_line(c) for c in stats_diff.changes] == [
        "/items/2: 3 -> 4",
        "/old: removed 1",
        "/extra: added true",
    ]
    blob_diff = d.checkpoints[1].diff
    assert blob_diff is not None and blob_diff.kind == "opaque"
    assert blob_diff.a_size == blob_diff.b_size == 10
    assert blob_diff.a_sha256 != blob_diff.b_sha256 and blob_diff.lines == []
    assert d.checkpoints[2].status == "only in B" and d.checkpoints[2].b_preview == "8"
    reverse = KitaruClient().executions.diff(b, a)
    assert reverse.checkpoints[2].status == "only in A"


def test_diff_large_values_are_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITARU_INLINE_LIMIT", "16")
    a = _run(review_flow, topic="alpha")
    b = _run(review_flow, topic="beta")
    client = KitaruClient()
    assert client.artifacts.show(a, "research").artifact.sha256 is not None
    d = client.executions.diff(a, b)
    research_diff = d.checkpoints[0].diff
    assert research_diff is not None and research_diff.kind == "text"
    assert "+Brief on beta." in research_diff.lines


def test_diff_unknown_execution() -> None:
    a = _run(review_flow, topic="x")
    with pytest.raises(NotFound):
        KitaruClient().executions.diff(a, "nope-nope")


# -- pure functions --------------------------------------------------------------------------------
def test_structural_paths_escape_and_types() -> None:
    changes = structural_changes({"a/b": {"~": 1}, "l": [1]}, {"a/b": {"~": "1"}, "l": [1, 2]})
    assert [change_line(c) for c in changes] == ['/a~1b/~0: 1 -> "1"', "/l/1: added 2"]
    assert structural_changes([1, 2], [1])[0].op == "removed"
    assert change_line(structural_changes(1, 2)[0]) == "/: 1 -> 2"
    assert structural_changes({"x": [1, {"y": None}]}, {"x": [1, {"y": None}]}) == []


def test_pickles_compared_by_hash_never_unpickled() -> None:
    class Boom:
        def __reduce__(self) -> Any:
            raise AssertionError("must not pickle again")

    raw_a = pickle.dumps({1, 2})
    raw_b = pickle.dumps({1, 3})
    a = StoredValue.of("pickle", "builtins:set", raw_a)
    b = StoredValue.of("pickle", "builtins:set", raw_b)
    assert diff_values(a, a) is None
    d = diff_values(a, b)
    assert d is not None and d.kind == "opaque" and d.a_sha256 != d.b_sha256
    # garbage bytes labelled pickle: still only hashed
    assert diff_values(a, StoredValue.of("pickle", None, b"\x00garbage")) is not None
    assert Boom  # defined only to show nothing is unpickled


def test_json_key_order_is_same_and_mixed_types() -> None:
    a = StoredValue.of("json", None, b'{"a":1,"b":2}')
    b = StoredValue.of("json", None, b'{"b":2,"a":1}')
    assert diff_values(a, b) is None
    s = StoredValue.of("str", None, b"hello")
    d = diff_values(s, a)
    assert d is not None and d.kind == "structural"
    assert d.changes[0].path == "" and d.changes[0].old == "hello"


def test_merge_order() -> None:
    assert merge_order(["a", "b", "c"], ["a", "x", "c", "y"]) == ["a", "x", "b", "c", "y"]
    assert merge_order([], ["x", "y"]) == ["x", "y"]
    assert merge_order(["a"], ["z", "a"]) == ["z", "a"]
