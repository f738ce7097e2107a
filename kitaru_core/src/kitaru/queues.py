"""Durable queues: flows enqueued now, run later by workers, within limits that hold across them.

``q = kitaru.Queue("emails", concurrency=4, per_key_concurrency=1, rate_limit=(10, 60))`` and
``send.enqueue(to, queue=q, key=customer, dedup_key=message_id)`` store a ``queued``
execution; ``kitaru serve --queue emails`` (any number of them, on any machines sharing the
database) take queued executions, highest priority first then oldest, and run them. What the
limits guarantee, and what they do not, is in docs/scale.md.

Workers also recover their queues' crashed executions (lease expired, or its holder is a dead
process of their host): they resume them through the same fenced take-over as every recovery,
so completed checkpoints are never run again and no two runners ever write one execution.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kitaru.errors import UsageError
from kitaru.store.queues import QueueSpec, QueueStore

if TYPE_CHECKING:
    from kitaru.flow import Flow
    from kitaru.handle import FlowHandle
    from kitaru.store.records import Execution

__all__ = ["Queue", "enqueue", "orphans"]


class Queue:
    """A named queue and its limits (stored on first use; the latest definition enqueued wins).

    ``concurrency``: executions of the queue running at once across all workers (a waiting
    execution keeps its slot). ``per_key_concurrency``: the same per ``key=`` of
    :meth:`Flow.enqueue`. ``rate_limit=(n, seconds)``: at most ``n`` executions taken off the
    queue in any window of ``seconds``. ``priority``: the default priority of what is enqueued
    on it (higher runs first).
    """

    def __init__(
        self, name: str, *, concurrency: int | None = None,
        per_key_concurrency: int | None = None, rate_limit: tuple[int, float] | None = None,
        priority: int = 0,
    ) -> None:  # fmt: skip
        from kitaru.validation import check_names

        check_names(queue=name)
        for what, n in (("concurrency", concurrency), ("per_key_concurrency",
                                                       per_key_concurrency)):  # fmt: skip
            if n is not None and (not isinstance(n, int) or n < 1):
                raise UsageError(f"queue {name!r}: {what} must be a positive integer or None")
        if rate_limit is not None:
            n, seconds = rate_limit
            if not isinstance(n, int) or n < 1 or not seconds or seconds <= 0:
                raise UsageError(f"queue {name!r}: rate_limit is (n, seconds), both positive",
                                 hint="e.g. rate_limit=(10, 60): ten per minute")  # fmt: skip
        self.name = name
        self.concurrency = concurrency
        self.per_key_concurrency = per_key_concurrency
        self.rate_limit = rate_limit
        self.priority = priority
        self._stored: set[int] = set()  # ids of the stores it was written to

    def spec(self) -> QueueSpec:
        n, seconds = self.rate_limit or (None, None)
        return QueueSpec(name=self.name, concurrency=self.concurrency,
                         per_key_concurrency=self.per_key_concurrency, rate_limit=n,
                         rate_period=None if seconds is None else float(seconds),
                         priority=self.priority)  # fmt: skip

    def register(self, store: Any = None) -> QueueSpec:
        """Store this definition (workers read the limits from the store)."""
        s = _store(store)
        spec = s.put_queue(self.spec())
        self._stored.add(id(s))
        return spec

    def __repr__(self) -> str:
        return f"<Queue {self.name}>"


def _store(store: Any = None) -> Any:
    from kitaru.store import default_store

    s = store if store is not None else default_store()
    if not isinstance(s, QueueStore):
        raise UsageError(f"this store ({type(s).__name__}) keeps no queues",
                         hint="queues live in the database (KITARU_DB_URL, the default SQLite "
                         "store) or behind a server (KITARU_SERVER_URL)")  # fmt: skip
    return s


def _spec_of(queue: Queue | str, store: Any) -> QueueSpec:
    if isinstance(queue, Queue):
        if id(store) in queue._stored:
            return queue.spec()
        return queue.register(store)
    found = store.get_queue(queue)
    return found if found is not None else store.put_queue(QueueSpec(name=queue))


def enqueue(
    flow: Flow[Any], arguments: dict[str, Any], *, queue: Queue | str, key: str | None = None,
    priority: int | None = None, dedup_key: str | None = None,
) -> FlowHandle[Any]:  # fmt: skip
    """Store a queued execution of ``flow`` (see :meth:`kitaru.flow.Flow.enqueue`)."""
    from kitaru.handle import FlowHandle
    from kitaru.runtime.launch import new_execution

    new = new_execution(flow, arguments)  # checks the stack and records its run options
    store = _store(new.store)
    spec = _spec_of(queue, store)
    loc = flow.location
    ex, _created = store.enqueue_execution(
        queue=spec.name, key=key, priority=spec.priority if priority is None else priority,
        dedup_key=dedup_key,
        execution={"flow": flow.name, "module": loc.module, "qualname": loc.qualname,
                   "source_file": loc.source_file, "root": loc.root,
                   "inputs": new.fields["inputs"], "options": new.options},
    )  # fmt: skip
    return FlowHandle(store, ex.id, flow=flow)


def orphans(store: Any, queues: list[str], now: float | None = None) -> list[Execution]:
    """Executions of ``queues`` that need a runner: their holder is gone (lease expired, or a
    dead process of this host) and they are not simply waiting for input."""
    from kitaru.store.records import lease_is_live, nothing_to_wait_for, this_host

    now = time.time() if now is None else now
    found = []
    for ex in _store(store).queue_orphans(queues, now, this_host()):
        if lease_is_live(ex.lease_owner, ex.lease_expires, now):
            continue
        if ex.status == "waiting" and not nothing_to_wait_for(store.pending_wait(ex.pk), now):
            continue  # still waiting for its input: nothing crashed
        found.append(ex)
    return found
