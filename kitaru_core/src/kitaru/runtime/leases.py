"""Worker leases: the proof that a live process is executing (or holding) an execution.

One heartbeat thread per process renews every lease this process holds with a single UPDATE,
and learns on the way whether any of them was cancelled or taken over. A process that dies
stops renewing; on the same host its lease is dead at once (the pid is gone), elsewhere when it
expires.

A lease can be taken over only once it has expired in the store, so a runner whose last renewal
was sent less than one TTL ago (by this process's monotonic clock, which keeps counting while
the process is paused) still holds it: :meth:`LeaseKeeper.confirm` costs nothing then, and asks
the store otherwise. That is how a paused, partitioned or outlived runner learns of a take-over
before it starts another checkpoint body; its writes are fenced by the epoch in any case.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kitaru.store.base import MetadataStore


@dataclass
class _Held:
    store: MetadataStore
    on_cancel: Callable[[], None]
    on_lost: Callable[[], None]
    #: monotonic time until which the lease is surely ours: when the last successful renewal
    #: (or the take) was sent, plus the TTL it asked for
    valid_until: float


def _new_owner() -> str:
    from kitaru.store.records import this_host

    return f"{this_host()}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaseKeeper:
    """Holds leases for this process and keeps them alive."""

    def __init__(self) -> None:
        self.owner = _new_owner()
        self._lock = threading.Lock()
        self._held: dict[tuple[int, int], _Held] = {}  # by (store, pk)
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def acquire(
        self,
        store: MetadataStore,
        pk: int,
        *,
        statuses: tuple[str, ...],
        set_status: str | None,
        on_cancel: Callable[[], None] = lambda: None,
        on_lost: Callable[[], None] = lambda: None,
    ) -> int | None:
        """Take the lease: the new epoch, or None if another live process holds it."""
        from kitaru.config import settings

        ttl = settings().lease_ttl
        sent = time.monotonic()
        epoch = store.acquire_lease(pk, self.owner, ttl, statuses=statuses, set_status=set_status)
        if epoch is None:
            return None
        self._hold(store, pk, _Held(store, on_cancel, on_lost, sent + ttl))
        return epoch

    def adopt(
        self,
        store: MetadataStore,
        pk: int,
        on_cancel: Callable[[], None],
        on_lost: Callable[[], None] = lambda: None,
        *,
        taken_at: float,
    ) -> None:
        """Keep alive a lease taken by ``store.create_execution(lease=...)``, whose request
        was sent at ``taken_at`` (monotonic)."""
        from kitaru.config import settings

        self._hold(store, pk, _Held(store, on_cancel, on_lost, taken_at + settings().lease_ttl))

    def _hold(self, store: MetadataStore, pk: int, held: _Held) -> None:
        with self._lock:
            self._held[(id(store), pk)] = held
            self._ensure_thread()

    def confirm(self, store: MetadataStore, pk: int) -> bool:
        """Whether this process still holds the lease: at once while the last renewal is
        younger than the TTL, else by renewing now (False: taken over, or not held)."""
        if self._fresh(store, pk):
            return True
        if (id(store), pk) not in self._held:
            return False
        self._renew(store)
        return self._fresh(store, pk)

    def forget(self, store: MetadataStore, pk: int) -> None:
        """Stop renewing (the lease itself is released by the caller's status write)."""
        with self._lock:
            self._held.pop((id(store), pk), None)

    def release(self, store: MetadataStore, pk: int) -> None:
        self.forget(store, pk)
        store.release_lease(pk, self.owner)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._beat, name="kitaru-heartbeat", daemon=True)
            self._thread.start()

    def _fresh(self, store: MetadataStore, pk: int) -> bool:
        held = self._held.get((id(store), pk))
        return held is not None and time.monotonic() < held.valid_until

    def _beat(self) -> None:
        from kitaru.config import settings

        while not self._wake.wait(settings().heartbeat_interval):
            with self._lock:
                stores = {id(h.store): h.store for h in self._held.values()}
            for store in stores.values():
                try:
                    self._renew(store)
                except Exception:  # a store hiccup must not kill the heartbeat
                    continue

    def _renew(self, store: MetadataStore) -> None:
        """Renew every lease held in ``store``; tell runners of cancels and take-overs."""
        from kitaru.config import settings

        ttl = settings().lease_ttl
        sent = time.monotonic()
        with self._lock:
            mine = {pk: h for (key, pk), h in self._held.items() if key == id(store)}
        statuses = store.renew_leases(self.owner, ttl)
        for pk, held in mine.items():
            status = statuses.get(pk)
            if status is None:  # no longer ours: taken over (or released meanwhile)
                with self._lock:
                    if self._held.get((id(store), pk)) is held:
                        del self._held[(id(store), pk)]
                        held.on_lost()
                continue
            held.valid_until = max(held.valid_until, sent + ttl)
            if status == "cancelled":
                held.on_cancel()


_keeper: LeaseKeeper | None = None
_keeper_lock = threading.Lock()


def keeper() -> LeaseKeeper:
    """This process's lease keeper."""
    global _keeper
    if _keeper is None:
        with _keeper_lock:
            if _keeper is None:
                _keeper = LeaseKeeper()
    return _keeper


def _after_fork() -> None:
    global _keeper
    _keeper = None


os.register_at_fork(after_in_child=_after_fork)
