"""The one query layer of the SQL stores: executions, captured logs, leases, the journal, blobs.

Written once for SQLite and PostgreSQL (the shape of DBOS's ``_sys_db``: one set of queries, a
thin dialect per database; see :mod:`kitaru.store.dialect`). Every method is one statement where
one statement can do it, or one transaction. Compare-and-set operations are conditional
statements or read rows ``FOR UPDATE`` inside a transaction, so concurrent workers, resolvers and
writers behave the same on both: on PostgreSQL the row locks order them, on SQLite
``BEGIN IMMEDIATE`` does. Fenced writes (``epoch=``) test the epoch in the same statement as the
write (``INSERT ... SELECT ... WHERE epoch = ? FOR SHARE``) or under the transaction's lock.

Stores subclass :class:`SqlStore` and provide the plumbing of
:class:`~kitaru.store.sql_session.SqlSession`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from kitaru.errors import NotFound, UsageError
from kitaru.store import rows
from kitaru.store.base import MetadataStore, fence
from kitaru.store.dialect import placeholders
from kitaru.store.listing import SqlListing
from kitaru.store.records import (
    TERMINAL_STATUSES,
    WAIT,
    Attempt,
    Blob,
    Call,
    Execution,
    lease_is_live,
)
from kitaru.store.sql_access import SqlAccess
from kitaru.store.sql_deployments import SqlDeployments
from kitaru.store.sql_memory import SqlMemory
from kitaru.store.sql_queues import SqlQueues
from kitaru.store.sql_registry import SqlRegistry
from kitaru.store.sql_schedules import SqlSchedules
from kitaru.validation import check_names

_CALL_KEY = "execution_pk, call_id"
_UPSERT_CALL = (
    f"INSERT INTO journal (execution_pk, {rows.CALL_COLUMNS}) VALUES ({placeholders(14)}) "
    f"ON CONFLICT ({_CALL_KEY}) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in rows.CALL_NAMES[1:])
)
# The same, written only while the runner's epoch is current: one statement, so no take-over
# can come between the check and the write. On PostgreSQL FOR SHARE orders it with a take-over:
# one in progress is waited for and then seen (the epoch moved: nothing is written); one that
# comes later waits until this write is committed. (SQLite: the statement holds the database.)
_FENCED_CALL = _UPSERT_CALL.replace(
    f"VALUES ({placeholders(14)})",
    f"SELECT {placeholders(14)} FROM executions WHERE pk = ? AND epoch = ? FOR SHARE",
)
_RECORD_WAIT = _UPSERT_CALL.partition(" ON CONFLICT")[0] + " ON CONFLICT DO NOTHING"
_EXECUTION_COLUMNS = ("id, flow, status, module, qualname, source_file, root, inputs, created_at, "
                      "started_at, replay_of, replay_from, overrides, options, lease_owner, "
                      "lease_expires, epoch")  # fmt: skip
_INSERT_EXECUTION = (
    f"INSERT INTO executions ({_EXECUTION_COLUMNS}) VALUES ({placeholders(17)}) RETURNING pk"
)
_ATTEMPT_UPSERT = (
    " ON CONFLICT (execution_pk, call_id, attempt) DO UPDATE SET "
    "started_at = excluded.started_at, ended_at = excluded.ended_at, error = excluded.error"
)
# A take-over: new owner, new epoch, and (optionally) a new status.
_TAKE = (
    "UPDATE executions SET lease_owner = ?, lease_expires = ?, epoch = epoch + 1, "
    "status = COALESCE(CAST(? AS TEXT), status), "
    "started_at = CASE WHEN CAST(? AS TEXT) = 'running' THEN COALESCE(started_at, ?) "
    "ELSE started_at END WHERE pk = ?"
)


def in_list(column: str, n: int) -> str:
    """``column IN (?, ...)`` for ``n`` values (false for none: ``IN ()`` is not SQL)."""
    return f"{column} IN ({placeholders(n)})" if n else "1 = 0"


def after_prefix(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` in code-point order
    (SQLite's BINARY, PostgreSQL's "C" collation), so ``x >= prefix AND x < bound`` is exactly
    "starts with" and uses the index."""
    while prefix:
        last = ord(prefix[-1]) + 1
        if 0xD800 <= last <= 0xDFFF:  # surrogates cannot be stored: skip past them
            last = 0xE000
        if last <= 0x10FFFF:
            return prefix[:-1] + chr(last)
        prefix = prefix[:-1]
    return None


class SqlStore(SqlListing, SqlRegistry, SqlMemory, MetadataStore, SqlAccess, SqlDeployments,
               SqlSchedules, SqlQueues):  # fmt: skip
    """The metadata store over SQL; a subclass provides the connection and the dialect."""

    # -- executions ---------------------------------------------------------------------------
    def create_execution(
        self,
        *,
        flow: str,
        module: str,
        qualname: str,
        source_file: str | None,
        root: str | None,
        inputs: dict[str, list[Any]],
        status: str = "pending",
        replay_of: str | None = None,
        replay_from: str | None = None,
        overrides: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
        calls: Iterable[Call] = (),
        lease: tuple[str, float] | None = None,
        execution_id: str | None = None,
    ) -> Execution:
        check_names(flow=flow)
        if execution_id is not None:
            existing = self._existing(execution_id, flow)
            if existing is not None:  # a retried create (e.g. through a server restart)
                return existing
        now = time.time()
        eid = execution_id or rows.new_execution_id()
        owner, expires = (lease[0], now + lease[1]) if lease else (None, None)
        epoch = 1 if lease else 0
        started = now if status == "running" else None
        seed = list(calls)
        values = (eid, flow, status, module, qualname, source_file, root, json.dumps(inputs), now,
                  started, replay_of, replay_from, rows.dumps(overrides),
                  rows.dumps(options or {}), owner, expires, epoch)  # fmt: skip
        # One INSERT is atomic on its own; a transaction is needed only to seed a journal too.
        with self._session(tx=bool(seed)) as tx:
            pk = int(tx.one(_INSERT_EXECUTION, values)["pk"])
            tx.many(_UPSERT_CALL, [rows.call_row(pk, c) for c in seed])
        return Execution(
            pk=pk, id=eid, flow=flow, status=status, module=module, qualname=qualname,
            source_file=source_file, root=root, inputs=inputs, created_at=now,
            replay_of=replay_of, replay_from=replay_from, overrides=overrides,
            options=options or {}, started_at=started, lease_owner=owner, lease_expires=expires,
            epoch=epoch,
        )  # fmt: skip

    def get_execution(self, execution_id: str) -> Execution:
        check_names(execution_id=execution_id)
        if not execution_id:
            raise UsageError("an execution id is required")
        sql = f"SELECT {rows.EXEC_COLUMNS} FROM executions WHERE id >= ?"
        args: list[Any] = [execution_id]
        bound = after_prefix(execution_id)
        if bound is not None:
            sql += " AND id < ?"
            args.append(bound)
        found = self._all(sql + " ORDER BY id LIMIT 2", args)
        exact = [r for r in found if r["id"] == execution_id]
        if exact or len(found) == 1:
            return rows.execution((exact or found)[0])
        if not found:
            raise NotFound(
                f"no execution with id {execution_id!r}",
                hint="list executions with `kitaru executions list`",
            )
        raise UsageError(
            f"execution id prefix {execution_id!r} is ambiguous", hint="give more characters"
        )

    def list_executions(
        self, *, flow: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[Execution]:
        check_names(flow=flow, status=status)
        where, args = [], []
        if flow:
            where.append("flow = ?")
            args.append(flow)
        if status == "crashed":
            # derived from the lease: running/pending rows, filtered by the caller
            where.append("status IN ('running', 'pending')")
        elif status:
            where.append("status = ?")
            args.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        found = self._all(
            f"SELECT {rows.EXEC_COLUMNS} FROM executions {clause} ORDER BY pk DESC LIMIT ?",
            (*args, limit),
        )
        return [rows.execution(r) for r in found]

    def set_status(
        self,
        pk: int,
        status: str,
        *,
        only_if: Iterable[str] | None = None,
        result: tuple[str, str | None, bytes | None, str | None] | None = None,
        error: dict[str, Any] | None = None,
        release_owner: str | None = None,
        epoch: int | None = None,
    ) -> bool:
        now = time.time()
        sets = ["status = ?"]
        args: list[Any] = [status]
        if status == "running":
            sets.append("started_at = COALESCE(started_at, ?)")
            args.append(now)
        if status in TERMINAL_STATUSES:
            sets.append("ended_at = ?")
            args.append(now)
        if result is not None:
            sets.append("result_ser = ?, result_type = ?, result_value = ?, result_ref = ?")
            args.extend(result)
        if status in TERMINAL_STATUSES or error is not None:
            sets.append("error = ?")
            args.append(rows.dumps(error))
        if release_owner is not None:
            # SET expressions all see the row as it was, so both CASEs test the old owner
            sets.append(
                "lease_owner = CASE WHEN lease_owner = ? THEN NULL ELSE lease_owner END, "
                "lease_expires = CASE WHEN lease_owner = ? THEN NULL ELSE lease_expires END"
            )
            args.extend([release_owner, release_owner])
        sql = f"UPDATE executions SET {', '.join(sets)} WHERE pk = ?"
        args.append(pk)
        if only_if is not None:
            allowed = list(only_if)
            sql += " AND " + in_list("status", len(allowed))
            args.extend(allowed)
        if epoch is not None:
            # an UPDATE racing a take-over waits for it, then re-checks the row: never both
            sql += " AND epoch = ?"
            args.append(epoch)
        if self._changed(None, sql, args, status) == 1:
            return True
        if epoch is not None:
            self._refused(pk, epoch)
        return False

    def update_metadata(
        self, pk: int, metadata: dict[str, Any], *, epoch: int | None = None
    ) -> None:
        self._merge_json(pk, "metadata", metadata, epoch)

    def update_options(self, pk: int, options: dict[str, Any]) -> None:
        self._merge_json(pk, "options", options)

    def _merge_json(
        self, pk: int, column: str, values: dict[str, Any], epoch: int | None = None
    ) -> None:
        assert column in ("metadata", "options")  # never user input: safe to format in
        # Merged in Python under the row's lock (not with jsonb ||), to keep the keys' order.
        with self._session() as tx:
            row = tx.one(f"SELECT {column}, id, epoch FROM executions WHERE pk = ? FOR UPDATE",
                         (pk,))  # fmt: skip
            fence(None if row is None else (row["id"], row["epoch"]), epoch)
            merged = {**(rows.loads(row[column]) or {}), **values} if row else values
            tx.run(f"UPDATE executions SET {column} = ? WHERE pk = ?", (rows.dumps(merged), pk))

    # -- captured logs --------------------------------------------------------------------------
    def append_logs(
        self, pk: int, records: list[dict[str, Any]], *, epoch: int | None = None
    ) -> None:
        with self._session() as tx:
            # appends of one execution take turns (its row's lock), so numbers stay dense
            fence(tx.one("SELECT id, epoch FROM executions WHERE pk = ? FOR UPDATE", (pk,)),
                  epoch)  # fmt: skip
            row = tx.one("SELECT COALESCE(MAX(n), 0) AS n FROM logs WHERE execution_pk = ?", (pk,))
            start = int(row["n"]) if row else 0
            tx.many(
                "INSERT INTO logs (execution_pk, n, t, call, stream, line) VALUES (?,?,?,?,?,?)",
                [(pk, start + i + 1, r.get("t"), r.get("call"), r.get("stream"), r.get("line"))
                 for i, r in enumerate(records)],
            )  # fmt: skip

    def read_logs(self, pk: int, after: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        found = self._all("SELECT n, t, call, stream, line FROM logs WHERE execution_pk = ? "
                          "AND n > ? ORDER BY n LIMIT ?", (pk, after, limit))  # fmt: skip
        return [{"n": r["n"], "t": r["t"], "call": r["call"], "stream": r["stream"],
                 "line": r["line"]} for r in found]  # fmt: skip

    # -- leases -------------------------------------------------------------------------------
    def acquire_lease(
        self, pk: int, owner: str, ttl: float, *, statuses: Iterable[str], set_status: str | None
    ) -> int | None:
        now = time.time()
        wanted = list(statuses)
        args = [owner, now + ttl, set_status, set_status, now, pk]
        # Fast path, one statement: the lease is free, expired or already ours (the same owner
        # asking again after it took effect, an answer lost on the way back through a server:
        # taken, as asked).
        row = self._one(
            _TAKE + f" AND ({in_list('status', len(wanted))} OR (lease_owner = ? AND "
            "status = CAST(? AS TEXT))) AND (lease_owner IS NULL OR lease_owner = ? "
            "OR lease_expires IS NULL OR lease_expires < ?) RETURNING epoch",
            [*args, *wanted, owner, set_status, owner, now],
        )
        if row is not None:
            return int(row["epoch"])
        # Held by someone else and unexpired: free only if its holder is a dead local process.
        with self._session() as tx:
            row = tx.one("SELECT status, lease_owner, lease_expires FROM executions "
                         "WHERE pk = ? FOR UPDATE", (pk,))  # fmt: skip
            if row is None:
                return None
            again = row["lease_owner"] == owner and row["status"] == set_status
            if row["status"] not in wanted and not again:
                return None
            if row["lease_owner"] not in (None, owner) and lease_is_live(
                row["lease_owner"], row["lease_expires"], now
            ):
                return None
            taken = tx.one(_TAKE + " RETURNING epoch", args)
            return None if taken is None else int(taken["epoch"])

    def renew_leases(self, owner: str, ttl: float) -> dict[int, str]:
        found = self._all(
            "UPDATE executions SET lease_expires = ? WHERE lease_owner = ? RETURNING pk, status",
            (time.time() + ttl, owner),
        )
        return {int(r["pk"]): r["status"] for r in found}

    def release_lease(self, pk: int, owner: str) -> None:
        # announced: a process waiting for the result may hold the execution now
        self._changed(
            None,
            "UPDATE executions SET lease_owner = NULL, lease_expires = NULL "
            "WHERE pk = ? AND lease_owner = ?",
            (pk, owner),
            "released",
        )

    # -- journal ------------------------------------------------------------------------------
    def load_journal(self, pk: int) -> dict[str, Call]:
        found = self._all(f"SELECT {rows.CALL_COLUMNS} FROM journal WHERE execution_pk = ?", (pk,))
        return {r["call_id"]: rows.call(r) for r in found}

    def put_call(self, pk: int, call: Call, *, epoch: int | None = None) -> None:
        if epoch is None:
            self._run(_UPSERT_CALL, rows.call_row(pk, call))
        elif not self._run(_FENCED_CALL, (*rows.call_row(pk, call), pk, epoch)):
            self._refused(pk, epoch)

    def put_calls(self, pk: int, calls: Iterable[Call], *, epoch: int | None = None) -> None:
        values = [rows.call_row(pk, c) for c in calls]
        if not values:
            return
        with self._session() as tx:
            self._check_epoch(tx, pk, epoch)
            tx.many(_UPSERT_CALL, values)

    def suspend_on_wait(self, pk: int, call: Call, *, epoch: int | None = None) -> None:
        with self._session() as tx:
            self._check_epoch(tx, pk, epoch)
            tx.run(_RECORD_WAIT, rows.call_row(pk, call))  # an existing record is kept
            self._changed(tx, "UPDATE executions SET status = 'waiting' WHERE pk = ? AND "
                          "status = 'running'", (pk,), "waiting")  # fmt: skip

    def resolve_wait(
        self,
        pk: int,
        call_id: str,
        *,
        serializer: str | None,
        type_name: str | None,
        value: bytes | None,
        meta: dict[str, Any] | None = None,
        status: str = "completed",
        epoch: int | None = None,
    ) -> bool:
        with self._session() as tx:
            self._check_epoch(tx, pk, epoch)
            # FOR UPDATE: a second resolver blocks here, then finds the row no longer pending.
            row = tx.one(
                "SELECT meta FROM journal WHERE execution_pk = ? AND call_id = ? "
                "AND kind = ? AND status = 'pending' FOR UPDATE",
                (pk, call_id, WAIT),
            )
            if row is None:
                return False
            merged = {**(rows.loads(row["meta"]) or {}), **(meta or {})}
            tx.run(
                "UPDATE journal SET status = ?, serializer = ?, type_name = ?, value = ?, "
                "ended_at = ?, meta = ? WHERE execution_pk = ? AND call_id = ?",
                (status, serializer, type_name, value, time.time(), rows.dumps(merged), pk,
                 call_id),
            )  # fmt: skip
            self._announce(tx, pk, "input")  # the holder of the wait continues at once
            return True

    def pending_wait(self, pk: int) -> Call | None:
        row = self._one(
            f"SELECT {rows.CALL_COLUMNS} FROM journal WHERE execution_pk = ? AND kind = ? "
            "AND status = 'pending' ORDER BY seq LIMIT 1",
            (pk, WAIT),
        )
        return None if row is None else rows.call(row)

    def add_attempt(self, pk: int, attempt: Attempt, *, epoch: int | None = None) -> None:
        values: tuple[Any, ...] = (pk, attempt.call_id, attempt.attempt, attempt.started_at,
                                   attempt.ended_at, attempt.error)  # fmt: skip
        source = f"VALUES ({placeholders(6)})"
        if epoch is not None:
            source = (f"SELECT {placeholders(6)} FROM executions WHERE pk = ? AND epoch = ? "
                      "FOR SHARE")  # fmt: skip
            values = (*values, pk, epoch)
        written = self._run(
            "INSERT INTO attempts (execution_pk, call_id, attempt, started_at, ended_at, error) "
            + source
            + _ATTEMPT_UPSERT,
            values,
        )
        if not written and epoch is not None:
            self._refused(pk, epoch)

    def attempts(self, pk: int) -> list[Attempt]:
        found = self._all(
            "SELECT call_id, attempt, started_at, ended_at, error FROM attempts "
            "WHERE execution_pk = ? ORDER BY started_at",
            (pk,),
        )
        return [Attempt(call_id=r["call_id"], attempt=r["attempt"], started_at=r["started_at"],
                        ended_at=r["ended_at"], error=r["error"]) for r in found]  # fmt: skip

    def find_calls(self, pk: int, name: str, kind: str | None = None) -> list[Call]:
        check_names(call_name=name, kind=kind)
        sql = (
            f"SELECT {rows.CALL_COLUMNS} FROM journal WHERE execution_pk = ? "
            "AND (call_id = ? OR (call_id >= ? AND call_id < ?))"
        )
        args: list[Any] = [pk, name, name + "#", name + "$"]  # "$" follows "#": name#<anything>
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        return [rows.call(r) for r in self._all(sql + " ORDER BY seq", args)]

    def get_call(self, pk: int, call_id: str) -> Call | None:
        check_names(call_id=call_id)
        row = self._one(
            f"SELECT {rows.CALL_COLUMNS} FROM journal WHERE execution_pk = ? AND call_id = ?",
            (pk, call_id),
        )
        return None if row is None else rows.call(row)

    def cache_lookup(self, key: bytes) -> tuple[str, Call] | None:
        cols = ", ".join(f"j.{c}" for c in rows.CALL_NAMES)
        row = self._one(
            f"SELECT e.id AS execution_id, {cols} FROM cache_index c JOIN journal j "
            "ON j.execution_pk = c.execution_pk AND j.call_id = c.call_id "
            "JOIN executions e ON e.pk = c.execution_pk "
            "WHERE c.key = ? AND j.status = 'completed'",
            (key,),
        )
        return None if row is None else (row["execution_id"], rows.call(row))

    def cache_put(self, key: bytes, pk: int, call_id: str, *, epoch: int | None = None) -> None:
        source, args = "VALUES (?, ?, ?)", [key, pk, call_id]
        if epoch is not None:
            source = "SELECT ?, pk, ? FROM executions WHERE pk = ? AND epoch = ? FOR SHARE"
            args = [key, call_id, pk, epoch]
        written = self._run(
            f"INSERT INTO cache_index (key, execution_pk, call_id) {source} ON CONFLICT (key) "
            "DO UPDATE SET execution_pk = excluded.execution_pk, call_id = excluded.call_id",
            args,
        )
        if not written and epoch is not None:
            self._refused(pk, epoch)

    # -- blobs --------------------------------------------------------------------------------
    def put_blob(self, blob: Blob) -> None:
        self._run("INSERT INTO blobs (sha256, size, uri) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                  (blob.sha256, blob.size, blob.uri))  # fmt: skip

    def get_blob(self, sha256: str) -> Blob:
        row = self._one("SELECT sha256, size, uri FROM blobs WHERE sha256 = ?", (sha256,))
        if row is None:
            raise NotFound(f"no stored artifact with sha256 {sha256}")
        return Blob(sha256=row["sha256"], size=int(row["size"]), uri=row["uri"])
