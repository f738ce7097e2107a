"""Store records from SQL rows, read by column name (never by position), and back.

A row is anything that answers ``row["column"]``: ``sqlite3.Row`` on SQLite, the store's own
row type on PostgreSQL (:mod:`kitaru.store.postgres`). Queries select the columns listed here,
in any order; a query may select more (a join's ``execution_id``), never fewer.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from kitaru.store.base import ComponentRecord, MemoryRecord
from kitaru.store.deployments import Deployment
from kitaru.store.records import Call, Execution
from kitaru.validation import check_names

EXEC_COLUMNS = (
    "pk, id, flow, status, module, qualname, source_file, root, inputs, created_at, started_at, "
    "ended_at, result_ser, result_type, result_value, result_ref, error, lease_owner, "
    "lease_expires, replay_of, replay_from, overrides, metadata, options, epoch, queue, queue_key, "
    "priority, dedup_key, dequeued_at"
)
CALL_NAMES = ("call_id", "kind", "status", "seq", "fingerprint", "serializer", "type_name",
              "value", "ref", "started_at", "ended_at", "attempts", "meta")  # fmt: skip
CALL_COLUMNS = ", ".join(CALL_NAMES)
COMPONENT_COLUMNS = "type, name, flavor, config, owner, created_at, updated_at"
MEMORY_COLUMNS = (
    "scope, scope_key, key, version, serializer, type_name, value, deleted, execution_id, "
    "call_id, created_at"
)
DEPLOYMENT_COLUMNS = ("flow, version, module, qualname, source_file, root, stack, image, "
                      "parameters, options, code_hash, created_at")  # fmt: skip


def new_execution_id() -> str:
    """A fresh execution id: 12 hex digits."""
    return secrets.token_hex(6)


def dumps(value: Any) -> str | None:
    """JSON text for a column (compact; None stays NULL)."""
    return None if value is None else json.dumps(value, separators=(",", ":"))


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def execution(r: Any) -> Execution:
    ser = r["result_ser"]
    return Execution(
        pk=r["pk"], id=r["id"], flow=r["flow"], status=r["status"], module=r["module"],
        qualname=r["qualname"], source_file=r["source_file"], root=r["root"],
        inputs=json.loads(r["inputs"]), created_at=r["created_at"], started_at=r["started_at"],
        ended_at=r["ended_at"],
        result=None if ser is None else (ser, r["result_type"], _bytes(r["result_value"]),
                                         r["result_ref"]),
        error=loads(r["error"]), lease_owner=r["lease_owner"], lease_expires=r["lease_expires"],
        replay_of=r["replay_of"], replay_from=r["replay_from"], overrides=loads(r["overrides"]),
        metadata=loads(r["metadata"]) or {}, options=loads(r["options"]) or {},
        epoch=int(r["epoch"]), queue=r["queue"], queue_key=r["queue_key"],
        priority=int(r["priority"]), dedup_key=r["dedup_key"], dequeued_at=r["dequeued_at"],
    )  # fmt: skip


def call(r: Any) -> Call:
    return Call(
        call_id=r["call_id"], kind=r["kind"], status=r["status"], seq=r["seq"],
        fingerprint=_bytes(r["fingerprint"]), serializer=r["serializer"],
        type_name=r["type_name"], value=_bytes(r["value"]), ref=r["ref"],
        started_at=r["started_at"], ended_at=r["ended_at"], attempts=r["attempts"],
        meta=loads(r["meta"]),
    )  # fmt: skip


def call_row(pk: int, c: Call) -> tuple[Any, ...]:
    """Values for ``(execution_pk, CALL_COLUMNS)``; every journal write comes through here."""
    check_names(call_id=c.call_id)
    return (
        pk, c.call_id, c.kind, c.status, c.seq, c.fingerprint, c.serializer, c.type_name,
        c.value, c.ref, c.started_at, c.ended_at, c.attempts, dumps(c.meta),
    )  # fmt: skip


def component(r: Any) -> ComponentRecord:
    return ComponentRecord(
        type=r["type"], name=r["name"], flavor=r["flavor"], config=json.loads(r["config"]),
        owner=r["owner"], created_at=r["created_at"], updated_at=r["updated_at"],
    )  # fmt: skip


def memory(r: Any) -> MemoryRecord:
    return MemoryRecord(
        scope=r["scope"], scope_key=r["scope_key"], key=r["key"], version=r["version"],
        serializer=r["serializer"], type_name=r["type_name"], value=_bytes(r["value"]),
        deleted=bool(r["deleted"]), execution_id=r["execution_id"], call_id=r["call_id"],
        created_at=r["created_at"],
    )  # fmt: skip


def deployment(r: Any, tags: list[str]) -> Deployment:
    return Deployment(
        flow=r["flow"], version=int(r["version"]), module=r["module"], qualname=r["qualname"],
        source_file=r["source_file"], root=r["root"], stack=r["stack"], image=r["image"],
        parameters=json.loads(r["parameters"]), options=json.loads(r["options"]),
        code_hash=r["code_hash"], created_at=r["created_at"], tags=tags,
    )  # fmt: skip


def deployment_row(d: Deployment, version: int) -> tuple[Any, ...]:
    """Values for ``DEPLOYMENT_COLUMNS``."""
    return (d.flow, version, d.module, d.qualname, d.source_file, d.root, d.stack, d.image,
            json.dumps(d.parameters), json.dumps(d.options), d.code_hash, d.created_at)  # fmt: skip


def _bytes(value: Any) -> bytes | None:
    """BLOB/BYTEA as bytes (a driver may hand out a memoryview)."""
    return value if value is None or isinstance(value, bytes) else bytes(value)
