"""kitaru.memory: scopes, versions, tombstones, compare-and-set, and journaled resume/replay."""

from __future__ import annotations

import threading
import time

import pytest

import kitaru
from kitaru import KitaruClient, checkpoint, flow
from kitaru.store.records import MEMORY


# -- flows (module level, so resume and replay can load them) -------------------------------------
@checkpoint
def double(x: int) -> int:
    return x * 2


@flow
def remember(n: int) -> int:
    kitaru.memory.set("n", n)
    kitaru.memory.set("shared", n, scope="namespace", namespace="team")
    kitaru.memory.set("mine", n, scope="execution")
    return double(kitaru.memory.get("n"))


@flow
def counter_then_wait() -> list[int]:
    before = kitaru.memory.get("count", 0)
    version = kitaru.memory.set("count", before + 1)
    kitaru.wait(name="go", schema=bool)
    return [before, version, kitaru.memory.get("count")]


@flow
def reader() -> str:
    return str(kitaru.memory.get("setting", "unset", namespace="cfg"))


@flow
def writer(value: str) -> int:
    return kitaru.memory.set("note", value)


def wait_status(handle: kitaru.FlowHandle, status: str, timeout: float = 10) -> None:
    end = time.time() + timeout
    while handle.status != status:
        assert time.time() < end, f"still {handle.status}"
        time.sleep(0.01)


# -- outside a flow ---------------------------------------------------------------------------------
def test_versions_get_and_list_in_the_default_namespace() -> None:
    assert kitaru.memory.get("k") is None
    assert kitaru.memory.get("k", "fallback") == "fallback"
    assert kitaru.memory.set("k", {"a": 1}) == 1
    assert kitaru.memory.set("k", [1, 2]) == 2
    assert kitaru.memory.get("k") == [1, 2]
    assert kitaru.memory.get("k", version=1) == {"a": 1}
    assert kitaru.memory.get("k", scope="namespace", namespace="default") == [1, 2]
    assert kitaru.memory.get("k", namespace="other") is None
    assert kitaru.memory.list() == ["k"]
    kitaru.memory.set("b", "text", namespace="other")
    assert kitaru.memory.list(namespace="other") == ["b"]
    assert kitaru.memory.get("b", namespace="other") == "text"


def test_deleted_key_reads_as_missing_but_stays_in_history() -> None:
    kitaru.memory.set("gone", 1)
    assert kitaru.memory.delete("gone") == 2
    assert kitaru.memory.get("gone") is None
    assert kitaru.memory.get("gone", "d") == "d"
    assert kitaru.memory.list() == []
    assert kitaru.memory.get("gone", version=1) == 1
    hist = kitaru.memory.history("gone")
    assert [(h.version, h.deleted, h.preview) for h in hist] == [(1, False, "1"), (2, True, None)]
    assert hist[1].to_dict()["deleted"] is True
    with pytest.raises(kitaru.NotFound):
        kitaru.memory.delete("gone")
    assert kitaru.memory.set("gone", 3) == 3  # written again after the tombstone
    assert kitaru.memory.get("gone") == 3


def test_if_version_is_compare_and_set() -> None:
    assert kitaru.memory.set("c", "a", if_version=0) == 1
    with pytest.raises(kitaru.Conflict, match="version 1"):
        kitaru.memory.set("c", "b", if_version=0)
    assert kitaru.memory.set("c", "b", if_version=1) == 2
    assert kitaru.memory.get("c") == "b"


def test_two_writers_with_if_version_one_wins() -> None:
    kitaru.memory.set("race", 0)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def write(name: str) -> None:
        from kitaru.config import settings
        from kitaru.store.sqlite import SQLiteStore

        store = SQLiteStore(settings().db_path)  # its own connection, like another process
        barrier.wait()
        try:
            rec = store.memory_put("namespace", "default", "race", serializer="str",
                                   type_name=None, value=name.encode(), if_version=1)  # fmt: skip
            results[name] = rec.version
        except kitaru.Conflict as exc:
            results[name] = exc
        finally:
            store.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [n for n, r in results.items() if r == 2]
    losses = [n for n, r in results.items() if isinstance(r, kitaru.Conflict)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert kitaru.memory.get("race") == wins[0]
    assert [h.version for h in kitaru.memory.history("race")] == [1, 2]


def test_two_writers_through_the_api_in_threads() -> None:
    kitaru.memory.set("api", 0)
    barrier = threading.Barrier(4)
    outcomes: list[object] = []

    def write(i: int) -> None:
        barrier.wait()
        try:
            outcomes.append(kitaru.memory.set("api", i, if_version=1))
        except kitaru.Conflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(2) == 1
    assert sum(isinstance(o, kitaru.Conflict) for o in outcomes) == 3


def test_scope_arguments_are_checked() -> None:
    with pytest.raises(kitaru.UsageError, match="unknown memory scope"):
        kitaru.memory.set("k", 1, scope="galaxy")
    with pytest.raises(kitaru.UsageError, match="flow="):
        kitaru.memory.get("k", scope="flow")
    with pytest.raises(kitaru.UsageError, match="execution="):
        kitaru.memory.get("k", scope="execution")
    with pytest.raises(kitaru.UsageError, match="at most one"):
        kitaru.memory.get("k", namespace="a", flow="b")
    with pytest.raises(kitaru.UsageError, match="does not apply"):
        kitaru.memory.get("k", scope="flow", namespace="a")
    with pytest.raises(kitaru.UsageError, match="non-empty"):
        kitaru.memory.set("", 1)
    assert kitaru.memory.list() == []


def test_values_over_the_inline_limit_are_refused() -> None:
    kitaru.configure(inline_limit=16)
    try:
        with pytest.raises(kitaru.UsageError, match="limit"):
            kitaru.memory.set("big", "x" * 100)
    finally:
        kitaru.configure()
    assert kitaru.memory.get("big") is None


# -- inside a flow ------------------------------------------------------------------------------------
def test_flow_scope_defaults_and_provenance() -> None:
    h = remember.run(5)
    assert h.wait(timeout=10) == 10
    assert kitaru.memory.get("n", flow="remember") == 5
    assert kitaru.memory.get("n") is None  # outside a flow the default is the namespace
    assert kitaru.memory.get("shared", namespace="team") == 5
    assert kitaru.memory.get("mine", execution=h.id) == 5
    assert kitaru.memory.get("mine", execution=h.id[:6]) == 5  # any unique prefix
    h2 = remember.run(7)
    h2.wait(timeout=10)
    hist = kitaru.memory.history("n", flow="remember")
    assert [(v.version, v.execution_id, v.call_id) for v in hist] == [
        (1, h.id, "memory"),
        (2, h2.id, "memory"),
    ]
    assert kitaru.memory.get("mine", execution=h.id) == 5
    assert kitaru.memory.get("mine", execution=h2.id) == 7
    journal = KitaruClient().executions.get(h.id)
    assert journal.id == h.id
    from kitaru.store import default_store

    ex = default_store().get_execution(h.id)
    calls = default_store().load_journal(ex.pk)
    memory_calls = sorted(c for c, rec in calls.items() if rec.kind == MEMORY)
    assert memory_calls == ["memory", "memory#2", "memory#3", "memory#4"]
    assert calls["memory#4"].meta is not None and calls["memory#4"].meta["op"] == "get"


def test_resume_after_a_wait_does_not_write_again() -> None:
    h = counter_then_wait.run()
    wait_status(h, "waiting")
    assert kitaru.memory.get("count", flow="counter_then_wait") == 1
    kitaru.memory.set("count", 100, flow="counter_then_wait")  # changed while it waits
    h.input(True)
    # the resumed body reads the recorded 0, its set is not written again (still version 1),
    # and the new get after the wait sees the current value
    assert h.wait(timeout=10) == [0, 1, 100]
    hist = kitaru.memory.history("count", flow="counter_then_wait")
    assert [(v.version, v.execution_id) for v in hist] == [(1, h.id), (2, None)]


def test_replay_reads_the_values_its_source_read() -> None:
    kitaru.memory.set("setting", "first", namespace="cfg")
    src = reader.run()
    assert src.wait(timeout=10) == "first"
    kitaru.memory.set("setting", "second", namespace="cfg")
    assert reader.run().wait(timeout=10) == "second"  # a fresh run sees the change
    replayed = KitaruClient().executions.replay(src.id)
    assert replayed.wait(timeout=10) == "first"
    from kitaru.store import default_store

    store = default_store()
    rec = store.load_journal(store.get_execution(replayed.id).pk)["memory"]
    assert rec.meta is not None and rec.meta["cached_from"] == src.id


def test_replay_does_not_repeat_the_same_write() -> None:
    src = writer.run("x")
    assert src.wait(timeout=10) == 1
    assert KitaruClient().executions.replay(src.id).wait(timeout=10) == 1
    assert [v.version for v in kitaru.memory.history("note", flow="writer")] == [1]
    # a replay whose write differs (new input) does write
    changed = KitaruClient().executions.replay(src.id, overrides={"flow.value": "y"})
    assert changed.wait(timeout=10) == 2
    assert kitaru.memory.get("note", flow="writer") == "y"


def test_memory_is_the_module_and_import_stays_lazy() -> None:
    import kitaru.memory as mod

    assert kitaru.memory is mod
    assert "memory" in kitaru.__all__
