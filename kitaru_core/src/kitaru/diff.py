"""Comparing stored values and executions: pure functions, no store access.

Values are compared in their stored form (serializer + bytes), so nothing is ever unpickled:
strings give a unified text diff, JSON-like values (json, pydantic, dataclass) a structural
diff with JSON-pointer-like paths, everything else (bytes, pickle, plugin formats) is opaque
and compared by sha256 and size.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kitaru.models import CallDiff, ValueChange, ValueDiff

#: serializers whose bytes are JSON text
JSON_SERIALIZERS = ("json", "pydantic", "dataclass")

_MISSING = object()


@dataclass(frozen=True)
class StoredValue:
    """A value as stored: its serializer, type, raw bytes (None when unreadable), sha256."""

    serializer: str
    type_name: str | None
    data: bytes | None
    sha256: str | None = None
    size: int | None = None

    @classmethod
    def of(cls, serializer: str, type_name: str | None, data: bytes) -> StoredValue:
        return cls(serializer, type_name, data, hashlib.sha256(data).hexdigest(), len(data))

    @property
    def digest(self) -> str | None:
        if self.sha256 is not None:
            return self.sha256
        return None if self.data is None else hashlib.sha256(self.data).hexdigest()

    @property
    def type_label(self) -> str:
        return self.type_name or self.serializer


def _text(v: StoredValue) -> str | None:
    if v.serializer != "str" or v.data is None:
        return None
    try:
        return v.data.decode()
    except UnicodeDecodeError:
        return None


def _json(v: StoredValue) -> Any:
    if v.serializer not in JSON_SERIALIZERS or v.data is None:
        return _MISSING
    try:
        return json.loads(v.data)
    except ValueError:
        return _MISSING


def pointer(parts: Sequence[str | int]) -> str:
    """A JSON pointer for ``parts`` ("" for the whole value)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def structural_changes(old: Any, new: Any, path: tuple[str | int, ...] = ()) -> list[ValueChange]:
    """Changes from ``old`` to ``new`` (JSON-like data): changed leaves, added and removed keys
    or list items, each with its path."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[ValueChange] = []
        for key in old:
            if key not in new:
                out.append(ValueChange(pointer((*path, key)), "removed", old=old[key]))
            else:
                out.extend(structural_changes(old[key], new[key], (*path, key)))
        for key in new:
            if key not in old:
                out.append(ValueChange(pointer((*path, key)), "added", new=new[key]))
        return out
    if isinstance(old, list) and isinstance(new, list):
        out = []
        for i in range(min(len(old), len(new))):
            out.extend(structural_changes(old[i], new[i], (*path, i)))
        for i in range(len(new), len(old)):
            out.append(ValueChange(pointer((*path, i)), "removed", old=old[i]))
        for i in range(len(old), len(new)):
            out.append(ValueChange(pointer((*path, i)), "added", new=new[i]))
        return out
    if type(old) is type(new) and old == new:
        return []
    return [ValueChange(pointer(path), "changed", old=old, new=new)]


def text_lines(old: str, new: str, label_a: str = "A", label_b: str = "B") -> list[str]:
    """A unified diff of two strings, one entry per line (no trailing newlines)."""
    return list(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), fromfile=label_a, tofile=label_b, lineterm=""
        )
    )


def diff_values(a: StoredValue, b: StoredValue, label: str = "") -> ValueDiff | None:
    """How ``b`` differs from ``a``; None when they are the same value."""
    da, db = a.digest, b.digest
    if da is not None and da == db and a.serializer == b.serializer:
        return None
    base = ValueDiff(
        kind="opaque", a_size=a.size, b_size=b.size, a_sha256=da, b_sha256=db,
        a_type=a.type_label, b_type=b.type_label,
    )  # fmt: skip
    ta, tb = _text(a), _text(b)
    if ta is not None and tb is not None:
        if ta == tb:
            return None
        base.kind = "text"
        where = f"/{label}" if label else ""
        base.lines = text_lines(ta, tb, f"A{where}", f"B{where}")
        return base
    ja = ta if ta is not None else _json(a)
    jb = tb if tb is not None else _json(b)
    if ja is not _MISSING and jb is not _MISSING:
        changes = structural_changes(ja, jb)
        if not changes and a.type_name == b.type_name:
            return None
        base.kind = "structural"
        base.changes = changes or [ValueChange("", "changed", old=a.type_label, new=b.type_label)]
        return base
    return base


def diff_inputs(a: dict[str, Any], b: dict[str, Any]) -> list[ValueChange]:
    """Structural changes between two executions' flow inputs (already made JSON-like)."""
    return structural_changes(a, b)


def merge_order(a_ids: Sequence[str], b_ids: Sequence[str]) -> list[str]:
    """The union of two call orders: A's order, each call only in B placed right after the
    call that precedes it in B."""
    out = list(a_ids)
    seen = set(out)
    prev: str | None = None
    for cid in b_ids:
        if cid not in seen:
            at = 0 if prev is None else out.index(prev) + 1
            out.insert(at, cid)
            seen.add(cid)
        prev = cid
    return out


def diff_calls(
    order: Iterable[str],
    a: dict[str, tuple[str, StoredValue | None]],
    b: dict[str, tuple[str, StoredValue | None]],
    preview: Any = None,
) -> list[CallDiff]:
    """One entry per call id in ``order``; ``a``/``b`` map call id -> (status, value)."""
    out = []
    for cid in order:
        out.append(diff_call(cid, a.get(cid), b.get(cid), preview))
    return out


def diff_call(
    call_id: str,
    a: tuple[str, StoredValue | None] | None,
    b: tuple[str, StoredValue | None] | None,
    preview: Any = None,
) -> CallDiff:
    def pv(v: StoredValue | None) -> str | None:
        if v is None or preview is None:
            return None
        if v.data is None:
            return f"<{v.size} bytes, stored as {(v.sha256 or '')[:12]}>"
        return str(preview(v.serializer, v.data))

    if a is None and b is None:
        return CallDiff(call_id, "same")
    if a is None:
        assert b is not None
        return CallDiff(call_id, "only in B", b_status=b[0], b_preview=pv(b[1]))
    if b is None:
        return CallDiff(call_id, "only in A", a_status=a[0], a_preview=pv(a[1]))
    (sa, va), (sb, vb) = a, b
    entry = CallDiff(call_id, "same", sa, sb, pv(va), pv(vb))
    if va is not None and vb is not None:
        entry.diff = diff_values(va, vb, call_id)
    elif (va is None) != (vb is None):
        present = va if va is not None else vb
        assert present is not None
        entry.diff = ValueDiff(
            kind="opaque",
            a_size=None if va is None else va.size,
            b_size=None if vb is None else vb.size,
            a_sha256=None if va is None else va.digest,
            b_sha256=None if vb is None else vb.digest,
        )
    if entry.diff is not None or sa != sb:
        entry.status = "changed"
    return entry


def change_line(c: ValueChange) -> str:
    """``/items/2: 3 -> 4``, ``/k: added 1``, ``/k: removed 1``."""
    where = c.path or "/"
    if c.op == "added":
        return f"{where}: added {_short(c.new)}"
    if c.op == "removed":
        return f"{where}: removed {_short(c.old)}"
    return f"{where}: {_short(c.old)} -> {_short(c.new)}"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
