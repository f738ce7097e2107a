"""The contract every metadata store passes (embedded SQLite, PostgreSQL, anything new).

The runtime, client and CLI reach storage only through :class:`~kitaru.store.base.MetadataStore`;
these tests pin down what it promises, so a backend that passes them can replace another.
Registry, memory and schema tests are in :mod:`kitaru.testing.contracts.metadata_store_more`,
fencing tests in :mod:`kitaru.testing.contracts.metadata_store_fencing`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kitaru.errors import NotFound, UsageError
from kitaru.store.base import MetadataStore
from kitaru.store.records import CHECKPOINT, LLM, WAIT, Attempt, Blob, Call, Execution, this_host
from kitaru.testing.contracts.metadata_store_fencing import MetadataStoreFencingContract
from kitaru.testing.contracts.metadata_store_more import MetadataStoreMoreContract, run_together
from kitaru.testing.contracts.schedule_store import ScheduleStoreContract

OpenStore = Callable[[], MetadataStore]


def new_execution(store: MetadataStore, **kw: Any) -> Execution:
    """A minimal execution (override any field)."""
    fields: dict[str, Any] = {"flow": "f", "module": "m", "qualname": "q", "source_file": None,
                              "root": None, "inputs": {}, **kw}  # fmt: skip
    return store.create_execution(**fields)


def call(call_id: str, seq: int, kind: str = CHECKPOINT, status: str = "completed",
         **kw: Any) -> Call:  # fmt: skip
    return Call(call_id, kind, status, seq, **kw)


def dead_local_owner() -> str:
    """A lease owner (``host:pid:token``) whose process on this host has exited."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return f"{this_host()}:{int(proc.stdout)}:dead"


class MetadataStoreContract(
    MetadataStoreMoreContract, MetadataStoreFencingContract, ScheduleStoreContract
):
    """Subclass as ``TestMyStore`` and override the ``open_store`` fixture.

    ``open_store()`` opens a new store object (its own connections, like another process) on one
    database that is empty at the start of the test; each call in a test reaches the same data.
    Also override :meth:`schema_version` and :meth:`set_schema_version`.
    """

    @pytest.fixture
    def open_store(self) -> OpenStore:
        raise NotImplementedError("override the `open_store` fixture to open your store")

    @pytest.fixture
    def store(self, open_store: OpenStore) -> Iterator[MetadataStore]:
        store = open_store()
        yield store
        store.close()

    # -- executions ---------------------------------------------------------------------------
    def test_is_a_metadata_store(self, store: MetadataStore) -> None:
        assert isinstance(store, MetadataStore)

    def test_create_and_get_execution(self, store: MetadataStore) -> None:
        before = time.time()
        inputs = {"topic": ["json", None, "Durable ✓"], "a": ["json", None, 1]}  # order matters
        ex = new_execution(store, flow="review", module="app.flows", qualname="review_flow",
                           source_file="/src/app.py", root="/src", inputs=inputs,
                           replay_of="abc", replay_from="draft", overrides={"flow.x": 1},
                           options={"retries": 2})  # fmt: skip
        assert isinstance(ex.pk, int) and ex.id and ex.status == "pending"
        got = store.get_execution(ex.id)
        assert got == ex
        assert list(got.inputs) == ["topic", "a"]
        assert before <= got.created_at <= time.time()
        assert (got.started_at, got.ended_at, got.result, got.error) == (None, None, None, None)
        assert (got.lease_owner, got.lease_expires, got.metadata) == (None, None, {})

    def test_create_running_with_lease_and_journal(self, store: MetadataStore) -> None:
        seed = [call("a", 1, value=b"1"), call("b", 2, value=None)]
        ex = new_execution(store, status="running", lease=("me:1:x", 30.0), calls=seed)
        got = store.get_execution(ex.id)
        assert got.status == "running" and got.started_at is not None
        assert got.lease_owner == "me:1:x"
        assert got.lease_expires is not None and got.lease_expires > time.time() + 20
        assert store.load_journal(ex.pk) == {"a": seed[0], "b": seed[1]}

    def test_ids_are_unique(self, store: MetadataStore) -> None:
        ids = {new_execution(store).id for _ in range(50)}
        assert len(ids) == 50

    def test_create_with_a_chosen_id_is_idempotent(self, store: MetadataStore) -> None:
        from kitaru.errors import Conflict

        first = new_execution(store, flow="a", execution_id="0123456789ab", status="running")
        assert first.id == "0123456789ab"
        again = new_execution(store, flow="a", execution_id="0123456789ab")
        assert (again.pk, again.status) == (first.pk, "running")  # the existing one, unchanged
        assert len(store.list_executions()) == 1
        with pytest.raises(Conflict):
            new_execution(store, flow="b", execution_id="0123456789ab")
        with pytest.raises(UsageError):
            new_execution(store, execution_id="not-an-id")

    def test_get_by_prefix(self, store: MetadataStore) -> None:
        executions = [new_execution(store) for _ in range(40)]
        by_first: dict[str, list[str]] = {}
        for ex in executions:
            by_first.setdefault(ex.id[0], []).append(ex.id)
        unique = next(
            ex.id
            for ex in executions
            if all(not other.id.startswith(ex.id[:8]) for other in executions if other is not ex)
        )
        assert store.get_execution(unique[:8]).id == unique
        shared = next(ids for ids in by_first.values() if len(ids) > 1)  # 40 ids, 16 digits
        with pytest.raises(UsageError, match="ambiguous"):
            store.get_execution(shared[0][0])
        with pytest.raises(NotFound):
            store.get_execution("zz-no-such-execution")
        with pytest.raises(UsageError):
            store.get_execution("")

    def test_list_executions(self, store: MetadataStore) -> None:
        a = new_execution(store, flow="a")
        b = new_execution(store, flow="b", status="running")
        c = new_execution(store, flow="a", status="waiting")
        d = new_execution(store, flow="a")
        store.set_status(d.pk, "completed")
        ids = lambda rows: [r.id for r in rows]  # noqa: E731
        assert ids(store.list_executions()) == [d.id, c.id, b.id, a.id]  # newest first
        assert ids(store.list_executions(flow="a")) == [d.id, c.id, a.id]
        assert ids(store.list_executions(status="waiting")) == [c.id]
        assert ids(store.list_executions(flow="a", status="completed")) == [d.id]
        assert ids(store.list_executions(limit=2)) == [d.id, c.id]
        assert ids(store.list_executions(status="crashed")) == [b.id, a.id]  # running/pending
        assert store.list_executions(flow="nope") == []

    def test_set_status(self, store: MetadataStore) -> None:
        ex = new_execution(store)
        assert store.set_status(ex.pk, "running", only_if=("pending",))
        started = store.get_execution(ex.id).started_at
        assert started is not None
        assert not store.set_status(ex.pk, "running", only_if=("pending",))  # no longer pending
        assert store.set_status(ex.pk, "waiting")
        assert store.set_status(ex.pk, "running")
        assert store.get_execution(ex.id).started_at == started  # stamped once
        assert store.get_execution(ex.id).ended_at is None
        result = ("json", "builtins.str", b'"done"', None)
        assert store.set_status(ex.pk, "completed", only_if=["running", "waiting"], result=result)
        got = store.get_execution(ex.id)
        assert (got.status, got.result, got.error) == ("completed", result, None)
        assert got.ended_at is not None and got.ended_at >= started
        assert not store.set_status(ex.pk, "failed", only_if=())
        assert not store.set_status(10**9, "running")  # no such execution

    def test_set_status_error_and_result_ref(self, store: MetadataStore) -> None:
        ex = new_execution(store, status="running")
        error = {"type": "ValueError", "message": "bad ✗", "origin": "user_code"}
        assert store.set_status(ex.pk, "failed", error=error)
        assert store.get_execution(ex.id).error == error
        assert store.set_status(ex.pk, "running", error={"retrying": True})
        assert store.get_execution(ex.id).error == {"retrying": True}
        result = ("pickle", "x.Y", None, "file:///blobs/ab")
        assert store.set_status(ex.pk, "completed", result=result)
        got = store.get_execution(ex.id)
        assert got.result == result and got.error is None  # terminal without error clears it

    def test_set_status_releases_only_its_owners_lease(self, store: MetadataStore) -> None:
        ex = new_execution(store, status="running", lease=("me:1:x", 30.0))
        store.set_status(ex.pk, "waiting", release_owner="other:2:y")
        assert store.get_execution(ex.id).lease_owner == "me:1:x"
        store.set_status(ex.pk, "completed", release_owner="me:1:x")
        got = store.get_execution(ex.id)
        assert (got.status, got.lease_owner, got.lease_expires) == ("completed", None, None)

    def test_update_metadata_and_options_merge(self, store: MetadataStore) -> None:
        ex = new_execution(store, options={"retries": 1, "cwd": "/w"})
        store.update_metadata(ex.pk, {"z": 1, "a": {"nested": [1, 2]}})
        store.update_metadata(ex.pk, {"z": 2, "m": "é"})
        store.update_options(ex.pk, {"retries": 3})
        got = store.get_execution(ex.id)
        assert got.metadata == {"z": 2, "a": {"nested": [1, 2]}, "m": "é"}
        assert list(got.metadata) == ["z", "a", "m"]
        assert got.options == {"retries": 3, "cwd": "/w"}

    def test_concurrent_metadata_merges_lose_nothing(
        self, store: MetadataStore, open_store: OpenStore
    ) -> None:
        ex = new_execution(store)
        stores = [open_store() for _ in range(4)]
        try:
            run_together(8, lambda i: stores[i % 4].update_metadata(ex.pk, {f"k{i}": i}))
        finally:
            for s in stores:
                s.close()
        assert store.get_execution(ex.id).metadata == {f"k{i}": i for i in range(8)}

    # -- leases -------------------------------------------------------------------------------
    def test_acquire_lease(self, store: MetadataStore) -> None:
        ex = new_execution(store)
        assert store.acquire_lease(ex.pk, "a:1:x", 30.0, statuses=("pending",),
                                   set_status="running")  # fmt: skip
        got = store.get_execution(ex.id)
        assert (got.status, got.lease_owner) == ("running", "a:1:x")
        assert got.started_at is not None and got.lease_expires is not None
        # held and live: nobody else; the holder may take it again (renewing it)
        assert not store.acquire_lease(ex.pk, "b:1:x", 30.0, statuses=("running",),
                                       set_status=None)  # fmt: skip
        assert store.acquire_lease(ex.pk, "a:1:x", 60.0, statuses=("running",), set_status=None)
        assert store.get_execution(ex.id).lease_expires > got.lease_expires  # type: ignore[operator]
        # wrong status, unknown execution
        assert not store.acquire_lease(ex.pk, "a:1:x", 30.0, statuses=("waiting",),
                                       set_status=None)  # fmt: skip
        assert not store.acquire_lease(10**9, "a:1:x", 30.0, statuses=("pending",),
                                       set_status=None)  # fmt: skip

    def test_acquire_keeps_status_without_set_status(self, store: MetadataStore) -> None:
        ex = new_execution(store, status="waiting")
        assert store.acquire_lease(ex.pk, "a:1:x", 30.0, statuses=("waiting",), set_status=None)
        got = store.get_execution(ex.id)
        assert (got.status, got.started_at, got.lease_owner) == ("waiting", None, "a:1:x")

    def test_expired_lease_can_be_taken(self, store: MetadataStore) -> None:
        ex = new_execution(store, status="running", lease=("far-away:1:x", -1.0))
        assert store.acquire_lease(ex.pk, "b:1:x", 30.0, statuses=("running",), set_status=None)
        assert store.get_execution(ex.id).lease_owner == "b:1:x"

    def test_lease_of_a_dead_local_process_can_be_taken(self, store: MetadataStore) -> None:
        ex = new_execution(store, status="running", lease=(dead_local_owner(), 3600.0))
        assert store.acquire_lease(ex.pk, "b:1:x", 30.0, statuses=("running",), set_status=None)
        assert store.get_execution(ex.id).lease_owner == "b:1:x"

    def test_one_of_many_concurrent_acquirers_wins(
        self, store: MetadataStore, open_store: OpenStore
    ) -> None:
        ex = new_execution(store)
        stores = [open_store() for _ in range(4)]
        try:
            won = run_together(8, lambda i: stores[i % 4].acquire_lease(
                ex.pk, f"w{i}:1:x", 30.0, statuses=("pending",), set_status="running"))  # fmt: skip
        finally:
            for s in stores:
                s.close()
        winners = [i for i, epoch in enumerate(won) if epoch]
        assert len(winners) == 1 and won.count(None) == 7, won
        assert store.get_execution(ex.id).lease_owner == f"w{winners[0]}:1:x"

    def test_renew_and_release_leases(self, store: MetadataStore) -> None:
        a = new_execution(store, status="running", lease=("me:1:x", 5.0))
        b = new_execution(store, status="waiting", lease=("me:1:x", 5.0))
        c = new_execution(store, status="running", lease=("other:1:x", 5.0))
        assert store.renew_leases("me:1:x", 100.0) == {a.pk: "running", b.pk: "waiting"}
        assert store.get_execution(a.id).lease_expires > time.time() + 90  # type: ignore[operator]
        assert store.get_execution(c.id).lease_expires < time.time() + 10  # type: ignore[operator]
        store.release_lease(a.pk, "other:1:x")  # not the holder: no effect
        assert store.get_execution(a.id).lease_owner == "me:1:x"
        store.release_lease(a.pk, "me:1:x")
        assert store.get_execution(a.id).lease_owner is None
        assert store.renew_leases("me:1:x", 100.0) == {b.pk: "waiting"}
        assert store.renew_leases("nobody", 1.0) == {}

    # -- journal ------------------------------------------------------------------------------
    def test_put_and_load_calls(self, store: MetadataStore) -> None:
        ex, other = new_execution(store), new_execution(store)
        full = Call("research", CHECKPOINT, "completed", 1, fingerprint=bytes(range(32)),
                    serializer="json", type_name="builtins.str", value=b'"brief\x00"',
                    ref=None, started_at=1.5, ended_at=2.25, attempts=3,
                    meta={"cost": 0.01, "ü": [1]})  # fmt: skip
        bare = Call("draft", CHECKPOINT, "running", 2)
        store.put_call(ex.pk, full)
        store.put_call(ex.pk, bare)
        store.put_call(other.pk, call("research", 1, value=b"other"))
        assert store.get_call(ex.pk, "research") == full
        assert store.load_journal(ex.pk) == {"research": full, "draft": bare}
        assert store.get_call(ex.pk, "nope") is None
        assert store.load_journal(10**9) == {}
        done = Call("draft", CHECKPOINT, "completed", 2, value=b"", ref="s3://x")
        store.put_call(ex.pk, done)  # replaces
        assert store.get_call(ex.pk, "draft") == done
        assert store.get_call(ex.pk, "draft").value == b""  # type: ignore[union-attr]

    def test_put_calls_many(self, store: MetadataStore) -> None:
        ex = new_execution(store)
        calls = [call(f"step#{i}" if i > 1 else "step", i, value=str(i).encode())
                 for i in range(1, 201)]  # fmt: skip
        store.put_calls(ex.pk, calls)
        store.put_calls(ex.pk, [])
        journal = store.load_journal(ex.pk)
        assert len(journal) == 200 and journal["step#200"].value == b"200"

    def test_find_calls(self, store: MetadataStore) -> None:
        ex = new_execution(store)
        ids = ["research", "research#2", "research/llm", "research/llm#2", "research2",
               "researcher", "draft", "research#10", "draft/llm", "research#3"]  # fmt: skip
        for seq, call_id in enumerate(ids, start=1):
            store.put_call(ex.pk, call(call_id, seq, kind=LLM if "llm" in call_id else CHECKPOINT))
        found = lambda *a: [c.call_id for c in store.find_calls(ex.pk, *a)]  # noqa: E731
        assert found("research") == ["research", "research#2", "research#10", "research#3"]
        assert found("research/llm") == ["research/llm", "research/llm#2"]
        assert found("llm") == []  # child ids are found by their full path
        assert found("research", LLM) == []
        assert found("draft/llm", LLM) == ["draft/llm"]
        assert found("nothing") == []
        assert [c.name for c in store.find_calls(ex.pk, "research/llm")] == ["llm", "llm"]

    def test_attempts(self, store: MetadataStore) -> None:
        ex = new_execution(store)
        second = Attempt("fetch", 2, 20.0, 21.0, "TimeoutError: slow")
        first = Attempt("fetch", 1, 10.0, 11.0, "ValueError: ✗")
        store.add_attempt(ex.pk, second)
        store.add_attempt(ex.pk, first)
        store.add_attempt(ex.pk, Attempt("other", 1, 15.0, 16.0, "E"))
        assert [a.error for a in store.attempts(ex.pk)] == ["ValueError: ✗", "E",
                                                           "TimeoutError: slow"]  # fmt: skip
        assert store.attempts(ex.pk)[0] == first
        assert store.attempts(new_execution(store).pk) == []

    def test_cache_index(self, store: MetadataStore) -> None:
        ex = new_execution(store)
        done = call("embed", 1, value=b"vec", fingerprint=b"\x01" * 32)
        store.put_call(ex.pk, done)
        store.put_call(ex.pk, call("pending", 2, status="running"))
        key = b"\x00\xffkey"
        assert store.cache_lookup(key) is None
        store.cache_put(key, ex.pk, "embed")
        assert store.cache_lookup(key) == (ex.id, done)
        store.cache_put(b"k2", ex.pk, "pending")
        assert store.cache_lookup(b"k2") is None  # only completed calls are reused
        later = new_execution(store)
        store.put_call(later.pk, call("embed", 1, value=b"vec2"))
        store.cache_put(key, later.pk, "embed")  # re-pointed
        assert store.cache_lookup(key)[0] == later.id  # type: ignore[index]

    # -- waits --------------------------------------------------------------------------------
    def wait_call(self, call_id: str = "approve", seq: int = 3) -> Call:
        return Call(call_id, WAIT, "pending", seq, meta={"question": "OK?", "schema": {
            "type": "boolean"}, "name": call_id})  # fmt: skip

    def test_suspend_and_resolve_a_wait(self, store: MetadataStore) -> None:
        ex = new_execution(store, status="running")
        assert store.pending_wait(ex.pk) is None
        store.suspend_on_wait(ex.pk, self.wait_call())
        assert store.get_execution(ex.id).status == "waiting"
        assert store.pending_wait(ex.pk) == self.wait_call()
        assert store.resolve_wait(ex.pk, "approve", serializer="json", type_name="builtins.bool",
                                  value=b"true", meta={"by": "cli"})  # fmt: skip
        got = store.get_call(ex.pk, "approve")
        assert got is not None and (got.status, got.value, got.serializer) == (
            "completed",
            b"true",
            "json",
        )
        assert got.meta == {"question": "OK?", "schema": {"type": "boolean"}, "name": "approve",
                            "by": "cli"}  # fmt: skip
        assert got.ended_at is not None
        assert store.pending_wait(ex.pk) is None
        assert not store.resolve_wait(ex.pk, "approve", serializer="json", type_name=None,
                                      value=b"false")  # fmt: skip
        assert store.get_call(ex.pk, "approve").value == b"true"  # type: ignore[union-attr]

    def test_suspend_keeps_an_existing_record(self, store: MetadataStore) -> None:
        ex = new_execution(store, status="running")
        store.suspend_on_wait(ex.pk, self.wait_call())
        store.resolve_wait(ex.pk, "approve", serializer="json", type_name=None, value=b"1")
        store.set_status(ex.pk, "running")
        store.suspend_on_wait(ex.pk, self.wait_call())  # resume re-suspends: record stays
        assert store.get_call(ex.pk, "approve").status == "completed"  # type: ignore[union-attr]

    def test_suspend_marks_only_a_running_execution_waiting(self, store: MetadataStore) -> None:
        ex = new_execution(store, status="running")
        store.set_status(ex.pk, "cancelled")
        store.suspend_on_wait(ex.pk, self.wait_call())
        assert store.get_execution(ex.id).status == "cancelled"
        assert store.pending_wait(ex.pk) is not None

    def test_resolve_a_wait_as_failed(self, store: MetadataStore) -> None:
        ex = new_execution(store, status="running")
        store.suspend_on_wait(ex.pk, self.wait_call())
        assert store.resolve_wait(ex.pk, "approve", serializer=None, type_name=None, value=None,
                                  meta={"aborted": True}, status="failed")  # fmt: skip
        got = store.get_call(ex.pk, "approve")
        assert got is not None and (got.status, got.value) == ("failed", None)
        assert got.meta and got.meta["aborted"] is True

    def test_resolve_only_pending_waits(self, store: MetadataStore) -> None:
        ex = new_execution(store, status="running")
        store.put_call(ex.pk, call("step", 1, status="pending"))
        assert not store.resolve_wait(ex.pk, "step", serializer=None, type_name=None, value=None)
        assert not store.resolve_wait(ex.pk, "nope", serializer=None, type_name=None, value=None)

    def test_pending_wait_is_the_first_by_seq(self, store: MetadataStore) -> None:
        ex = new_execution(store, status="running")
        store.suspend_on_wait(ex.pk, self.wait_call("later", 9))
        store.suspend_on_wait(ex.pk, self.wait_call("first", 4))
        assert store.pending_wait(ex.pk).call_id == "first"  # type: ignore[union-attr]

    def test_two_concurrent_resolvers_one_wins(
        self, store: MetadataStore, open_store: OpenStore
    ) -> None:
        ex = new_execution(store, status="running")
        store.suspend_on_wait(ex.pk, self.wait_call())
        stores = [open_store() for _ in range(2)]  # like two processes (CLI and dashboard)
        try:
            won = run_together(2, lambda i: stores[i].resolve_wait(
                ex.pk, "approve", serializer="json", type_name=None, value=str(i).encode(),
                meta={"by": i}))  # fmt: skip
        finally:
            for s in stores:
                s.close()
        assert sorted(won) == [False, True], won
        winner = won.index(True)
        got = store.get_call(ex.pk, "approve")
        assert got is not None and got.value == str(winner).encode()
        assert got.meta and got.meta["by"] == winner

    # -- blobs --------------------------------------------------------------------------------
    def test_blobs(self, store: MetadataStore) -> None:
        sha = "ab" * 32
        with pytest.raises(NotFound):
            store.get_blob(sha)
        store.put_blob(Blob(sha, 5 * 1024**3, "s3://bucket/ab"))
        store.put_blob(Blob(sha, 1, "file:///elsewhere"))  # idempotent: the first stays
        assert store.get_blob(sha) == Blob(sha, 5 * 1024**3, "s3://bucket/ab")

    # -- threads ------------------------------------------------------------------------------
    def test_one_store_shared_by_threads(self, store: MetadataStore) -> None:
        """The runtime calls one store from the flow thread, the heartbeat and .submit()
        workers at once."""
        ex = new_execution(store, status="running", lease=(f"me:{os.getpid()}:x", 30.0))

        def work(i: int) -> int:
            for j in range(20):
                store.put_call(ex.pk, call(f"t{i}#{j}", i * 100 + j))
                store.renew_leases(f"me:{os.getpid()}:x", 30.0)
            return len(store.find_calls(ex.pk, f"t{i}"))

        assert run_together(8, work) == [20] * 8
        assert len(store.load_journal(ex.pk)) == 160
