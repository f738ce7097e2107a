"""Embedded metadata store: one SQLite file in WAL mode under ``KITARU_HOME``.

One connection per store, shared by the threads of a process behind a lock; other processes
use their own. ``synchronous=NORMAL`` in WAL keeps every commit durable against a killed process
(the failure this runtime is built for) at a fraction of the cost of a full fsync.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kitaru.errors import ConfigError, Conflict, NotFound, UsageError
from kitaru.store.base import (
    ComponentRecord,
    MemoryRecord,
    MetadataStore,
    StackRecord,
    fence,
)
from kitaru.store.listing import SqlListing
from kitaru.store.migrations import SCHEMA_VERSION, SQLITE_MIGRATIONS
from kitaru.store.records import (
    TERMINAL_STATUSES,
    WAIT,
    Attempt,
    Blob,
    Call,
    Execution,
    lease_is_live,
)
from kitaru.store.sqlite_access import SQLiteAccess
from kitaru.store.sqlite_deployments import SQLiteDeployments
from kitaru.validation import check_names

_EXEC_COLUMNS = (
    "pk, id, flow, status, module, qualname, source_file, root, inputs, created_at, started_at, "
    "ended_at, result_ser, result_type, result_value, result_ref, error, lease_owner, "
    "lease_expires, replay_of, replay_from, overrides, metadata, options, epoch"
)
_CALL_COLUMNS = (
    "call_id, kind, status, seq, fingerprint, serializer, type_name, value, ref, started_at, "
    "ended_at, attempts, meta"
)


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _execution(row: tuple[Any, ...]) -> Execution:
    result = None if row[12] is None else (row[12], row[13], row[14], row[15])
    return Execution(
        pk=row[0], id=row[1], flow=row[2], status=row[3], module=row[4], qualname=row[5],
        source_file=row[6], root=row[7], inputs=json.loads(row[8]), created_at=row[9],
        started_at=row[10], ended_at=row[11], result=result, error=_loads(row[16]),
        lease_owner=row[17], lease_expires=row[18], replay_of=row[19], replay_from=row[20],
        overrides=_loads(row[21]), metadata=_loads(row[22]) or {}, options=_loads(row[23]) or {},
        epoch=row[24],
    )  # fmt: skip


def _call(row: tuple[Any, ...]) -> Call:
    return Call(
        call_id=row[0], kind=row[1], status=row[2], seq=row[3], fingerprint=row[4],
        serializer=row[5], type_name=row[6], value=row[7], ref=row[8], started_at=row[9],
        ended_at=row[10], attempts=row[11], meta=_loads(row[12]),
    )  # fmt: skip


def _call_row(pk: int, c: Call) -> tuple[Any, ...]:
    check_names(call_id=c.call_id)  # every journal write of both stores comes through here
    return (
        pk, c.call_id, c.kind, c.status, c.seq, c.fingerprint, c.serializer, c.type_name,
        c.value, c.ref, c.started_at, c.ended_at, c.attempts, _dumps(c.meta),
    )  # fmt: skip


_INSERT_CALL = (
    f"INSERT OR REPLACE INTO journal (execution_pk, {_CALL_COLUMNS}) VALUES ({', '.join('?' * 14)})"
)
# The same, written only while the runner's epoch is current: one statement, so no other
# writer can take the execution over between the check and the write.
_FENCED_CALL = (
    f"INSERT OR REPLACE INTO journal (execution_pk, {_CALL_COLUMNS}) "
    f"SELECT {', '.join('?' * 14)} FROM executions WHERE pk = ? AND epoch = ?"
)


def new_execution_id() -> str:
    return secrets.token_hex(6)


class SQLiteStore(SqlListing, MetadataStore, SQLiteAccess, SQLiteDeployments):
    """The embedded store. ``path`` is the database file (created with its folder)."""

    # what listing (kitaru.store.listing) reads rows with
    _EXEC_COLUMNS = _EXEC_COLUMNS
    _decode_execution = staticmethod(_execution)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=60.0
            )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the Kitaru store at {self.path}: {exc}",
                hint="set KITARU_HOME to a writable folder",
            ) from exc
        self._conn = conn
        self._lock = threading.RLock()
        conn.execute("PRAGMA busy_timeout=60000")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    # -- plumbing -----------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._tx():
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"the store at {self.path} has schema version {version}, newer than this "
                    f"Kitaru understands ({SCHEMA_VERSION})",
                    hint="upgrade kitaru (pip install -U kitaru) or point KITARU_HOME elsewhere",
                )
            for step in SQLITE_MIGRATIONS[version:]:
                for statement in step.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
            if version < SCHEMA_VERSION:
                self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the database lock up front (no upgrade deadlocks)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        """The connection, for one autocommitted statement."""
        with self._lock:
            yield self._conn

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        with self._lock:
            return self._conn.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _refused(self, pk: int, epoch: int) -> None:
        """A fenced write changed nothing: raise LeaseLost if the epoch moved on."""
        fence(self._one("SELECT id, epoch FROM executions WHERE pk = ?", (pk,)), epoch)

    def _check_epoch(self, conn: sqlite3.Connection, pk: int, epoch: int | None) -> None:
        """Inside a write transaction (which holds the database lock): the runner's epoch
        must still be current."""
        if epoch is not None:
            fence(conn.execute("SELECT id, epoch FROM executions WHERE pk = ?", (pk,)).fetchone(),
                  epoch)  # fmt: skip

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
        rows_to_seed = list(calls)
        # One INSERT is atomic on its own; a transaction is needed only to seed a journal too.
        with self._tx() if rows_to_seed else self._locked() as conn:
            cur = conn.execute(
                "INSERT INTO executions (id, flow, status, module, qualname, source_file, root, "
                "inputs, created_at, started_at, replay_of, replay_from, overrides, options, "
                "lease_owner, lease_expires, epoch) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    eid, flow, status, module, qualname, source_file, root, json.dumps(inputs),
                    now, started, replay_of, replay_from, _dumps(overrides),
                    _dumps(options or {}), owner, expires, epoch,
                ),
            )  # fmt: skip
            pk = cur.lastrowid
            assert pk is not None
            if rows_to_seed:
                conn.executemany(_INSERT_CALL, [_call_row(pk, c) for c in rows_to_seed])
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
        rows = self._all(
            f"SELECT {_EXEC_COLUMNS} FROM executions WHERE id >= ? AND id < ? LIMIT 2",
            (execution_id, execution_id + "\uffff"),
        )
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
            where.append("flow = ?")
            args.append(flow)
        if status == "crashed":
            # derived from the lease: running/pending rows, filtered by the caller
            where.append("status IN ('running', 'pending')")
        elif status:
            where.append("status = ?")
            args.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._all(
            f"SELECT {_EXEC_COLUMNS} FROM executions {clause} ORDER BY pk DESC LIMIT ?",
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
            args.append(_dumps(error))
        if release_owner is not None:
            sets.append(
                "lease_owner = CASE WHEN lease_owner = ? THEN NULL ELSE lease_owner END, "
                "lease_expires = CASE WHEN lease_owner = ? THEN NULL ELSE lease_expires END"
            )
            args.extend([release_owner, release_owner])
        sql = f"UPDATE executions SET {', '.join(sets)} WHERE pk = ?"
        args.append(pk)
        if only_if is not None:
            allowed = list(only_if)
            sql += f" AND status IN ({', '.join('?' * len(allowed))})"
            args.extend(allowed)
        if epoch is not None:
            sql += " AND epoch = ?"
            args.append(epoch)
        with self._lock:
            if self._conn.execute(sql, args).rowcount == 1:
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
        with self._tx() as conn:
            self._check_epoch(conn, pk, epoch)
            row = conn.execute("SELECT COALESCE(MAX(n), 0) FROM logs WHERE execution_pk = ?",
                               (pk,)).fetchone()  # fmt: skip
            start = int(row[0])
            conn.executemany(
                "INSERT INTO logs (execution_pk, n, t, call, stream, line) VALUES (?,?,?,?,?,?)",
                [(pk, start + i + 1, r.get("t"), r.get("call"), r.get("stream"), r.get("line"))
                 for i, r in enumerate(records)],
            )  # fmt: skip

    def read_logs(self, pk: int, after: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        rows = self._all("SELECT n, t, call, stream, line FROM logs WHERE execution_pk = ? "
                         "AND n > ? ORDER BY n LIMIT ?", (pk, after, limit))  # fmt: skip
        return [{"n": n, "t": t, "call": c, "stream": s, "line": line}
                for n, t, c, s, line in rows]  # fmt: skip

    def _merge_json(
        self, pk: int, column: str, values: dict[str, Any], epoch: int | None = None
    ) -> None:
        assert column in ("metadata", "options")  # never user input: safe to format in
        with self._tx() as conn:
            self._check_epoch(conn, pk, epoch)
            row = conn.execute(f"SELECT {column} FROM executions WHERE pk = ?", (pk,)).fetchone()
            merged = {**(_loads(row[0]) or {}), **values} if row else values
            conn.execute(f"UPDATE executions SET {column} = ? WHERE pk = ?", (_dumps(merged), pk))

    # -- leases -------------------------------------------------------------------------------
    def acquire_lease(
        self, pk: int, owner: str, ttl: float, *, statuses: Iterable[str], set_status: str | None
    ) -> int | None:
        now = time.time()
        wanted = list(statuses)
        take = (
            "UPDATE executions SET lease_owner = ?, lease_expires = ?, epoch = epoch + 1, "
            "status = COALESCE(?, status), "
            "started_at = CASE WHEN ? = 'running' THEN COALESCE(started_at, ?) "
            "ELSE started_at END WHERE pk = ?"
        )
        args = [owner, now + ttl, set_status, set_status, now, pk]
        # Fast path, one statement: the lease is free, expired or already ours.
        with self._lock:
            row = self._conn.execute(
                take + f" AND status IN ({', '.join('?' * len(wanted))}) AND (lease_owner IS "
                "NULL OR lease_owner = ? OR lease_expires IS NULL OR lease_expires < ?) "
                "RETURNING epoch",
                [*args, *wanted, owner, now],
            ).fetchone()
        if row is not None:
            return int(row[0])
        # Held by someone else and unexpired (free only if its holder is a dead local process),
        # or asked again by its owner after it took effect.
        with self._tx() as conn:
            row = conn.execute(
                "SELECT status, lease_owner, lease_expires FROM executions WHERE pk = ?", (pk,)
            ).fetchone()
            # the same owner asking again after it took effect (an answer lost on the way
            # back through a server): taken, as asked
            again = row is not None and row[1] == owner and row[0] == set_status
            if row is None or (row[0] not in set(statuses) and not again):
                return None
            if row[1] not in (None, owner) and lease_is_live(row[1], row[2], now):
                return None
            epoch: int = conn.execute(take + " RETURNING epoch", args).fetchone()[0]
            return epoch

    def renew_leases(self, owner: str, ttl: float) -> dict[int, str]:
        with self._lock:
            rows = self._conn.execute(
                "UPDATE executions SET lease_expires = ? WHERE lease_owner = ? "
                "RETURNING pk, status",
                (time.time() + ttl, owner),
            ).fetchall()
        return {pk: status for pk, status in rows}

    def release_lease(self, pk: int, owner: str) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE executions SET lease_owner = NULL, lease_expires = NULL "
                "WHERE pk = ? AND lease_owner = ?",
                (pk, owner),
            )

    # -- journal ------------------------------------------------------------------------------
    def load_journal(self, pk: int) -> dict[str, Call]:
        rows = self._all(f"SELECT {_CALL_COLUMNS} FROM journal WHERE execution_pk = ?", (pk,))
        return {r[0]: _call(r) for r in rows}

    def put_call(self, pk: int, call: Call, *, epoch: int | None = None) -> None:
        row = _call_row(pk, call)
        with self._lock:
            if epoch is None:
                self._conn.execute(_INSERT_CALL, row)
                return
            written = self._conn.execute(_FENCED_CALL, (*row, pk, epoch)).rowcount
        if not written:
            self._refused(pk, epoch)

    def put_calls(self, pk: int, calls: Iterable[Call], *, epoch: int | None = None) -> None:
        rows = [_call_row(pk, c) for c in calls]
        with self._tx() as conn:
            self._check_epoch(conn, pk, epoch)
            conn.executemany(_INSERT_CALL, rows)

    def suspend_on_wait(self, pk: int, call: Call, *, epoch: int | None = None) -> None:
        with self._tx() as conn:
            self._check_epoch(conn, pk, epoch)
            conn.execute(
                _INSERT_CALL.replace("INSERT OR REPLACE", "INSERT OR IGNORE"), _call_row(pk, call)
            )
            conn.execute(
                "UPDATE executions SET status = 'waiting' WHERE pk = ? AND status = 'running'",
                (pk,),
            )

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
        with self._tx() as conn:
            self._check_epoch(conn, pk, epoch)
            row = conn.execute(
                "SELECT meta FROM journal WHERE execution_pk = ? AND call_id = ? "
                "AND kind = ? AND status = 'pending'",
                (pk, call_id, WAIT),
            ).fetchone()
            if row is None:
                return False
            merged = {**(_loads(row[0]) or {}), **(meta or {})}
            conn.execute(
                "UPDATE journal SET status = ?, serializer = ?, type_name = ?, "
                "value = ?, ended_at = ?, meta = ? WHERE execution_pk = ? AND call_id = ?",
                (status, serializer, type_name, value, time.time(), _dumps(merged), pk, call_id),
            )
            return True

    def pending_wait(self, pk: int) -> Call | None:
        row = self._one(
            f"SELECT {_CALL_COLUMNS} FROM journal WHERE execution_pk = ? AND kind = ? "
            "AND status = 'pending' ORDER BY seq LIMIT 1",
            (pk, WAIT),
        )
        return None if row is None else _call(row)

    def add_attempt(self, pk: int, attempt: Attempt, *, epoch: int | None = None) -> None:
        row = (pk, attempt.call_id, attempt.attempt, attempt.started_at, attempt.ended_at,
               attempt.error)  # fmt: skip
        with self._lock:
            if epoch is None:
                self._conn.execute("INSERT OR REPLACE INTO attempts VALUES (?,?,?,?,?,?)", row)
                return
            written = self._conn.execute(
                "INSERT OR REPLACE INTO attempts SELECT ?,?,?,?,?,? FROM executions "
                "WHERE pk = ? AND epoch = ?",
                (*row, pk, epoch),
            ).rowcount
        if not written:
            self._refused(pk, epoch)

    def attempts(self, pk: int) -> list[Attempt]:
        rows = self._all(
            "SELECT call_id, attempt, started_at, ended_at, error FROM attempts "
            "WHERE execution_pk = ? ORDER BY started_at",
            (pk,),
        )
        return [Attempt(*r) for r in rows]

    def find_calls(self, pk: int, name: str, kind: str | None = None) -> list[Call]:
        check_names(call_name=name, kind=kind)
        sql = (
            f"SELECT {_CALL_COLUMNS} FROM journal WHERE execution_pk = ? "
            "AND (call_id = ? OR (call_id >= ? AND call_id < ?))"
        )
        args: list[Any] = [pk, name, name + "#", name + "#\uffff"]
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        return sorted((_call(r) for r in self._all(sql + " ORDER BY seq", tuple(args))),
                      key=lambda c: c.seq)  # fmt: skip

    def get_call(self, pk: int, call_id: str) -> Call | None:
        check_names(call_id=call_id)
        row = self._one(
            f"SELECT {_CALL_COLUMNS} FROM journal WHERE execution_pk = ? AND call_id = ?",
            (pk, call_id),
        )
        return None if row is None else _call(row)

    def cache_lookup(self, key: bytes) -> tuple[str, Call] | None:
        cols = ", ".join(f"j.{c.strip()}" for c in _CALL_COLUMNS.split(","))
        row = self._one(
            f"SELECT e.id, {cols} FROM cache_index c JOIN journal j "
            "ON j.execution_pk = c.execution_pk AND j.call_id = c.call_id "
            "JOIN executions e ON e.pk = c.execution_pk "
            "WHERE c.key = ? AND j.status = 'completed'",
            (key,),
        )
        return None if row is None else (row[0], _call(row[1:]))

    def cache_put(self, key: bytes, pk: int, call_id: str, *, epoch: int | None = None) -> None:
        with self._lock:
            if epoch is None:
                self._conn.execute(
                    "INSERT OR REPLACE INTO cache_index VALUES (?,?,?)", (key, pk, call_id)
                )
                return
            written = self._conn.execute(
                "INSERT OR REPLACE INTO cache_index SELECT ?, pk, ? FROM executions "
                "WHERE pk = ? AND epoch = ?",
                (key, call_id, pk, epoch),
            ).rowcount
        if not written:
            self._refused(pk, epoch)

    # -- blobs --------------------------------------------------------------------------------
    def put_blob(self, blob: Blob) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO blobs VALUES (?,?,?)", (blob.sha256, blob.size, blob.uri)
            )

    def get_blob(self, sha256: str) -> Blob:
        row = self._one("SELECT sha256, size, uri FROM blobs WHERE sha256 = ?", (sha256,))
        if row is None:
            raise NotFound(f"no stored artifact with sha256 {sha256}")
        return Blob(*row)

    # -- stacks and components ----------------------------------------------------------------
    _COMPONENT_COLUMNS = "type, name, flavor, config, owner, created_at, updated_at"

    @staticmethod
    def _component(row: tuple[Any, ...]) -> ComponentRecord:
        return ComponentRecord(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6])

    @staticmethod
    def _upsert_component(conn: sqlite3.Connection, c: ComponentRecord, now: float) -> None:
        conn.execute(
            "INSERT INTO components (type, name, flavor, config, owner, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT (type, name) DO UPDATE SET "
            "flavor = excluded.flavor, config = excluded.config, "
            "owner = COALESCE(components.owner, excluded.owner), updated_at = excluded.updated_at",
            (c.type, c.name, c.flavor, json.dumps(c.config, sort_keys=True), c.owner, now, now),
        )

    def put_component(self, component: ComponentRecord) -> None:
        check_names(component_type=component.type, component_name=component.name,
                    flavor=component.flavor, owner=component.owner)  # fmt: skip
        with self._tx() as conn:
            self._upsert_component(conn, component, time.time())

    def get_component(self, component_type: str, name: str) -> ComponentRecord | None:
        check_names(component_type=component_type, component_name=name)
        row = self._one(
            f"SELECT {self._COMPONENT_COLUMNS} FROM components WHERE type = ? AND name = ?",
            (component_type, name),
        )
        return None if row is None else self._component(row)

    def list_components(self, component_type: str | None = None) -> list[ComponentRecord]:
        check_names(component_type=component_type)
        sql = f"SELECT {self._COMPONENT_COLUMNS} FROM components"
        args: tuple[Any, ...] = ()
        if component_type is not None:
            sql, args = sql + " WHERE type = ?", (component_type,)
        return [self._component(r) for r in self._all(sql + " ORDER BY type, name", args)]

    def stacks_using_component(self, component_type: str, name: str) -> list[str]:
        check_names(component_type=component_type, component_name=name)
        rows = self._all(
            "SELECT stack FROM stack_components WHERE type = ? AND component = ? ORDER BY stack",
            (component_type, name),
        )
        return [r[0] for r in rows]

    def delete_component(self, component_type: str, name: str) -> None:
        check_names(component_type=component_type, component_name=name)
        with self._tx() as conn:
            users = [r[0] for r in conn.execute(
                "SELECT stack FROM stack_components WHERE type = ? AND component = ? "
                "ORDER BY stack", (component_type, name)).fetchall()]  # fmt: skip
            if users:
                raise Conflict(
                    f"{component_type} {name!r} is used by stack(s) {', '.join(users)}",
                    hint="update or delete those stacks first (`kitaru stack update NAME ...`)",
                )
            cur = conn.execute(
                "DELETE FROM components WHERE type = ? AND name = ?", (component_type, name)
            )
            if cur.rowcount == 0:
                raise NotFound(f"no {component_type} named {name!r}",
                               hint="list components with `kitaru component list`")  # fmt: skip

    def put_stack(
        self,
        name: str,
        components: Mapping[str, str],
        new_components: Iterable[ComponentRecord] = (),
    ) -> None:
        check_names(stack_name=name, **{f"{t} component": c for t, c in components.items()})
        now = time.time()
        with self._tx() as conn:
            for component in new_components:
                self._upsert_component(conn, component, now)
            conn.execute(
                "INSERT INTO stacks (name, created_at, updated_at) VALUES (?,?,?) "
                "ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at",
                (name, now, now),
            )
            conn.execute("DELETE FROM stack_components WHERE stack = ?", (name,))
            conn.executemany(
                "INSERT INTO stack_components (stack, type, component) VALUES (?,?,?)",
                [(name, kind, component) for kind, component in components.items()],
            )

    def _stack(self, row: tuple[Any, ...]) -> StackRecord:
        links = self._all("SELECT type, component FROM stack_components WHERE stack = ?", (row[0],))
        return StackRecord(row[0], dict(links), row[1], row[2])

    def get_stack(self, name: str) -> StackRecord | None:
        check_names(stack_name=name)
        row = self._one("SELECT name, created_at, updated_at FROM stacks WHERE name = ?", (name,))
        return None if row is None else self._stack(row)

    def list_stacks(self) -> list[StackRecord]:
        rows = self._all("SELECT name, created_at, updated_at FROM stacks ORDER BY name")
        return [self._stack(r) for r in rows]

    def delete_stack(self, name: str) -> list[tuple[str, str]]:
        check_names(stack_name=name)
        with self._tx() as conn:
            if conn.execute("DELETE FROM stacks WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"stack {name!r} is not registered",
                               hint="list stacks with `kitaru stack list`")  # fmt: skip
            conn.execute("DELETE FROM stack_components WHERE stack = ?", (name,))
            orphans = conn.execute(
                "SELECT type, name FROM components c WHERE owner = ? AND NOT EXISTS ("
                "SELECT 1 FROM stack_components s WHERE s.type = c.type "
                "AND s.component = c.name) ORDER BY type, name",
                (name,),
            ).fetchall()
            conn.executemany("DELETE FROM components WHERE type = ? AND name = ?", orphans)
        return [(t, n) for t, n in orphans]

    # -- memory -------------------------------------------------------------------------------
    _MEMORY_COLUMNS = (
        "scope, scope_key, key, version, serializer, type_name, value, deleted, execution_id, "
        "call_id, created_at"
    )

    @staticmethod
    def _memory(row: tuple[Any, ...]) -> MemoryRecord:
        return MemoryRecord(row[0], row[1], row[2], row[3], row[4], row[5],
                            None if row[6] is None else bytes(row[6]), bool(row[7]), row[8],
                            row[9], row[10])  # fmt: skip

    def memory_put(
        self,
        scope: str,
        scope_key: str,
        key: str,
        *,
        serializer: str | None,
        type_name: str | None,
        value: bytes | None,
        deleted: bool = False,
        execution_id: str | None = None,
        call_id: str | None = None,
        if_version: int | None = None,
    ) -> MemoryRecord:
        check_names(memory_scope=scope, scope_name=scope_key, memory_key=key)
        with self._tx() as conn:
            latest = (
                conn.execute(
                    "SELECT MAX(version) FROM memory WHERE scope = ? AND scope_key = ? AND key = ?",
                    (scope, scope_key, key),
                ).fetchone()[0]
                or 0
            )
            if if_version is not None and latest != if_version:
                raise Conflict(
                    f"memory key {key!r} ({scope} {scope_key!r}) is at version {latest}, "
                    f"not {if_version}",
                    hint="read it again and retry with the current version",
                )
            rec = MemoryRecord(scope, scope_key, key, latest + 1, serializer, type_name, value,
                               deleted, execution_id, call_id, time.time())  # fmt: skip
            conn.execute(
                f"INSERT INTO memory ({self._MEMORY_COLUMNS}) VALUES ({', '.join('?' * 11)})",
                (scope, scope_key, key, rec.version, serializer, type_name, value, int(deleted),
                 execution_id, call_id, rec.created_at),
            )  # fmt: skip
        return rec

    def memory_get(
        self, scope: str, scope_key: str, key: str, version: int | None = None
    ) -> MemoryRecord | None:
        check_names(memory_scope=scope, scope_name=scope_key, memory_key=key)
        where = "scope = ? AND scope_key = ? AND key = ?"
        if version is None:
            sql = f"SELECT {self._MEMORY_COLUMNS} FROM memory WHERE {where} "
            row = self._one(sql + "ORDER BY version DESC LIMIT 1", (scope, scope_key, key))
        else:
            sql = f"SELECT {self._MEMORY_COLUMNS} FROM memory WHERE {where} AND version = ?"
            row = self._one(sql, (scope, scope_key, key, version))
        return None if row is None else self._memory(row)

    def memory_list(self, scope: str, scope_key: str) -> list[MemoryRecord]:
        check_names(memory_scope=scope, scope_name=scope_key)
        rows = self._all(
            f"SELECT {self._MEMORY_COLUMNS} FROM memory m WHERE scope = ? AND scope_key = ? "
            "AND version = (SELECT MAX(version) FROM memory l WHERE l.scope = m.scope "
            "AND l.scope_key = m.scope_key AND l.key = m.key) AND deleted = 0 ORDER BY key",
            (scope, scope_key),
        )
        return [self._memory(r) for r in rows]

    def memory_history(self, scope: str, scope_key: str, key: str) -> list[MemoryRecord]:
        check_names(memory_scope=scope, scope_name=scope_key, memory_key=key)
        rows = self._all(
            f"SELECT {self._MEMORY_COLUMNS} FROM memory WHERE scope = ? AND scope_key = ? "
            "AND key = ? ORDER BY version",
            (scope, scope_key, key),
        )
        return [self._memory(r) for r in rows]

    def memory_scopes(self) -> list[tuple[str, str, int]]:
        rows = self._all(
            "SELECT scope, scope_key, SUM(CASE WHEN deleted = 0 THEN 1 ELSE 0 END) FROM memory m "
            "WHERE version = (SELECT MAX(version) FROM memory l WHERE l.scope = m.scope "
            "AND l.scope_key = m.scope_key AND l.key = m.key) "
            "GROUP BY scope, scope_key ORDER BY scope, scope_key"
        )
        return [(r[0], r[1], int(r[2] or 0)) for r in rows]
