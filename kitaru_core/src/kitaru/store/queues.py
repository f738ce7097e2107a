"""Durable queues in the store: queue definitions (limits) and the queue fields of executions.

A separate interface next to :class:`~kitaru.store.base.MetadataStore`, implemented by the SQL
stores (a server's remote store does not offer it: queue workers connect to the database).
An enqueued execution is stored ``queued``; :meth:`QueueStore.dequeue` takes queued executions
for a worker in one transaction that also decides the limits, so they hold across any number
of workers: PostgreSQL serializes the decisions of a limited queue on its row
(``SELECT ... FOR UPDATE``) and picks rows with ``FOR UPDATE SKIP LOCKED``; SQLite's
``BEGIN IMMEDIATE`` holds the whole database for the same transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from kitaru.store.records import Execution

#: statuses in which an execution of a queue holds one of its concurrency slots
ACTIVE = ("pending", "running", "waiting")
#: statuses in which a deduplication key is taken
LIVE = ("queued", *ACTIVE)


@dataclass(frozen=True)
class QueueSpec:
    """A queue's limits, as stored (None: no limit)."""

    name: str
    #: executions of the queue running at once (pending, running or waiting), all workers
    concurrency: int | None = None
    #: the same per concurrency key
    per_key_concurrency: int | None = None
    #: at most ``rate_limit`` executions taken off the queue in any ``rate_period`` seconds
    rate_limit: int | None = None
    rate_period: float | None = None
    #: the priority of an execution enqueued without one (higher runs first)
    priority: int = 0
    updated_at: float = 0.0

    @property
    def limited(self) -> bool:
        return bool(self.concurrency or self.per_key_concurrency or self.rate_limit)


class QueueStore(ABC):
    @abstractmethod
    def put_queue(self, spec: QueueSpec) -> QueueSpec:
        """Create or replace a queue's definition."""

    @abstractmethod
    def get_queue(self, name: str) -> QueueSpec | None:
        """A queue's definition, or None."""

    @abstractmethod
    def enqueue_execution(
        self, *, queue: str, key: str | None, priority: int, dedup_key: str | None,
        execution: dict[str, Any],
    ) -> tuple[Execution, bool]:  # fmt: skip
        """Store a ``queued`` execution (``execution``: flow, module, qualname, source_file,
        root, inputs, options). With ``dedup_key``, an execution of the queue with that key
        still queued or active is returned instead: ``(execution, created)``."""

    @abstractmethod
    def dequeue(self, queue: str, owner: str, ttl: float, want: int) -> list[Execution]:
        """Take up to ``want`` queued executions, highest priority first then oldest, within
        the queue's limits: each becomes ``pending``, stamped ``dequeued_at``, leased to
        ``owner`` for ``ttl`` seconds (its runner then takes it with a new epoch)."""

    @abstractmethod
    def queue_orphans(
        self, queues: list[str], now: float, host: str, limit: int = 1000
    ) -> list[Execution]:
        """Executions of ``queues`` holding a slot (pending, running, waiting) whose lease has
        expired or is held by a process of ``host`` (maybe gone: the caller checks), oldest
        first: a worker's candidates for recovery, found with one indexed query."""
