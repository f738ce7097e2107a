"""``kitaru.memory``: versioned key-value state that outlives executions.

Scopes: ``namespace`` (shared and named, ``"default"`` unless given), ``flow`` (per flow name) and
``execution`` (per execution). Inside a flow the default scope is ``flow`` (the current flow);
outside, ``namespace``. Every :func:`set` writes a new version with its provenance (execution id
and call id when inside a flow, time); :func:`delete` writes a tombstone that reads as missing but
stays in :func:`history`. ``set(..., if_version=n)`` is compare-and-set: it raises
:class:`kitaru.Conflict` unless the latest version is ``n`` (0 for a key never written).

Inside a flow, every ``set``, ``delete`` and ``get`` is a journal record (call ids ``memory``,
``memory#2``, ...): on resume a write whose record exists is not written again and a read returns
the recorded value, so resume and replay see the same values.
"""

from __future__ import annotations

import builtins
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from kitaru.errors import NotFound, UsageError
from kitaru.runtime.context import ExecutionContext, current_execution
from kitaru.store.records import MEMORY, Call
from kitaru.validation import check_text

if TYPE_CHECKING:
    from kitaru.store.base import MemoryRecord, MetadataStore

SCOPES = ("namespace", "flow", "execution")
DEFAULT_NAMESPACE = "default"

__all__ = ["SCOPES", "MemoryVersion", "delete", "get", "history", "list", "set"]


@dataclass(frozen=True)
class MemoryVersion:
    """One version of a memory key, as :func:`history` lists it."""

    scope: str
    scope_key: str
    key: str
    version: int
    preview: str | None
    deleted: bool
    execution_id: str | None
    call_id: str | None
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- resolution ------------------------------------------------------------------------------------
def _resolve(
    store: MetadataStore,
    ctx: ExecutionContext | None,
    scope: str | None,
    namespace: str | None,
    flow: str | None,
    execution: str | None,
) -> tuple[str, str]:
    """``(scope, scope_key)`` for the given arguments and the current execution."""
    given = {"namespace": namespace, "flow": flow, "execution": execution}
    for where, name in given.items():
        check_text(name, f"{where} name")
    named = [s for s, v in given.items() if v is not None]
    if len(named) > 1:
        raise UsageError("give at most one of namespace=, flow= and execution=")
    if scope is None:
        scope = named[0] if named else ("flow" if ctx is not None else "namespace")
    if scope not in SCOPES:
        raise UsageError(f"unknown memory scope {scope!r}", hint="scopes: " + ", ".join(SCOPES))
    if named and named[0] != scope:
        raise UsageError(f"{named[0]}= does not apply to scope={scope!r}")
    if scope == "namespace":
        key = namespace or DEFAULT_NAMESPACE
    elif scope == "flow":
        if flow is None and ctx is None:
            raise UsageError("scope='flow' outside a flow needs flow=", hint="e.g. flow='research'")
        key = flow if flow is not None else ctx.execution.flow  # type: ignore[union-attr]
    elif execution is not None:
        key = store.get_execution(execution).id
    elif ctx is not None:
        key = ctx.execution.id
    else:
        raise UsageError("scope='execution' outside a flow needs execution=<id>")
    if not key:
        raise UsageError(f"the {scope} name must be non-empty")
    return scope, key


def _context() -> tuple[MetadataStore, ExecutionContext | None]:
    ctx = current_execution.get()
    if ctx is not None:
        return ctx.store, ctx
    from kitaru.store import default_store

    return default_store(), None


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise UsageError(f"memory key must be a non-empty string, not {key!r}")
    check_text(key, "memory key")


def _encode(value: Any) -> tuple[str, str | None, bytes]:
    from kitaru.config import settings
    from kitaru.runtime.serialization import serialize

    s = serialize(value)
    limit = settings().inline_limit
    if len(s.data) > limit:
        raise UsageError(
            f"memory value is {len(s.data)} bytes, over the {limit}-byte limit",
            hint="store large values with kitaru.save() and keep a reference in memory, "
            "or raise KITARU_INLINE_LIMIT",
        )
    return s.serializer, s.type_name, s.data


def _decode(serializer: str | None, type_name: str | None, data: bytes | None) -> Any:
    from kitaru.runtime.serialization import deserialize

    return deserialize(serializer or "json", type_name, data or b"")


# -- journal -----------------------------------------------------------------------------------------
def _where(scope: str, scope_key: str) -> str | None:
    """The scope key as compared across replay: an execution scope is the execution's own."""
    return None if scope == "execution" else scope_key


def _recorded(
    ctx: ExecutionContext, call_id: str, op: str, scope: str, scope_key: str, key: str
) -> tuple[Call | None, str | None]:
    """This call's record from an earlier pass (resume) or, for a replay, from the source
    (then with the source's execution id)."""

    def matches(rec: Call | None, own: bool) -> bool:
        if rec is None or rec.kind != MEMORY or rec.status != "completed":
            return False
        m = rec.meta or {}
        where = m.get("scope_key") if own else _where(m.get("scope", ""), m.get("scope_key", ""))
        mine = scope_key if own else _where(scope, scope_key)
        return bool(
            m.get("op") == op and m.get("scope") == scope and m.get("key") == key and where == mine
        )

    rec = ctx.journal.get(call_id)
    if matches(rec, True):
        return rec, None
    replay = ctx.replay
    if replay is not None and call_id not in replay.forced:
        src = replay.journal.get(call_id)
        if matches(src, False):
            return src, replay.source_id
    return None, None


Stored = tuple[str | None, str | None, bytes | None]


def _record(
    ctx: ExecutionContext, call_id: str, started: float, stored: Stored, meta: dict[str, Any]
) -> None:
    ser, type_name, value = stored
    ctx.record(Call(call_id, MEMORY, "completed", ctx.next_seq(), None, ser, type_name, value,
                    started_at=started, ended_at=time.time(), meta=meta))  # fmt: skip


# -- public API -------------------------------------------------------------------------------------
def _write(
    key: str, value: Any, *, deleted: bool, scope: str | None, namespace: str | None,
    flow: str | None, execution: str | None, if_version: int | None,
) -> int:  # fmt: skip
    _check_key(key)
    if if_version is not None and (not isinstance(if_version, int) or if_version < 0):
        raise UsageError(f"if_version must be a version number >= 0, not {if_version!r}")
    store, ctx = _context()
    scope, scope_key = _resolve(store, ctx, scope, namespace, flow, execution)
    encoded: Stored = (None, None, None) if deleted else _encode(value)
    op = "delete" if deleted else "set"
    if ctx is None:
        if deleted:
            _require_live(store, scope, scope_key, key)
        return store.memory_put(scope, scope_key, key, serializer=encoded[0],
                                type_name=encoded[1], value=encoded[2], deleted=deleted,
                                if_version=if_version).version  # fmt: skip
    call_id = ctx.next_call_id("memory")
    started = time.time()
    rec, source = _recorded(ctx, call_id, op, scope, scope_key, key)
    if rec is not None and (source is None or rec.value == encoded[2]):
        if source is not None:  # the same write in the replay source: not written again
            meta = {**(rec.meta or {}), "cached_from": source}
            _record(ctx, call_id, started, (rec.serializer, rec.type_name, rec.value), meta)
        return int((rec.meta or {})["version"])
    if deleted:
        _require_live(store, scope, scope_key, key)
    ctx.check_runnable()  # shared state: never written by a runner that lost its lease
    written = store.memory_put(scope, scope_key, key, serializer=encoded[0], type_name=encoded[1],
                               value=encoded[2], deleted=deleted, execution_id=ctx.execution.id,
                               call_id=call_id, if_version=if_version)  # fmt: skip
    meta = {"op": op, "scope": scope, "scope_key": scope_key, "key": key,
            "version": written.version}  # fmt: skip
    _record(ctx, call_id, started, encoded, meta)
    return written.version


def _require_live(store: MetadataStore, scope: str, scope_key: str, key: str) -> None:
    latest = store.memory_get(scope, scope_key, key)
    if latest is None or latest.deleted:
        raise NotFound(f"memory key {key!r} ({scope} {scope_key!r}) does not exist")


def set(
    key: str,
    value: Any,
    *,
    scope: str | None = None,
    namespace: str | None = None,
    flow: str | None = None,
    execution: str | None = None,
    if_version: int | None = None,
) -> int:
    """Write ``value`` as the next version of ``key``; returns the new version number.

    ``if_version=n`` writes only if the latest version is ``n`` (0: the key was never written),
    else raises :class:`kitaru.Conflict`.
    """
    return _write(key, value, deleted=False, scope=scope, namespace=namespace, flow=flow,
                  execution=execution, if_version=if_version)  # fmt: skip


def delete(
    key: str,
    *,
    scope: str | None = None,
    namespace: str | None = None,
    flow: str | None = None,
    execution: str | None = None,
    if_version: int | None = None,
) -> int:
    """Write a tombstone version: ``key`` reads as missing but stays in :func:`history`.
    Returns the tombstone's version; NotFound if the key has no live value."""
    return _write(key, None, deleted=True, scope=scope, namespace=namespace, flow=flow,
                  execution=execution, if_version=if_version)  # fmt: skip


def get(
    key: str,
    default: Any = None,
    *,
    version: int | None = None,
    scope: str | None = None,
    namespace: str | None = None,
    flow: str | None = None,
    execution: str | None = None,
) -> Any:
    """The latest live value of ``key`` (or exactly ``version``), else ``default``."""
    _check_key(key)
    store, ctx = _context()
    scope, scope_key = _resolve(store, ctx, scope, namespace, flow, execution)
    if ctx is None:
        found = _read(store, scope, scope_key, key, version)
        return default if found is None else _decode(*found[1])
    call_id = ctx.next_call_id("memory")
    started = time.time()
    rec, source = _recorded(ctx, call_id, "get", scope, scope_key, key)
    if rec is not None and (rec.meta or {}).get("requested") == version:
        if source is not None:  # a replay reads what its source read
            meta = {**(rec.meta or {}), "cached_from": source}
            _record(ctx, call_id, started, (rec.serializer, rec.type_name, rec.value), meta)
        if not (rec.meta or {}).get("found"):
            return default
        return _decode(rec.serializer, rec.type_name, rec.value)
    found = _read(store, scope, scope_key, key, version)
    meta = {"op": "get", "scope": scope, "scope_key": scope_key, "key": key,
            "requested": version, "found": found is not None,
            "version": None if found is None else found[0]}  # fmt: skip
    _record(ctx, call_id, started, (None, None, None) if found is None else found[1], meta)
    return default if found is None else _decode(*found[1])


def _read(
    store: MetadataStore, scope: str, scope_key: str, key: str, version: int | None
) -> tuple[int, Stored] | None:
    rec = store.memory_get(scope, scope_key, key, version)
    if rec is None or rec.deleted:
        return None
    return rec.version, (rec.serializer, rec.type_name, rec.value)


def entries(
    *,
    scope: str | None = None,
    namespace: str | None = None,
    flow: str | None = None,
    execution: str | None = None,
) -> builtins.list[MemoryVersion]:
    """The latest version of every live key in a scope, by key."""
    store, ctx = _context()
    scope, scope_key = _resolve(store, ctx, scope, namespace, flow, execution)
    return [_version(r) for r in store.memory_list(scope, scope_key)]


def list(
    *,
    scope: str | None = None,
    namespace: str | None = None,
    flow: str | None = None,
    execution: str | None = None,
) -> builtins.list[str]:
    """The live (not deleted) keys of a scope, sorted."""
    found = entries(scope=scope, namespace=namespace, flow=flow, execution=execution)
    return [e.key for e in found]


def history(
    key: str,
    *,
    scope: str | None = None,
    namespace: str | None = None,
    flow: str | None = None,
    execution: str | None = None,
) -> builtins.list[MemoryVersion]:
    """Every version of ``key``, oldest first (tombstones included, ``deleted=True``)."""
    _check_key(key)
    store, ctx = _context()
    scope, scope_key = _resolve(store, ctx, scope, namespace, flow, execution)
    return [_version(r) for r in store.memory_history(scope, scope_key, key)]


def scopes() -> builtins.list[tuple[str, str, int]]:
    """``(scope, name, live key count)`` of every scope that holds memory."""
    store, _ = _context()
    return store.memory_scopes()


def _version(r: MemoryRecord) -> MemoryVersion:
    from kitaru.runtime.serialization import preview

    shown = None if r.deleted else preview(r.serializer or "json", r.value or b"")
    return MemoryVersion(r.scope, r.scope_key, r.key, r.version, shown, r.deleted,
                         r.execution_id, r.call_id, r.created_at)  # fmt: skip
