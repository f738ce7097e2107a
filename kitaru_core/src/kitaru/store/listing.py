"""Listing executions a page at a time: filters, keyset pagination and counts per status.

``list_executions`` answers the CLI's "newest N"; a dashboard over 10,000+ executions needs
more: filters (flow, status, stack, time range, text), the next page after the last row seen
(``pk < cursor``, so a page costs the same wherever it is) and counts per status. SQL stores
get it through :class:`SqlListing`; any other store (a server's :class:`RemoteStore`) through
:func:`page_executions` and :func:`count_by_status`, which fall back to ``list_executions``.

``crashed`` is not stored: it is a running or pending execution whose lease is dead, told apart
after the query (see :func:`kitaru.store.records.display_status`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from kitaru.store.dialect import Dialect
from kitaru.store.records import EXECUTION_STATUSES, Execution, display_status
from kitaru.store.rows import EXEC_COLUMNS, execution

#: statuses a person may filter by; the derived ones are read from these stored ones
DERIVED = {"running": ("running",), "pending": ("pending",), "crashed": ("running", "pending")}


@dataclass(frozen=True)
class ExecutionFilter:
    """What a page of executions is narrowed to; every field is optional."""

    flow: str | None = None
    status: str | None = None
    stack: str | None = None
    #: a prefix of the id, or part of the flow's name (case-insensitive)
    text: str | None = None
    #: created at or after / before these times (epoch seconds)
    since: float | None = None
    until: float | None = None

    def matches(self, ex: Execution, now: float) -> bool:
        """The same test in Python (for stores without SQL and for derived statuses)."""
        text = (self.text or "").lower()
        return (
            (not self.flow or ex.flow == self.flow)
            and (not self.status or display_status(ex, now) == self.status)
            and (not self.stack or ex.options.get("stack") == self.stack)
            and (not text or ex.id.startswith(text) or text in ex.flow.lower())
            and (self.since is None or ex.created_at >= self.since)
            and (self.until is None or ex.created_at < self.until)
        )


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlListing:
    """Mixed into the SQL stores: they provide ``_all`` (canonical ``?`` SQL) and a dialect."""

    # the store's own (annotations only: nothing of the store is shadowed)
    _all: Callable[..., list[Any]]
    dialect: ClassVar[Dialect]

    def _where(self, f: ExecutionFilter, statuses: tuple[str, ...] | None) -> tuple[str, list[Any]]:
        ph = "?"
        where: list[str] = []
        args: list[Any] = []
        if f.flow:
            where.append(f"flow = {ph}")
            args.append(f.flow)
        if statuses and all(st in EXECUTION_STATUSES for st in statuses):
            # known statuses as literals: SQLite uses the partial index of the live ones
            # (executions_live) only when the query names its statuses
            where.append("status IN (" + ", ".join(f"'{st}'" for st in statuses) + ")")
        elif statuses:
            where.append(f"status IN ({', '.join([ph] * len(statuses))})")
            args += list(statuses)
        if f.stack:
            where.append(f"{self.dialect.json_text('options', 'stack')} = {ph}")
            args.append(f.stack)
        if f.text:
            where.append(
                f"(id LIKE {ph} ESCAPE '\\' OR flow {self.dialect.ilike} {ph} ESCAPE '\\')"
            )
            args += [_like(f.text.lower()) + "%", "%" + _like(f.text) + "%"]
        if f.since is not None:
            where.append(f"created_at >= {ph}")
            args.append(f.since)
        if f.until is not None:
            where.append(f"created_at < {ph}")
            args.append(f.until)
        return (" WHERE " + " AND ".join(where)) if where else "", args

    def page_executions(
        self, f: ExecutionFilter, *, before_pk: int | None = None, limit: int = 50
    ) -> list[Execution]:
        """Up to ``limit`` executions matching ``f``, newest first, older than ``before_pk``."""
        statuses = DERIVED.get(f.status or "", (f.status,) if f.status else None)
        out: list[Execution] = []
        now = time.time()
        while len(out) < limit:
            clause, args = self._where(f, statuses)
            if before_pk is not None:
                clause += (" AND " if clause else " WHERE ") + "pk < ?"
                args.append(before_pk)
            # derived statuses are filtered after the query: read a little more each round
            want = limit - len(out) if f.status not in DERIVED else max(limit, 200)
            rows = self._all(f"SELECT {EXEC_COLUMNS} FROM executions{clause} "
                             "ORDER BY pk DESC LIMIT ?", (*args, want))  # fmt: skip
            batch = [execution(r) for r in rows]
            out += [e for e in batch if f.status not in DERIVED or f.matches(e, now)]
            if len(rows) < want:
                break
            before_pk = batch[-1].pk
        return out[:limit]

    def waiting_to_resume(self, now: float, limit: int = 10_000) -> list[Execution]:
        """:meth:`MetadataStore.waiting_to_resume` in one query: a sweep over thousands of
        waiting executions must not ask for each one's wait."""
        deadline = f"CAST({self.dialect.json_text('meta', 'deadline')} AS DOUBLE PRECISION)"
        rows = self._all(
            f"SELECT {EXEC_COLUMNS} FROM executions WHERE status = 'waiting' AND NOT EXISTS "
            "(SELECT 1 FROM journal WHERE journal.execution_pk = executions.pk AND "
            f"journal.kind = 'wait' AND journal.status = 'pending' AND ({deadline} IS NULL OR "
            f"{deadline} > ?)) ORDER BY pk LIMIT ?", (now, limit),
        )  # fmt: skip
        return [execution(r) for r in rows]

    def count_by_status(self, f: ExecutionFilter) -> dict[str, int]:
        """How many executions matching ``f`` (its status aside) are in each status."""
        from dataclasses import replace

        clause, args = self._where(replace(f, status=None), None)
        counts = Counter({s: n for s, n in self._all(
            f"SELECT status, COUNT(*) FROM executions{clause} GROUP BY status", tuple(args))})  # fmt: skip
        live = ("running", "pending")
        if counts["running"] or counts["pending"]:  # which of these are crashed: their leases say
            clause, args = self._where(replace(f, status=None), live)
            now = time.time()
            for owner, expires, created, status in self._all(
                f"SELECT lease_owner, lease_expires, created_at, status FROM executions{clause}",
                tuple(args),
            ):
                ex = Execution(pk=0, id="", flow="", status=status, module="", qualname="",
                               source_file=None, root=None, inputs={}, created_at=created,
                               lease_owner=owner, lease_expires=expires)  # fmt: skip
                shown = display_status(ex, now)
                if shown != status:
                    counts[status] -= 1
                    counts[shown] += 1
        return {s: n for s, n in counts.items() if n}


def page_executions(
    store: Any, f: ExecutionFilter, *, before_pk: int | None = None, limit: int = 50
) -> list[Execution]:
    """A page of executions from any store (see :meth:`SqlListing.page_executions`)."""
    if isinstance(store, SqlListing):
        return store.page_executions(f, before_pk=before_pk, limit=limit)
    now = time.time()
    rows = store.list_executions(flow=f.flow, limit=100_000)
    rows = [e for e in rows if (before_pk is None or e.pk < before_pk) and f.matches(e, now)]
    return list(rows[:limit])


def count_by_status(store: Any, f: ExecutionFilter) -> dict[str, int]:
    """Executions matching ``f`` (its status aside) per status, from any store."""
    if isinstance(store, SqlListing):
        return store.count_by_status(f)
    from dataclasses import replace

    now, f = time.time(), replace(f, status=None)
    rows = store.list_executions(flow=f.flow, limit=100_000)
    return dict(Counter(display_status(e, now) for e in rows if f.matches(e, now)))
