"""Worker leases: the proof that a live process is executing (or holding) an execution.

One heartbeat thread per process renews every lease this process holds with a single UPDATE,
and learns on the way whether any of them was cancelled. A process that dies stops renewing;
on the same host its lease is dead at once (the pid is gone), elsewhere when it expires.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable

from kitaru.store.base import MetadataStore


def _new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaseKeeper:
    """Holds leases for this process and keeps them alive."""

    def __init__(self) -> None:
        self.owner = _new_owner()
        self._lock = threading.Lock()
        # (store, pk) -> callback run when the execution is seen cancelled
        self._held: dict[tuple[int, int], tuple[MetadataStore, Callable[[], None]]] = {}
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
    ) -> bool:
        from kitaru.config import settings

        if not store.acquire_lease(
            pk, self.owner, settings().lease_ttl, statuses=statuses, set_status=set_status
        ):
            return False
        with self._lock:
            self._held[(id(store), pk)] = (store, on_cancel)
            self._ensure_thread()
        return True

    def adopt(self, store: MetadataStore, pk: int, on_cancel: Callable[[], None]) -> None:
        """Keep alive a lease taken by ``store.create_execution(lease=...)``."""
        with self._lock:
            self._held[(id(store), pk)] = (store, on_cancel)
            self._ensure_thread()

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

    def _beat(self) -> None:
        from kitaru.config import settings

        s = settings()
        while not self._wake.wait(s.heartbeat_interval):
            with self._lock:
                held = dict(self._held)
            stores = {id(st): st for st, _ in held.values()}
            for key, store in stores.items():
                try:
                    statuses = store.renew_leases(self.owner, s.lease_ttl)
                except Exception:  # a store hiccup must not kill the heartbeat
                    continue
                for pk, status in statuses.items():
                    entry = held.get((key, pk))
                    if entry and status == "cancelled":
                        entry[1]()


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
