"""Fencing: one runner per execution, whatever the timing (part of the metadata-store contract).

Use :class:`kitaru.testing.MetadataStoreContract`, which includes these tests. Every lease
take-over bumps the execution's epoch; a runner's writes carry the epoch it holds and are refused
(:class:`~kitaru.errors.LeaseLost`, nothing changed) once it is not current.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from kitaru.errors import LeaseLost
from kitaru.store.base import MetadataStore
from kitaru.store.records import CHECKPOINT, WAIT, Attempt, Call, Execution, this_host

OpenStore = Callable[[], MetadataStore]


def _running(store: MetadataStore, owner: str = "old:1:x", ttl: float = 30.0) -> Execution:
    return store.create_execution(flow="f", module="m", qualname="q", source_file=None,
                                  root=None, inputs={}, status="running", lease=(owner, ttl))  # fmt: skip


def _take_over(store: MetadataStore, ex: Execution) -> int:
    """Expire the old runner's lease (as a long pause would) and take the execution over."""
    store.renew_leases("old:1:x", -1.0)
    epoch = store.acquire_lease(ex.pk, "new:1:x", 30.0, statuses=("running", "waiting"),
                                set_status=None)  # fmt: skip
    assert epoch is not None
    return epoch


def zombie_local_owner() -> tuple[str, subprocess.Popen[bytes]]:
    """A lease owner whose process on this host has exited but is not reaped yet (a zombie);
    reap it with ``.wait()`` when done."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while True:
        with open(f"/proc/{proc.pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                break
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.01)
    return f"{this_host()}:{proc.pid}:zombie", proc


def _wait(call_id: str = "approve", seq: int = 5) -> Call:
    return Call(call_id, WAIT, "pending", seq, meta={"question": "ok?", "schema": None})


class MetadataStoreFencingContract:
    """Mixed into :class:`~kitaru.testing.contracts.metadata_store.MetadataStoreContract`."""

    def test_epochs_start_at_the_first_lease_and_every_take_over_bumps_them(
        self, store: MetadataStore
    ) -> None:
        ex = _running(store)
        assert ex.epoch == store.get_execution(ex.id).epoch == 1
        unleased = store.create_execution(flow="f", module="m", qualname="q", source_file=None,
                                          root=None, inputs={})  # fmt: skip
        assert unleased.epoch == 0
        assert _take_over(store, ex) == 2
        assert store.acquire_lease(ex.pk, "new:1:x", 30.0, statuses=("running",),
                                   set_status=None) == 3  # fmt: skip
        assert store.get_execution(ex.id).epoch == 3
        assert store.acquire_lease(ex.pk, "b:1:x", 30.0, statuses=("running",),
                                   set_status=None) is None  # fmt: skip
        assert store.get_execution(ex.id).epoch == 3  # a refused take-over bumps nothing

    def test_an_acquire_asked_again_by_its_owner_after_it_took_effect_succeeds(
        self, store: MetadataStore
    ) -> None:
        """Through a server, the answer to an acquire can be lost after it took effect; the
        client asks again and must get the execution, not a refusal."""
        ex = store.create_execution(flow="f", module="m", qualname="q", source_file=None,
                                    root=None, inputs={})  # fmt: skip
        first = store.acquire_lease(ex.pk, "me:1:x", 30.0, statuses=("pending",),
                                    set_status="running")  # fmt: skip
        again = store.acquire_lease(ex.pk, "me:1:x", 30.0, statuses=("pending",),
                                    set_status="running")  # fmt: skip
        assert first is not None and again == first + 1
        assert store.acquire_lease(ex.pk, "other:1:x", 30.0, statuses=("pending",),
                                   set_status="running") is None  # fmt: skip

    @pytest.mark.skipif(not os.path.isdir("/proc"), reason="zombies are read from /proc")
    def test_lease_of_an_unreaped_dead_local_process_is_free_at_once(
        self, store: MetadataStore
    ) -> None:
        owner, proc = zombie_local_owner()
        try:
            ex = _running(store, owner=owner, ttl=3600.0)
            assert store.acquire_lease(ex.pk, "b:1:x", 30.0, statuses=("running",),
                                       set_status=None) == 2  # fmt: skip
        finally:
            proc.wait()

    def test_writes_under_the_current_epoch_are_applied(self, store: MetadataStore) -> None:
        ex = _running(store)
        store.put_call(ex.pk, Call("a", CHECKPOINT, "completed", 1), epoch=1)
        store.put_calls(ex.pk, [Call("b", CHECKPOINT, "completed", 2)], epoch=1)
        store.add_attempt(ex.pk, Attempt("c", 1, 1.0, 2.0, "E"), epoch=1)
        store.cache_put(b"k", ex.pk, "a", epoch=1)
        store.update_metadata(ex.pk, {"m": 1}, epoch=1)
        store.append_logs(ex.pk, [{"t": 1.0, "call": "a", "stream": "stdout", "line": "x"}],
                          epoch=1)  # fmt: skip
        assert not store.set_status(ex.pk, "failed", only_if=("waiting",), epoch=1)  # no raise
        store.suspend_on_wait(ex.pk, _wait(), epoch=1)
        assert store.resolve_wait(ex.pk, "approve", serializer=None, type_name=None, value=None,
                                  status="failed", epoch=1)  # fmt: skip
        assert store.set_status(ex.pk, "running", only_if=("waiting",), epoch=1)
        assert store.set_status(ex.pk, "completed", epoch=1, release_owner="old:1:x")
        assert set(store.load_journal(ex.pk)) == {"a", "b", "approve"}
        assert store.cache_lookup(b"k") is not None
        assert len(store.attempts(ex.pk)) == 1 and len(store.read_logs(ex.pk)) == 1
        got = store.get_execution(ex.id)
        assert (got.status, got.metadata, got.lease_owner) == ("completed", {"m": 1}, None)

    @pytest.mark.parametrize(
        "write",
        [
            "put_call", "put_calls", "suspend_on_wait", "set_status", "resolve_wait",
            "add_attempt", "cache_put", "update_metadata", "append_logs",
        ],
    )  # fmt: skip
    def test_a_stale_runner_writes_nothing(self, store: MetadataStore, write: str) -> None:
        ex = _running(store)
        store.suspend_on_wait(ex.pk, _wait("w"), epoch=1)
        store.set_status(ex.pk, "running", epoch=1)
        _take_over(store, ex)
        before = (store.load_journal(ex.pk), store.get_execution(ex.id))
        stale: dict[str, Callable[[], Any]] = {
            "put_call": lambda: store.put_call(ex.pk, Call("x", CHECKPOINT, "completed", 9),
                                               epoch=1),
            "put_calls": lambda: store.put_calls(ex.pk, [Call("x", CHECKPOINT, "completed", 9)],
                                                 epoch=1),
            "suspend_on_wait": lambda: store.suspend_on_wait(ex.pk, _wait("x", 9), epoch=1),
            "set_status": lambda: store.set_status(ex.pk, "completed", only_if=("running",),
                                                   release_owner="old:1:x", epoch=1),
            "resolve_wait": lambda: store.resolve_wait(ex.pk, "w", serializer=None,
                                                       type_name=None, value=None,
                                                       status="failed", epoch=1),
            "add_attempt": lambda: store.add_attempt(ex.pk, Attempt("x", 1, 1.0, 2.0, "E"),
                                                     epoch=1),
            "cache_put": lambda: store.cache_put(b"stale", ex.pk, "x", epoch=1),
            "update_metadata": lambda: store.update_metadata(ex.pk, {"m": 1}, epoch=1),
            "append_logs": lambda: store.append_logs(
                ex.pk, [{"t": 1.0, "call": None, "stream": "stdout", "line": "x"}], epoch=1),
        }  # fmt: skip
        with pytest.raises(LeaseLost) as info:
            stale[write]()
        assert ex.id in str(info.value) and "another runner" in str(info.value)
        after = store.get_execution(ex.id)
        assert store.load_journal(ex.pk) == before[0]
        assert (after.status, after.metadata, after.lease_owner, after.epoch) == (
            before[1].status, before[1].metadata, "new:1:x", 2)  # fmt: skip
        assert store.attempts(ex.pk) == [] and store.read_logs(ex.pk) == []
        assert store.cache_lookup(b"stale") is None

    def test_unfenced_writes_ignore_the_epoch(self, store: MetadataStore) -> None:
        """People and tools (input, cancel) do not run the execution: no epoch needed."""
        ex = _running(store)
        store.suspend_on_wait(ex.pk, _wait(), epoch=1)
        _take_over(store, ex)
        assert store.resolve_wait(ex.pk, "approve", serializer="json", type_name=None, value=b"1")
        assert store.set_status(ex.pk, "cancelled", only_if=("running", "waiting"))

    def test_nothing_a_stale_runner_writes_lands_after_the_take_over(
        self, store: MetadataStore, open_store: OpenStore
    ) -> None:
        """The old runner writes as fast as it can while another store (process) takes over
        and reads the journal: that read is final, no stale write lands after it."""
        for _ in range(5):
            ex = _running(store)
            old = open_store()
            refused = threading.Event()
            written: list[str] = []

            def stale_runner(ex: Execution = ex, old: MetadataStore = old,
                             written: list[str] = written, refused: threading.Event = refused,
                             ) -> None:  # fmt: skip
                for i in range(100_000):
                    try:
                        old.put_call(ex.pk, Call(f"s#{i}", CHECKPOINT, "completed", i), epoch=1)
                    except LeaseLost:
                        refused.set()
                        return
                    written.append(f"s#{i}")

            thread = threading.Thread(target=stale_runner)
            thread.start()
            try:
                while len(written) < 20:
                    time.sleep(0.001)
                _take_over(store, ex)
                seen = set(store.load_journal(ex.pk))
                thread.join(30)
                assert refused.is_set()
                assert set(store.load_journal(ex.pk)) == seen == set(written)
            finally:
                old.close()
