"""Durable queues (:class:`~kitaru.store.queues.QueueStore`) for both SQL stores."""

from __future__ import annotations

import json
import time
from typing import Any

from kitaru.errors import Conflict
from kitaru.store import rows
from kitaru.store.dialect import placeholders
from kitaru.store.queues import ACTIVE, LIVE, QueueSpec, QueueStore
from kitaru.store.sql_session import SqlSession
from kitaru.validation import check_names

_Q = "name, concurrency, per_key_concurrency, rate_limit, rate_period, priority, updated_at"
_ACTIVE = f"status IN ({', '.join(repr(s) for s in ACTIVE)})"
_LIVE = f"status IN ({', '.join(repr(s) for s in LIVE)})"
# ON CONFLICT without a target: a live execution of the queue with the same dedup key (the
# partial unique index executions_dedup) makes the insert do nothing and return no row
_ENQUEUE = (
    "INSERT INTO executions (id, flow, status, module, qualname, source_file, root, inputs, "
    "created_at, options, epoch, queue, queue_key, priority, dedup_key) "
    f"VALUES ({placeholders(15)}) ON CONFLICT DO NOTHING RETURNING pk"
)
#: queued rows a per-key limited queue looks at per dequeue (past keys that are full)
_LOOKAHEAD = 200


def _spec(r: Any) -> QueueSpec:
    return QueueSpec(
        name=r["name"], concurrency=r["concurrency"], per_key_concurrency=r["per_key_concurrency"],
        rate_limit=r["rate_limit"], rate_period=r["rate_period"], priority=int(r["priority"]),
        updated_at=r["updated_at"],
    )  # fmt: skip


class SqlQueues(SqlSession, QueueStore):
    def put_queue(self, spec: QueueSpec) -> QueueSpec:
        s = spec
        check_names(queue=s.name)
        self._run(
            f"INSERT INTO queues ({_Q}) VALUES ({placeholders(7)}) ON CONFLICT (name) DO UPDATE "
            "SET concurrency = excluded.concurrency, per_key_concurrency = "
            "excluded.per_key_concurrency, rate_limit = excluded.rate_limit, rate_period = "
            "excluded.rate_period, priority = excluded.priority, updated_at = excluded.updated_at",
            (s.name, s.concurrency, s.per_key_concurrency, s.rate_limit, s.rate_period,
             s.priority, time.time()),
        )  # fmt: skip
        found = self.get_queue(s.name)
        assert found is not None
        return found

    def get_queue(self, name: str) -> QueueSpec | None:
        check_names(queue=name)
        row = self._one(f"SELECT {_Q} FROM queues WHERE name = ?", (name,))
        return None if row is None else _spec(row)

    def enqueue_execution(
        self, *, queue: str, key: str | None, priority: int, dedup_key: str | None,
        execution: dict[str, Any],
    ) -> tuple[Any, bool]:  # fmt: skip
        e = execution
        check_names(queue=queue, flow=e["flow"], key=key, dedup_key=dedup_key)
        for _ in range(10):  # a dedup twin may end between our insert and our read: again
            values = (rows.new_execution_id(), e["flow"], "queued", e["module"], e["qualname"],
                      e.get("source_file"), e.get("root"), json.dumps(e.get("inputs") or {}),
                      time.time(), rows.dumps(e.get("options") or {}), 0, queue, key, priority,
                      dedup_key)  # fmt: skip
            row = self._one(_ENQUEUE, values)
            if row is not None:
                return self._execution_by_pk(int(row["pk"])), True
            if dedup_key is not None:
                twin = self._one(f"SELECT {rows.EXEC_COLUMNS} FROM executions WHERE queue = ? "
                                 f"AND dedup_key = ? AND {_LIVE}", (queue, dedup_key))  # fmt: skip
                if twin is not None:
                    return rows.execution(twin), False
        raise Conflict(f"could not enqueue on {queue!r}: the deduplication key kept changing "
                       "hands")  # fmt: skip

    def _execution_by_pk(self, pk: int) -> Any:
        row = self._one(f"SELECT {rows.EXEC_COLUMNS} FROM executions WHERE pk = ?", (pk,))
        return rows.execution(row)

    def dequeue(self, queue: str, owner: str, ttl: float, want: int) -> list[Any]:
        check_names(queue=queue)
        now = time.time()
        with self._session() as tx:
            row = tx.one(f"SELECT {_Q} FROM queues WHERE name = ?", (queue,))
            spec = QueueSpec(name=queue) if row is None else _spec(row)
            if spec.limited:
                # one admission decision at a time per limited queue, across all workers: the
                # counts below then include every execution another worker just took
                tx.one("SELECT name FROM queues WHERE name = ? FOR UPDATE", (queue,))
            n = want
            if spec.concurrency:
                active = tx.one(f"SELECT COUNT(*) AS n FROM executions WHERE queue = ? AND "
                                f"{_ACTIVE}", (queue,))["n"]  # fmt: skip
                n = min(n, spec.concurrency - int(active))
            if spec.rate_limit and spec.rate_period:
                # the sliding window: executions taken in the last rate_period seconds
                recent = tx.one("SELECT COUNT(*) AS n FROM executions WHERE queue = ? AND "
                                "dequeued_at > ?", (queue, now - spec.rate_period))["n"]  # fmt: skip
                n = min(n, spec.rate_limit - int(recent))
            if n <= 0:
                return []
            per_key = spec.per_key_concurrency
            found = tx.all(
                "SELECT pk, queue_key FROM executions WHERE queue = ? AND status = 'queued' "
                "ORDER BY priority DESC, pk LIMIT ? FOR UPDATE SKIP LOCKED",
                (queue, n + _LOOKAHEAD if per_key else n),
            )
            chosen = [int(r["pk"]) for r in found]
            if per_key:
                chosen = self._within_key_limit(tx, queue, found, per_key, n)
            if not chosen:
                return []
            taken = tx.all(
                f"UPDATE executions SET status = 'pending', dequeued_at = ?, lease_owner = ?, "
                f"lease_expires = ? WHERE pk IN ({placeholders(len(chosen))}) "
                f"AND status = 'queued' RETURNING {rows.EXEC_COLUMNS}",
                (now, owner, now + ttl, *chosen),
            )
        return sorted((rows.execution(r) for r in taken), key=lambda e: (-e.priority, e.pk))

    @staticmethod
    def _within_key_limit(tx: Any, queue: str, found: list[Any], limit: int, n: int) -> list[int]:
        """Of the queued rows ``found`` (in order), the first ``n`` whose key has a free slot."""
        counts = {r["queue_key"]: int(r["n"]) for r in tx.all(
            f"SELECT queue_key, COUNT(*) AS n FROM executions WHERE queue = ? AND {_ACTIVE} "
            "AND queue_key IS NOT NULL GROUP BY queue_key", (queue,))}  # fmt: skip
        chosen: list[int] = []
        for r in found:
            k = r["queue_key"]
            if k is not None:
                if counts.get(k, 0) >= limit:
                    continue
                counts[k] = counts.get(k, 0) + 1
            chosen.append(int(r["pk"]))
            if len(chosen) == n:
                break
        return chosen

    def queue_orphans(
        self, queues: list[str], now: float, host: str, limit: int = 1000
    ) -> list[Any]:
        if not queues:
            return []
        check_names(queue=queues[0])
        found = self._all(
            f"SELECT {rows.EXEC_COLUMNS} FROM executions WHERE queue IN "
            f"({placeholders(len(queues))}) AND {_ACTIVE} AND (lease_owner IS NULL OR "
            "lease_expires < ? OR (lease_owner >= ? AND lease_owner < ?)) ORDER BY pk LIMIT ?",
            (*queues, now, host + ":", host + ";", limit),
        )
        return [rows.execution(r) for r in found]
