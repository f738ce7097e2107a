"""Metadata store contract, part two: the stack registry, memory and the schema version.

Use :class:`kitaru.testing.MetadataStoreContract`, which includes these tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from kitaru.errors import ConfigError, Conflict, NotFound
from kitaru.store.base import ComponentRecord, MetadataStore

OpenStore = Callable[[], MetadataStore]


def component(kind: str, name: str, owner: str | None = None,
              config: dict[str, Any] | None = None) -> ComponentRecord:  # fmt: skip
    return ComponentRecord(kind, name, "local", config or {}, owner)


def put(store: MetadataStore, key: str, value: bytes | None, **kw: Any) -> Any:
    """memory_put in the ``namespace default`` scope (override with scope=, scope_key=)."""
    scope, scope_key = kw.pop("scope", "namespace"), kw.pop("scope_key", "default")
    return store.memory_put(scope, scope_key, key, serializer=None if value is None else "json",
                            type_name=None, value=value, **kw)  # fmt: skip


def run_together(n: int, target: Callable[[int], Any]) -> list[Any]:
    """Run ``target(i)`` in ``n`` threads released at once; results (or exceptions) by ``i``."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


class MetadataStoreMoreContract:
    """Mixed into :class:`~kitaru.testing.contracts.metadata_store.MetadataStoreContract`."""

    def schema_version(self, store: MetadataStore) -> int:
        """The schema version recorded in ``store``'s database."""
        raise NotImplementedError("override schema_version() to read your store's version")

    def set_schema_version(self, store: MetadataStore, version: int) -> None:
        """Record ``version`` as the database's schema version (to test the newer-schema error)."""
        raise NotImplementedError("override set_schema_version() for your store")

    # -- components ---------------------------------------------------------------------------
    def test_components(self, store: MetadataStore) -> None:
        config = {"path": "{{secret:s3.key}}", "nested": {"b": 1, "a": [1, "ü"]}}
        store.put_component(component("orchestrator", "local"))
        store.put_component(component("artifact_store", "lake", config=config))
        store.put_component(component("artifact_store", "Big"))
        got = store.get_component("artifact_store", "lake")
        assert got is not None and (got.flavor, got.config, got.owner) == ("local", config, None)
        assert 0 < got.created_at == got.updated_at <= time.time()
        assert store.get_component("artifact_store", "nope") is None
        assert [(c.type, c.name) for c in store.list_components()] == [
            ("artifact_store", "Big"),
            ("artifact_store", "lake"),
            ("orchestrator", "local"),
        ]
        assert [c.name for c in store.list_components("orchestrator")] == ["local"]
        assert store.list_components("llm_gateway") == []

    def test_replacing_a_component_keeps_creation_and_owner(self, store: MetadataStore) -> None:
        store.put_component(
            component("artifact_store", "lake", owner="prod", config={"path": "/a"})
        )
        first = store.get_component("artifact_store", "lake")
        time.sleep(0.01)
        store.put_component(ComponentRecord("artifact_store", "lake", "s3", {"path": "/b"}, None))
        got = store.get_component("artifact_store", "lake")
        assert got is not None and first is not None
        assert (got.flavor, got.config, got.owner) == ("s3", {"path": "/b"}, "prod")
        assert got.created_at == first.created_at < got.updated_at

    def test_delete_component(self, store: MetadataStore) -> None:
        store.put_component(component("artifact_store", "lake"))
        store.put_component(component("orchestrator", "local"))
        store.put_stack("prod", {"artifact_store": "lake", "orchestrator": "local"})
        store.put_stack("dev", {"artifact_store": "lake"})
        assert store.stacks_using_component("artifact_store", "lake") == ["dev", "prod"]
        with pytest.raises(Conflict, match="dev, prod") as info:
            store.delete_component("artifact_store", "lake")
        assert info.value.hint
        assert store.get_component("artifact_store", "lake") is not None
        store.put_stack("prod", {"orchestrator": "local"})
        store.delete_stack("dev")
        store.delete_component("artifact_store", "lake")
        assert store.get_component("artifact_store", "lake") is None
        with pytest.raises(NotFound, match="lake"):
            store.delete_component("artifact_store", "lake")

    # -- stacks -------------------------------------------------------------------------------
    def test_stacks(self, store: MetadataStore) -> None:
        inline = [
            component("artifact_store", "prod-artifacts", owner="prod", config={"path": "/p"})
        ]
        store.put_stack("prod", {"orchestrator": "local", "artifact_store": "prod-artifacts"},
                        inline)  # fmt: skip
        store.put_stack("empty", {})
        got = store.get_stack("prod")
        assert got is not None
        assert got.components == {"orchestrator": "local", "artifact_store": "prod-artifacts"}
        assert store.get_component("artifact_store", "prod-artifacts") == store.list_components(
            "artifact_store")[0]  # fmt: skip
        assert [s.name for s in store.list_stacks()] == ["empty", "prod"]
        assert store.get_stack("empty").components == {}  # type: ignore[union-attr]
        assert store.get_stack("nope") is None
        time.sleep(0.01)
        store.put_stack("prod", {"orchestrator": "k8s"})  # replaces the mapping
        again = store.get_stack("prod")
        assert again is not None and again.components == {"orchestrator": "k8s"}
        assert again.created_at == got.created_at < again.updated_at

    def test_delete_stack_removes_its_unshared_inline_components(
        self, store: MetadataStore
    ) -> None:
        store.put_stack("prod", {"artifact_store": "p-art", "orchestrator": "p-orch"},
                        [component("artifact_store", "p-art", owner="prod"),
                         component("orchestrator", "p-orch", owner="prod")])  # fmt: skip
        store.put_stack("other", {"orchestrator": "p-orch"})  # shares one of them
        store.put_component(component("secret_store", "mine"))
        assert store.delete_stack("prod") == [("artifact_store", "p-art")]
        assert store.get_stack("prod") is None
        assert store.get_component("artifact_store", "p-art") is None
        assert store.get_component("orchestrator", "p-orch") is not None
        assert store.get_component("secret_store", "mine") is not None
        with pytest.raises(NotFound, match="prod"):
            store.delete_stack("prod")

    # -- memory -------------------------------------------------------------------------------
    def test_memory_versions(self, store: MetadataStore) -> None:
        first = put(store, "k", b"1", execution_id="ex1", call_id="save#2")
        assert (first.version, first.value, first.deleted) == (1, b"1", False)
        assert (first.execution_id, first.call_id) == ("ex1", "save#2")
        assert put(store, "k", b"2").version == 2
        latest = store.memory_get("namespace", "default", "k")
        assert latest is not None and (latest.version, latest.value) == (2, b"2")
        assert store.memory_get("namespace", "default", "k", version=1) == first
        assert store.memory_get("namespace", "default", "k", version=7) is None
        assert store.memory_get("namespace", "default", "nope") is None
        assert [r.value for r in store.memory_history("namespace", "default", "k")] == [b"1",
                                                                                       b"2"]  # fmt: skip
        assert store.memory_history("namespace", "default", "nope") == []

    def test_memory_scopes_are_separate(self, store: MetadataStore) -> None:
        put(store, "k", b"ns")
        put(store, "k", b"flow", scope="flow", scope_key="review")
        put(store, "k", b"other", scope="namespace", scope_key="team")
        assert store.memory_get("flow", "review", "k").value == b"flow"  # type: ignore[union-attr]
        assert store.memory_get("namespace", "default", "k").version == 1  # type: ignore[union-attr]
        assert store.memory_scopes() == [("flow", "review", 1), ("namespace", "default", 1),
                                         ("namespace", "team", 1)]  # fmt: skip

    def test_memory_tombstones(self, store: MetadataStore) -> None:
        put(store, "gone", b"1")
        put(store, "kept", b"1")
        tomb = put(store, "gone", None, deleted=True)
        assert (tomb.version, tomb.deleted, tomb.value) == (2, True, None)
        got = store.memory_get("namespace", "default", "gone")
        assert got is not None and got.deleted and got.value is None  # the latest is the tombstone
        assert [r.key for r in store.memory_list("namespace", "default")] == ["kept"]
        assert store.memory_scopes() == [("namespace", "default", 1)]
        put(store, "kept", None, deleted=True)
        assert store.memory_list("namespace", "default") == []
        assert store.memory_scopes() == [("namespace", "default", 0)]  # still holds versions
        assert put(store, "gone", b"back").version == 3  # writing again resurrects it
        assert [r.version for r in store.memory_list("namespace", "default")] == [3]

    def test_memory_list_is_by_key_in_code_point_order(self, store: MetadataStore) -> None:
        for key in ["b", "B", "é", "a", "a#2", "A"]:
            put(store, key, key.encode())
        put(store, "a", b"a2")
        listed = store.memory_list("namespace", "default")
        assert [r.key for r in listed] == sorted(["b", "B", "é", "a", "a#2", "A"])
        assert [(r.key, r.version, r.value) for r in listed if r.key == "a"] == [("a", 2, b"a2")]

    def test_memory_values_keep_every_byte(self, store: MetadataStore) -> None:
        for key, value in {
            "empty": b"",
            "binary": bytes(range(256)),
            "big": b"x" * 300_000,
        }.items():
            put(store, key, value)
            assert store.memory_get("namespace", "default", key).value == value  # type: ignore[union-attr]

    def test_memory_if_version(self, store: MetadataStore) -> None:
        assert put(store, "c", b"a", if_version=0).version == 1  # 0: must not exist yet
        with pytest.raises(Conflict, match="at version 1, not 0") as info:
            put(store, "c", b"b", if_version=0)
        assert info.value.hint
        assert put(store, "c", b"b", if_version=1).version == 2
        with pytest.raises(Conflict, match="at version 2, not 1"):
            put(store, "c", b"x", if_version=1)
        assert [r.value for r in store.memory_history("namespace", "default", "c")] == [b"a",
                                                                                       b"b"]  # fmt: skip

    def test_concurrent_memory_writers(self, store: MetadataStore, open_store: OpenStore) -> None:

        stores = [open_store() for _ in range(4)]
        try:
            plain = run_together(8, lambda i: put(stores[i % 4], "n", str(i).encode()).version)
            put(store, "cas", b"0")
            cas = run_together(8, lambda i: put(stores[i % 4], "cas", b"x", if_version=1))
        finally:
            for s in stores:
                s.close()
        assert sorted(plain) == list(range(1, 9)), plain  # every write got its own version
        assert len(store.memory_history("namespace", "default", "n")) == 8
        wins = [r for r in cas if not isinstance(r, BaseException)]
        assert len(wins) == 1 and wins[0].version == 2, cas
        assert all(isinstance(r, Conflict) for r in cas if r is not wins[0]), cas

    # -- schema -------------------------------------------------------------------------------
    def test_deployments_versions_and_exclusive_tags(self, store: MetadataStore) -> None:
        from kitaru.errors import NotFound
        from kitaru.store.deployments import Deployment, DeploymentStore

        if not isinstance(store, DeploymentStore):
            pytest.skip("this store keeps no deployments")
        d = Deployment(flow="review", version=0, module="m", qualname="review", source_file=None,
                       root=None, stack="local", image=None, parameters={"type": "object"},
                       options={"retries": 1}, code_hash="h", created_at=1.0)  # fmt: skip
        v1 = store.add_deployment(d, tag="default")
        v2 = store.add_deployment(d, tag="canary")
        other = store.add_deployment(Deployment(**{**d.__dict__, "flow": "other"}), tag=None)
        assert (v1.version, v1.tags, v2.version, v2.tags) == (1, ["default"], 2, ["canary"])
        assert (other.version, other.tags) == (1, [])
        assert v2.options == {"retries": 1} and v2.parameters == {"type": "object"}
        store.set_tag("review", "default", 2)  # moves: v1 loses it
        assert {x.version: x.tags for x in store.list_deployments("review")} == {
            1: [], 2: ["canary", "default"]}  # fmt: skip
        assert store.tag_version("review", "default") == 2
        assert store.tag_version("review", "nope") is None
        assert store.get_deployment("review", 3) is None
        with pytest.raises(NotFound):
            store.set_tag("review", "default", 9)
        assert [x.flow for x in store.list_deployments()] == ["other", "review", "review"]

    def test_waiting_to_resume_finds_answered_and_expired_waits(self, store: MetadataStore) -> None:
        """What a sweep resumes: waiting executions whose wait was answered or whose deadline
        passed; not those still waiting for input, nor other statuses."""
        from kitaru.store.records import WAIT, Call

        now = time.time()

        def waiting(deadline: float | None) -> Any:
            ex = store.create_execution(flow="f", module="m", qualname="q", source_file=None,
                                        root=None, inputs={}, status="running")  # fmt: skip
            store.suspend_on_wait(ex.pk, Call("ok#1", WAIT, "pending", 1, started_at=now,
                                              meta={"deadline": deadline}))  # fmt: skip
            return ex

        still = waiting(None)
        answered = waiting(None)
        store.resolve_wait(answered.pk, "ok#1", serializer="json", type_name=None, value=b"1")
        expired = waiting(now - 5)
        later = waiting(now + 3600)
        store.create_execution(flow="f", module="m", qualname="q", source_file=None, root=None,
                               inputs={}, status="running")  # fmt: skip
        found = [e.id for e in store.waiting_to_resume(now)]
        assert found == [answered.id, expired.id], (found, still.id, later.id)
        assert [e.id for e in store.waiting_to_resume(now + 7200)] == [
            answered.id, expired.id, later.id]  # fmt: skip
        assert [e.id for e in store.waiting_to_resume(now, limit=1)] == [answered.id]

    def test_logs_are_appended_in_order_and_read_in_pages(
        self, store: MetadataStore, open_store: OpenStore
    ) -> None:
        a, b = (store.create_execution(flow="f", module="m", qualname="q", source_file=None,
                                       root=None, inputs={}) for _ in range(2))  # fmt: skip
        store.append_logs(a.pk, [{"t": 1.0, "call": None, "stream": "stdout", "line": "one"}])
        open_store().append_logs(a.pk, [
            {"t": 2.0, "call": "step", "stream": "stderr", "line": "two ✓"},
            {"t": 3.0, "call": "step#2", "stream": "log", "line": ""},
        ])  # fmt: skip
        store.append_logs(b.pk, [{"t": 4.0, "call": None, "stream": "stdout", "line": "other"}])
        got = store.read_logs(a.pk)
        assert [(r["n"], r["line"], r["call"], r["stream"]) for r in got] == [
            (1, "one", None, "stdout"), (2, "two ✓", "step", "stderr"), (3, "", "step#2", "log"),
        ]  # fmt: skip
        assert [r["line"] for r in store.read_logs(a.pk, after=1, limit=1)] == ["two ✓"]
        assert store.read_logs(a.pk, after=3) == []
        assert [r["n"] for r in store.read_logs(b.pk)] == [1]

    def test_reopening_keeps_data_and_schema(
        self, store: MetadataStore, open_store: OpenStore
    ) -> None:
        version = self.schema_version(store)
        assert version >= 1
        put(store, "k", b"v")
        again = open_store()
        try:
            assert self.schema_version(again) == version
            assert again.memory_get("namespace", "default", "k").value == b"v"  # type: ignore[union-attr]
        finally:
            again.close()

    def test_a_newer_schema_is_refused(self, store: MetadataStore, open_store: OpenStore) -> None:
        version = self.schema_version(store)
        self.set_schema_version(store, version + 1)
        try:
            with pytest.raises(ConfigError, match="newer than this Kitaru understands") as info:
                open_store().close()
            assert f"schema version {version + 1}" in info.value.message
            assert info.value.hint and "upgrade" in info.value.hint
        finally:
            self.set_schema_version(store, version)
        open_store().close()
