"""PostgreSQL metadata store: the same contract as the embedded SQLite store, for many processes
and machines (``KITARU_DB_URL=postgresql://...``, or behind the Kitaru server).

Every method is one round trip where one statement can do it (autocommit, prepared on first use),
or one transaction. Compare-and-set operations are single conditional statements or take row
locks (``FOR UPDATE``), so concurrent workers, resolvers and writers behave as they do on SQLite,
where ``BEGIN IMMEDIATE`` serializes them. Row layouts equal SQLite's, so records are built by the
same functions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from kitaru.errors import NotFound, UsageError
from kitaru.store.base import MetadataStore, fence
from kitaru.store.listing import SqlListing
from kitaru.store.pg_access import PgAccess
from kitaru.store.pg_deployments import PgDeployments
from kitaru.store.pg_memory import PgMemory
from kitaru.store.pg_migrations import migrate
from kitaru.store.pg_pool import Pool
from kitaru.store.pg_registry import PgRegistry
from kitaru.store.records import (
    TERMINAL_STATUSES,
    WAIT,
    Attempt,
    Blob,
    Call,
    Execution,
    lease_is_live,
)
from kitaru.store.sqlite import (
    _CALL_COLUMNS,
    _EXEC_COLUMNS,
    _call,
    _call_row,
    _dumps,
    _execution,
    _loads,
    new_execution_id,
)
from kitaru.validation import check_names

_CALL_VALUES = ", ".join(["%s"] * 14)
_UPSERT_CALL = (
    f"INSERT INTO journal (execution_pk, {_CALL_COLUMNS}) VALUES ({_CALL_VALUES}) "
    "ON CONFLICT (execution_pk, call_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (s.strip() for s in _CALL_COLUMNS.split(",")))
)
# The same, written only while the runner's epoch is current. FOR SHARE orders it with a
# take-over: one in progress is waited for and then seen (the epoch moved: nothing is written);
# one that comes later waits until this write is committed.
_FENCED_CALL = _UPSERT_CALL.replace(
    f"VALUES ({_CALL_VALUES})",
    f"SELECT {_CALL_VALUES} FROM executions WHERE pk = %s AND epoch = %s FOR SHARE",
)


def _after_prefix(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` in "C" (code point)
    order, so ``x >= prefix AND x < bound`` is exactly "starts with" and uses the index."""
    while prefix:
        last = ord(prefix[-1]) + 1
        if 0xD800 <= last <= 0xDFFF:  # surrogates cannot be stored: skip past them
            last = 0xE000
        if last <= 0x10FFFF:
            return prefix[:-1] + chr(last)
        prefix = prefix[:-1]
    return None


class PostgresStore(SqlListing, PgRegistry, PgMemory, MetadataStore, PgAccess, PgDeployments):
    """The store on a PostgreSQL database given by a libpq URL (``postgresql://user@host/db``).

    The schema is created or upgraded on open (see :mod:`kitaru.store.pg_migrations`).
    """

    # how listing (kitaru.store.listing) speaks PostgreSQL
    _PH = "%s"
    _STACK = "(options::jsonb ->> 'stack')"
    _ILIKE = "ILIKE"
    _EXEC_COLUMNS = _EXEC_COLUMNS
    _decode_execution = staticmethod(_execution)

    def __init__(self, url: str) -> None:
        self._pool = Pool(url)
        self.location = self._pool.location  # host:port/dbname: for messages, no password
        with self._pool.connection() as conn:
            migrate(conn, self.location)

    def __repr__(self) -> str:
        return f"PostgresStore({self.location!r})"

    # -- plumbing -----------------------------------------------------------------------------
    def _one(self, sql: str, args: Any = ()) -> Any:
        with self._pool.connection() as conn:
            return conn.execute(sql, args).fetchone()

    def _all(self, sql: str, args: Any = ()) -> list[Any]:
        with self._pool.connection() as conn:
            return conn.execute(sql, args).fetchall()

    def _run(self, sql: str, args: Any = ()) -> int:
        """One autocommitted statement; returns the number of rows it changed."""
        with self._pool.connection() as conn:
            return conn.execute(sql, args).rowcount

    def close(self) -> None:
        self._pool.close()

    def _refused(self, pk: int, epoch: int) -> None:
        """A fenced write changed nothing: raise LeaseLost if the epoch moved on."""
        fence(self._one("SELECT id, epoch FROM executions WHERE pk = %s", (pk,)), epoch)

    @staticmethod
    def _check_epoch(conn: Any, pk: int, epoch: int | None) -> None:
        """Inside a transaction: lock the execution's row against a take-over until commit and
        check that the runner's epoch is still current."""
        if epoch is not None:
            fence(conn.execute("SELECT id, epoch FROM executions WHERE pk = %s FOR SHARE",
                               (pk,)).fetchone(), epoch)  # fmt: skip

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
        eid = execution_id or new_execution_id()
        owner, expires = (lease[0], now + lease[1]) if lease else (None, None)
        epoch = 1 if lease else 0
        started = now if status == "running" else None
        seed = list(calls)
        row = (eid, flow, status, module, qualname, source_file, root, json.dumps(inputs), now,
               started, replay_of, replay_from, _dumps(overrides), _dumps(options or {}), owner,
               expires, epoch)  # fmt: skip
        sql = (
            "INSERT INTO executions (id, flow, status, module, qualname, source_file, root, "
            "inputs, created_at, started_at, replay_of, replay_from, overrides, options, "
            f"lease_owner, lease_expires, epoch) VALUES ({', '.join(['%s'] * 17)}) RETURNING pk"
        )
        with self._pool.connection() as conn:
            if seed:  # a transaction only when a journal is seeded too
                with conn.transaction(), conn.cursor() as cur:
                    pk = cur.execute(sql, row).fetchone()[0]  # type: ignore[index]
                    cur.executemany(_UPSERT_CALL, [_call_row(pk, c) for c in seed])
            else:
                pk = conn.execute(sql, row).fetchone()[0]  # type: ignore[index]
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
        sql = f"SELECT {_EXEC_COLUMNS} FROM executions WHERE id >= %s"
        args: list[Any] = [execution_id]
        bound = _after_prefix(execution_id)
        if bound is not None:
            sql += " AND id < %s"
            args.append(bound)
        rows = self._all(sql + " ORDER BY id LIMIT 2", args)
        exact = [r for r in rows if r[1] == execution_id]
        if exact:
            return _execution(exact[0])
        if len(rows) == 1:
            return _execution(rows[0])
        if not rows:
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
            where.append("flow = %s")
            args.append(flow)
        if status == "crashed":
            # derived from the lease: running/pending rows, filtered by the caller
            where.append("status IN ('running', 'pending')")
        elif status:
            where.append("status = %s")
            args.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._all(
            f"SELECT {_EXEC_COLUMNS} FROM executions {clause} ORDER BY pk DESC LIMIT %s",
            (*args, limit),
        )
        return [_execution(r) for r in rows]

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
        sets = ["status = %s"]
        args: list[Any] = [status]
        if status == "running":
            sets.append("started_at = COALESCE(started_at, %s)")
            args.append(now)
        if status in TERMINAL_STATUSES:
            sets.append("ended_at = %s")
            args.append(now)
        if result is not None:
            sets.append("result_ser = %s, result_type = %s, result_value = %s, result_ref = %s")
            args.extend(result)
        if status in TERMINAL_STATUSES or error is not None:
            sets.append("error = %s")
            args.append(_dumps(error))
        if release_owner is not None:
            # SET expressions all see the row as it was, so both CASEs test the old owner
            sets.append(
                "lease_owner = CASE WHEN lease_owner = %s THEN NULL ELSE lease_owner END, "
                "lease_expires = CASE WHEN lease_owner = %s THEN NULL ELSE lease_expires END"
            )
            args.extend([release_owner, release_owner])
        sql = f"UPDATE executions SET {', '.join(sets)} WHERE pk = %s"
        args.append(pk)
        if only_if is not None:
            sql += " AND status = ANY(%s)"
            args.append(list(only_if))
        if epoch is not None:
            # an UPDATE racing a take-over waits for it, then re-checks the row: never both
            sql += " AND epoch = %s"
            args.append(epoch)
        if self._run(sql, args) == 1:
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

    def append_logs(
        self, pk: int, records: list[dict[str, Any]], *, epoch: int | None = None
    ) -> None:
        with self._pool.connection() as conn, conn.transaction():
            # appends of one execution take turns (its row lock), so numbers stay dense
            fence(conn.execute("SELECT id, epoch FROM executions WHERE pk = %s FOR UPDATE",
                               (pk,)).fetchone(), epoch)  # fmt: skip
            row = conn.execute("SELECT COALESCE(MAX(n), 0) FROM logs WHERE execution_pk = %s",
                               (pk,)).fetchone()  # fmt: skip
            start = int(row[0]) if row else 0
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO logs (execution_pk, n, t, call, stream, line) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    [(pk, start + i + 1, r.get("t"), r.get("call"), r.get("stream"),
                      r.get("line")) for i, r in enumerate(records)],
                )  # fmt: skip

    def read_logs(self, pk: int, after: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        rows = self._all("SELECT n, t, call, stream, line FROM logs WHERE execution_pk = %s "
                         "AND n > %s ORDER BY n LIMIT %s", (pk, after, limit))  # fmt: skip
        return [{"n": n, "t": t, "call": c, "stream": s, "line": line}
                for n, t, c, s, line in rows]  # fmt: skip

    def _merge_json(
        self, pk: int, column: str, values: dict[str, Any], epoch: int | None = None
    ) -> None:
        assert column in ("metadata", "options")  # never user input: safe to format in
        # Merged in Python under a row lock, not with jsonb ||, to keep the keys' order.
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute(
                f"SELECT {column}, id, epoch FROM executions WHERE pk = %s FOR UPDATE", (pk,)
            ).fetchone()
            fence(row[1:] if row else None, epoch)
            merged = {**(_loads(row[0]) or {}), **values} if row else values
            conn.execute(f"UPDATE executions SET {column} = %s WHERE pk = %s", (_dumps(merged), pk))

    # -- leases -------------------------------------------------------------------------------
    def acquire_lease(
        self, pk: int, owner: str, ttl: float, *, statuses: Iterable[str], set_status: str | None
    ) -> int | None:
        now = time.time()
        wanted = list(statuses)
        take = (
            "UPDATE executions SET lease_owner = %s, lease_expires = %s, epoch = epoch + 1, "
            "status = COALESCE(%s::text, status), "
            "started_at = CASE WHEN %s::text = 'running' THEN COALESCE(started_at, %s) "
            "ELSE started_at END WHERE pk = %s"
        )
        args = [owner, now + ttl, set_status, set_status, now, pk]
        with self._pool.connection() as conn:
            # Fast path, one statement: the lease is free, expired or already ours.
            # (the same owner asking again after it took effect: an answer lost on the way
            # back through a server; taken, as asked)
            row = conn.execute(
                take + " AND (status = ANY(%s) OR (lease_owner = %s AND status = %s::text)) "
                "AND (lease_owner IS NULL OR lease_owner = %s "
                "OR lease_expires IS NULL OR lease_expires < %s) RETURNING epoch",
                [*args, wanted, owner, set_status, owner, now],
            ).fetchone()
            if row is not None:
                return int(row[0])
            # Held by someone else and unexpired: free only if its holder is a dead local process.
            with conn.transaction():
                row = conn.execute(
                    "SELECT status, lease_owner, lease_expires FROM executions WHERE pk = %s "
                    "FOR UPDATE",
                    (pk,),
                ).fetchone()
                again = row is not None and row[1] == owner and row[0] == set_status
                if row is None or (row[0] not in wanted and not again):
                    return None
                if row[1] not in (None, owner) and lease_is_live(row[1], row[2], now):
                    return None
                taken = conn.execute(take + " RETURNING epoch", args).fetchone()
                return int(taken[0]) if taken else None

    def renew_leases(self, owner: str, ttl: float) -> dict[int, str]:
        rows = self._all(
            "UPDATE executions SET lease_expires = %s WHERE lease_owner = %s RETURNING pk, status",
            (time.time() + ttl, owner),
        )
        return {pk: status for pk, status in rows}

    def release_lease(self, pk: int, owner: str) -> None:
        self._run(
            "UPDATE executions SET lease_owner = NULL, lease_expires = NULL "
            "WHERE pk = %s AND lease_owner = %s",
            (pk, owner),
        )

    # -- journal ------------------------------------------------------------------------------
    def load_journal(self, pk: int) -> dict[str, Call]:
        rows = self._all(f"SELECT {_CALL_COLUMNS} FROM journal WHERE execution_pk = %s", (pk,))
        return {r[0]: _call(r) for r in rows}

    def put_call(self, pk: int, call: Call, *, epoch: int | None = None) -> None:
        if epoch is None:
            self._run(_UPSERT_CALL, _call_row(pk, call))
        elif not self._run(_FENCED_CALL, (*_call_row(pk, call), pk, epoch)):
            self._refused(pk, epoch)

    def put_calls(self, pk: int, calls: Iterable[Call], *, epoch: int | None = None) -> None:
        rows = [_call_row(pk, c) for c in calls]
        if not rows:
            return
        with self._pool.connection() as conn, conn.transaction():
            self._check_epoch(conn, pk, epoch)
            with conn.cursor() as cur:
                cur.executemany(_UPSERT_CALL, rows)  # pipelined: one round trip for all

    def suspend_on_wait(self, pk: int, call: Call, *, epoch: int | None = None) -> None:
        insert = _UPSERT_CALL.partition(" ON CONFLICT")[0] + " ON CONFLICT DO NOTHING"
        sql = (
            f"WITH recorded AS ({insert}) "
            "UPDATE executions SET status = 'waiting' WHERE pk = %s AND status = 'running'"
        )
        if epoch is None:  # one statement, so atomic without a transaction block
            self._run(sql, (*_call_row(pk, call), pk))
            return
        with self._pool.connection() as conn, conn.transaction():
            self._check_epoch(conn, pk, epoch)
            conn.execute(sql, (*_call_row(pk, call), pk))

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
        with self._pool.connection() as conn, conn.transaction():
            self._check_epoch(conn, pk, epoch)
            # FOR UPDATE: a second resolver blocks here, then finds the row no longer pending.
            row = conn.execute(
                "SELECT meta FROM journal WHERE execution_pk = %s AND call_id = %s "
                "AND kind = %s AND status = 'pending' FOR UPDATE",
                (pk, call_id, WAIT),
            ).fetchone()
            if row is None:
                return False
            merged = {**(_loads(row[0]) or {}), **(meta or {})}
            conn.execute(
                "UPDATE journal SET status = %s, serializer = %s, type_name = %s, value = %s, "
                "ended_at = %s, meta = %s WHERE execution_pk = %s AND call_id = %s",
                (status, serializer, type_name, value, time.time(), _dumps(merged), pk, call_id),
            )
            return True

    def pending_wait(self, pk: int) -> Call | None:
        row = self._one(
            f"SELECT {_CALL_COLUMNS} FROM journal WHERE execution_pk = %s AND kind = %s "
            "AND status = 'pending' ORDER BY seq LIMIT 1",
            (pk, WAIT),
        )
        return None if row is None else _call(row)

    def add_attempt(self, pk: int, attempt: Attempt, *, epoch: int | None = None) -> None:
        row: tuple[Any, ...] = (pk, attempt.call_id, attempt.attempt, attempt.started_at,
                                attempt.ended_at, attempt.error)  # fmt: skip
        source = "VALUES (%s,%s,%s,%s,%s,%s)"
        if epoch is not None:
            source = (
                "SELECT %s,%s,%s,%s,%s,%s FROM executions WHERE pk = %s AND epoch = %s FOR SHARE"
            )
            row = (*row, pk, epoch)
        written = self._run(
            f"INSERT INTO attempts {source} "
            "ON CONFLICT (execution_pk, call_id, attempt) DO UPDATE SET "
            "started_at = excluded.started_at, ended_at = excluded.ended_at, error = excluded.error",
            row,
        )
        if not written and epoch is not None:
            self._refused(pk, epoch)

    def attempts(self, pk: int) -> list[Attempt]:
        rows = self._all(
            "SELECT call_id, attempt, started_at, ended_at, error FROM attempts "
            "WHERE execution_pk = %s ORDER BY started_at",
            (pk,),
        )
        return [Attempt(*r) for r in rows]

    def find_calls(self, pk: int, name: str, kind: str | None = None) -> list[Call]:
        check_names(call_name=name, kind=kind)
        sql = (
            f"SELECT {_CALL_COLUMNS} FROM journal WHERE execution_pk = %s "
            "AND (call_id = %s OR (call_id >= %s AND call_id < %s))"
        )
        args: list[Any] = [pk, name, name + "#", name + "$"]  # "$" follows "#": name#<anything>
        if kind:
            sql += " AND kind = %s"
            args.append(kind)
        return [_call(r) for r in self._all(sql + " ORDER BY seq", args)]

    def get_call(self, pk: int, call_id: str) -> Call | None:
        check_names(call_id=call_id)
        row = self._one(
            f"SELECT {_CALL_COLUMNS} FROM journal WHERE execution_pk = %s AND call_id = %s",
            (pk, call_id),
        )
        return None if row is None else _call(row)

    def cache_lookup(self, key: bytes) -> tuple[str, Call] | None:
        cols = ", ".join(f"j.{c.strip()}" for c in _CALL_COLUMNS.split(","))
        row = self._one(
            f"SELECT e.id, {cols} FROM cache_index c JOIN journal j "
            "ON j.execution_pk = c.execution_pk AND j.call_id = c.call_id "
            "JOIN executions e ON e.pk = c.execution_pk "
            "WHERE c.key = %s AND j.status = 'completed'",
            (key,),
        )
        return None if row is None else (row[0], _call(row[1:]))

    def cache_put(self, key: bytes, pk: int, call_id: str, *, epoch: int | None = None) -> None:
        source, args = "VALUES (%s,%s,%s)", [key, pk, call_id]
        if epoch is not None:
            source = "SELECT %s, pk, %s FROM executions WHERE pk = %s AND epoch = %s FOR SHARE"
            args = [key, call_id, pk, epoch]
        written = self._run(
            f"INSERT INTO cache_index {source} ON CONFLICT (key) DO UPDATE SET "
            "execution_pk = excluded.execution_pk, call_id = excluded.call_id",
            args,
        )
        if not written and epoch is not None:
            self._refused(pk, epoch)

    # -- blobs --------------------------------------------------------------------------------
    def put_blob(self, blob: Blob) -> None:
        self._run(
            "INSERT INTO blobs VALUES (%s,%s,%s) ON CONFLICT DO NOTHING",
            (blob.sha256, blob.size, blob.uri),
        )

    def get_blob(self, sha256: str) -> Blob:
        row = self._one("SELECT sha256, size, uri FROM blobs WHERE sha256 = %s", (sha256,))
        if row is None:
            raise NotFound(f"no stored artifact with sha256 {sha256}")
        return Blob(*row)
