"""``GET /api/v1/changes``: the store's change notifications, long-polled by connected clients.

The server's store listens (PostgreSQL ``LISTEN``, :mod:`kitaru.store.pg_listen`); every change
it hears gets the next number of this server process's feed and is kept (the last
:data:`KEEP`). A client asks for what came after the number it last got and the server answers
at once if there is something, else when something comes or ``timeout`` passes; one async
request per waiting client process, however many executions it waits on
(:class:`kitaru.store.remote.RemoteChanges`). ``reset`` tells a client that changes may have
been missed (it had no cursor, this is another server process, the cursor is older than what
is kept, or the listener reconnected): it reads the store again. On a store that announces
nothing (SQLite, ``KITARU_NOTIFY=0``) the answer is ``supported: false`` and clients poll.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections import deque
from typing import Any

from fastapi import APIRouter, Query

from kitaru.store.base import MetadataStore
from kitaru.store.changes import Changes

#: changes kept for clients that come back for them
KEEP = 10_000
#: changes in one answer at most (the client asks again at once for the rest)
PAGE = 2_000


class ChangeFeed:
    """The changes this server heard, numbered, and the long polls waiting for the next."""

    def __init__(self, store: MetadataStore) -> None:
        self._store = store
        self.stream = secrets.token_hex(8)
        self._lock = threading.Lock()
        self._seq = 0
        self._events: deque[tuple[int, str, str]] = deque(maxlen=KEEP)
        self._forgotten = 0  # the highest number no longer kept
        self._reset_at = 0  # the last number at which changes may have been missed
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._changes: Changes | None = None
        self._started = False

    def _start(self) -> Changes | None:
        with self._lock:
            if not self._started:
                self._started = True
                self._changes = self._store.changes()
                if self._changes is not None:
                    self._changes.subscribe(self._heard)
            return self._changes

    def _heard(self, execution_id: str | None, what: str) -> None:
        """In the listener's thread: number the change, wake the long polls."""
        with self._lock:
            self._seq += 1
            if execution_id is None:
                self._reset_at = self._seq
            else:
                if len(self._events) == KEEP:
                    self._forgotten = self._events[0][0]
                self._events.append((self._seq, execution_id, what))
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(_settle, future)

    async def poll(self, after: int | None, stream: str | None, timeout: float) -> dict[str, Any]:
        changes = self._start()
        if changes is None:
            return {"supported": False}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with self._lock:
                answer: dict[str, Any] = {"supported": True, "stream": self.stream,
                                          "listening": changes.listening}  # fmt: skip
                if (stream != self.stream or after is None or after > self._seq
                        or after < max(self._forgotten, self._reset_at)):  # fmt: skip
                    return {**answer, "reset": True, "seq": self._seq, "events": []}
                events = [list(e) for e in self._events if e[0] > after][:PAGE]
                left = deadline - loop.time()
                if events or left <= 0:
                    seq = events[-1][0] if events else self._seq
                    return {**answer, "reset": False, "seq": seq, "events": events}
                future: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, future))
            try:
                await asyncio.wait_for(future, left)
            except TimeoutError:
                pass


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def add(api: APIRouter, store: MetadataStore) -> ChangeFeed:
    feed = ChangeFeed(store)

    @api.get("/changes", tags=["executions"])
    async def changes(
        after: int | None = Query(None, ge=0, description="the seq of the last answer"),
        stream: str | None = Query(None, max_length=64, description="its stream"),
        timeout: float = Query(25.0, ge=0, le=60, description="seconds to hold the request"),
    ) -> dict[str, Any]:
        """Long poll: executions that changed (a wait answered, a status or lease changed)
        after ``after``, as ``events: [[seq, execution_id, what], ...]``. Answers at once when
        there are some, else when one comes or ``timeout`` passes. ``reset: true``: changes may
        have been missed, read what you wait on again. ``supported: false``: this server's
        store announces nothing (SQLite); poll."""
        return await feed.poll(after, stream, timeout)

    return feed
