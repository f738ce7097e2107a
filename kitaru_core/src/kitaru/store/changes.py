"""Change notifications: waking whoever waits on an execution the moment the store changes it.

On PostgreSQL the store's writes that resolve a wait or change an execution's status or lease
announce it (``pg_notify`` on the ``kitaru_executions`` channel, payload ``<execution id>:<what>``)
in the write's own statement or transaction, so a notification leaves only when the change
commits (DBOS wakes its waiters the same way). One listener per process and store — a
dedicated ``LISTEN`` connection (:mod:`kitaru.store.pg_listen`), or, connected to a server, a
long poll of its ``GET /api/v1/changes`` (:mod:`kitaru.store.remote`) — fans them out to
:class:`Watch` es. A woken waiter reads the store again; a notification only says "look now".

Nothing is lost for good: while the listener is not connected (starting, reconnecting, refused)
waiters poll as they always did, and when it (re)connects every watch is woken once, since
notifications sent meanwhile are gone. While it is connected they still read the store every
:data:`FALLBACK` seconds (a writer that announces nothing: an older client). Without a listener
(SQLite, ``KITARU_NOTIFY=0``) they poll.

Standard library only.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kitaru.store.base import MetadataStore

#: the PostgreSQL channel (see :class:`kitaru.store.dialect.Dialect`)
CHANNEL = "kitaru_executions"
#: seconds between a waiter's looks at the store while notifications are heard
FALLBACK = 1.0
#: a watch of every execution keeps at most this many unread changes (then says it overflowed)
MAX_UNREAD = 10_000
#: what a watch is told when notifications may have been missed (every watch is woken)
RESET = "reset"

Subscriber = Callable[[str | None, str], None]


class Watch:
    """Changes of one execution (or of all, ``execution_id=None``) from one :class:`Changes`."""

    def __init__(self, hub: Changes, execution_id: str | None) -> None:
        self._hub = hub
        self.execution_id = execution_id
        self._event = threading.Event()
        self._lock = threading.Lock()
        #: what changed since the watch began (``status`` names, ``input``, ``reset`` ...)
        self.seen: set[str] = set()
        #: ``(execution id, what)`` not read yet by :meth:`drain` (a watch of all executions)
        self._unread: deque[tuple[str | None, str]] = deque()
        self.overflowed = False

    def _fire(self, execution_id: str | None, what: str) -> None:
        with self._lock:
            if len(self.seen) < 64:
                self.seen.add(what)
            if self.execution_id is None:
                if len(self._unread) < MAX_UNREAD:
                    self._unread.append((execution_id, what))
                else:
                    self.overflowed = True
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """Sleep until a change since the last wait is announced (True) or ``timeout`` passes."""
        fired = self._event.wait(max(0.0, timeout))
        # cleared after waking: a change announced from here on wakes the next wait, and the
        # caller reads the store after this point anyway
        self._event.clear()
        return fired

    def drain(self) -> list[tuple[str | None, str]]:
        """The changes heard since the last drain, oldest first (resets the overflow flag)."""
        with self._lock:
            found = list(self._unread)
            self._unread.clear()
            self.overflowed = False
        return found

    def close(self) -> None:
        self._hub._remove(self)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Changes:
    """The fan-out of one process's listener. A subclass provides :meth:`_listen`, run in a
    daemon thread while anyone watches or subscribes, calling :meth:`_set_listening`,
    :meth:`publish` and checking :meth:`_wanted`."""

    name = "changes"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watches: dict[str | None, list[Watch]] = {}
        self._subscribers: list[Subscriber] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        self._pid = os.getpid()
        #: the listener hears the store's notifications now (else waiters poll)
        self.listening = False

    # -- what waiters use -------------------------------------------------------------------
    def watch(self, execution_id: str | None) -> Watch:
        """Start watching (before reading the store: what changes after that wakes it)."""
        w = Watch(self, execution_id)
        with self._lock:
            self._watches.setdefault(execution_id, []).append(w)
            self._start_locked()
        return w

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(execution_id, what)`` in the listener's thread for every change
        (``(None, "reset")`` when some may have been missed), from now on."""
        with self._lock:
            self._subscribers.append(callback)
            self._start_locked()

    def _remove(self, w: Watch) -> None:
        with self._lock:
            found = self._watches.get(w.execution_id, [])
            if w in found:
                found.remove(w)
            if not found:
                self._watches.pop(w.execution_id, None)

    def close(self, wait: float = 0.0) -> None:
        """Stop listening (waiting up to ``wait`` seconds for the thread to end); watches are
        woken."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._set_listening(False)
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join(wait)

    # -- what the listener uses -------------------------------------------------------------
    def publish(self, execution_id: str | None, what: str) -> None:
        """``execution_id`` changed (None: every execution may have)."""
        with self._lock:
            if execution_id is None:
                targets = [w for ws in self._watches.values() for w in ws]
            else:
                targets = [*self._watches.get(execution_id, ()), *self._watches.get(None, ())]
            subscribers = list(self._subscribers)
        for w in targets:
            w._fire(execution_id, what)
        for callback in subscribers:
            callback(execution_id, what)

    def _set_listening(self, listening: bool) -> None:
        """The listener (re)connected or lost its connection: either way notifications may
        have been missed, so every watch is woken to read the store (and to poll, if lost)."""
        self.listening = listening
        self.publish(None, RESET)

    def _wanted(self) -> bool:
        with self._lock:
            return not self._closed and bool(self._watches or self._subscribers)

    def _start_locked(self) -> None:
        if self._pid != os.getpid():  # a forked child: the parent's listener is not here
            self._pid, self._thread, self.listening = os.getpid(), None, False
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name=f"kitaru-{self.name}",
                                            daemon=True)  # fmt: skip
            self._thread.start()

    def _run(self) -> None:
        try:
            self._listen()
        finally:
            self.listening = False
            with self._lock:
                self._thread = None
                if not self._closed and (self._watches or self._subscribers):
                    self._start_locked()  # someone began watching as the listener stopped

    def _listen(self) -> None:
        raise NotImplementedError


class Waker:
    """Sleeps between two looks at one execution: until a change of it is announced (or
    ``fallback`` seconds pass), or — with nothing announcing (SQLite) or the listener not
    connected — for a polling delay growing from ``first`` to ``cap`` seconds, as waiters
    always did."""

    def __init__(
        self, store: MetadataStore, execution_id: str, *, first: float = 0.0005,
        cap: float = 0.01, fallback: float = FALLBACK,
    ) -> None:  # fmt: skip
        self._changes = store.changes()
        self._watch = self._changes.watch(execution_id) if self._changes is not None else None
        self._delay = first
        self._cap = cap
        self._fallback = fallback

    def sleep(self, until: float | None = None) -> bool:
        """Sleep (at most until the wall-clock time ``until``); True if a change woke it."""
        if self._changes is not None and self._changes.listening:
            timeout = self._fallback
        else:
            timeout = self._delay
            self._delay = min(self._delay * 1.5, self._cap)
        if until is not None:
            timeout = max(0.0, min(timeout, until - time.time()))
        if self._watch is None:
            time.sleep(timeout)
            return False
        return self._watch.wait(timeout)

    def seen(self, what: str) -> bool:
        """Whether a change named ``what`` (e.g. ``cancelled``) was announced since it began."""
        return self._watch is not None and what in self._watch.seen

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()

    def __enter__(self) -> Waker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
