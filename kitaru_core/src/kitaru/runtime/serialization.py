"""Typed serializers for checkpoint outputs, wait inputs, saved artifacts and fingerprints.

Each value is stored with the name of the serializer that wrote it (and, for classes, the class's
import path), so it reads back as the same type in another process. Order of preference:
``str``/``bytes`` (raw), ``json`` (JSON-native values that round-trip exactly), ``pydantic`` models,
``dataclass`` instances, serializers added by plugins, and ``pickle`` only as a last resort that is
recorded on the artifact (and can be forbidden with ``KITARU_ALLOW_PICKLE=0``).

pydantic is imported only when a value needs it, so plain flows never pay for it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import pickle
import sys
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

from kitaru.errors import UsageError
from kitaru.imports import import_object


class Serialized(NamedTuple):
    serializer: str
    type_name: str | None
    data: bytes


class Serializer(NamedTuple):
    """A plugin-provided serializer: ``handles(value)`` decides, the rest converts."""

    name: str
    handles: Callable[[Any], bool]
    dumps: Callable[[Any], bytes]
    loads: Callable[[bytes, str | None], Any]


_JSON_SCALARS = (str, int, float, bool, type(None))
_extra: list[Serializer] = []
_plugins_loaded = [False]
_pickle_warned: set[str] = set()


def _plugin_serializers() -> list[Serializer]:
    """Serializers from the ``kitaru_serializers`` hook, loaded the first time a value needs
    more than the builtin ones (plain values never load plugins)."""
    if not _plugins_loaded[0]:
        _plugins_loaded[0] = True
        from kitaru.plugins.manager import plugin_manager

        for ser in plugin_manager().serializers():
            if ser not in _extra:
                register_serializer(ser)
    return _extra


def register_serializer(serializer: Serializer) -> None:
    """Add a serializer (used by the ``kitaru_serializers`` plugin hook). Later wins."""
    _extra.insert(0, serializer)


def type_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def import_type(path: str) -> Any:
    return import_object(path)


def is_json_native(value: Any) -> bool:
    """True if ``json.loads(json.dumps(value)) == value`` with the same types."""
    t = type(value)
    if t in _JSON_SCALARS:
        return True
    if t is list:
        return all(is_json_native(v) for v in value)
    if t is dict:
        return all(type(k) is str and is_json_native(v) for k, v in value.items())
    return False


def _pydantic_model(value: Any) -> bool:
    pyd = sys.modules.get("pydantic")
    return pyd is not None and isinstance(value, pyd.BaseModel)


def _is_dataclass_instance(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _unstorable(exc: UnicodeEncodeError) -> UsageError:
    bad = exc.object[exc.start : exc.end]
    return UsageError(
        f"a value holds {bad!r}, an unpaired surrogate: no store can keep it",
        hint="clean the text first (e.g. text.encode('utf-8', 'replace').decode())",
    )


def serialize(value: Any) -> Serialized:
    """Turn ``value`` into bytes plus what is needed to read it back."""
    t = type(value)
    if t is str:
        try:
            return Serialized("str", None, value.encode())
        except UnicodeEncodeError as exc:
            raise _unstorable(exc) from None
    if t is bytes:
        return Serialized("bytes", None, value)
    if t in _JSON_SCALARS or ((t is list or t is dict) and is_json_native(value)):
        return Serialized("json", None, _compact(value).encode())
    if _pydantic_model(value):
        return Serialized("pydantic", type_path(t), value.model_dump_json().encode())
    for ser in _plugin_serializers():
        if ser.handles(value):
            return Serialized(ser.name, type_path(t), ser.dumps(value))
    if _is_dataclass_instance(value):
        from pydantic import TypeAdapter

        return Serialized("dataclass", type_path(t), TypeAdapter(t).dump_json(value))
    return _pickle(value)


def _pickle(value: Any) -> Serialized:
    from kitaru.config import settings

    name = type_path(type(value))
    if not settings().allow_pickle:
        raise UsageError(
            f"cannot store a value of type {name}: no serializer handles it and pickle is disabled",
            hint="return JSON-native data, a pydantic model or a dataclass, "
            "or unset KITARU_ALLOW_PICKLE=0",
        )
    if name not in _pickle_warned:
        _pickle_warned.add(name)
        warnings.warn(
            f"kitaru: storing {name} with pickle (no typed serializer handles it); "
            "prefer a pydantic model or dataclass",
            stacklevel=4,
        )
    return Serialized("pickle", name, pickle.dumps(value, protocol=5))


def deserialize(serializer: str, type_name: str | None, data: bytes) -> Any:
    """Read back a value written by :func:`serialize`."""
    if serializer == "str":
        return bytes(data).decode()
    if serializer == "bytes":
        return bytes(data)
    if serializer == "json":
        return json.loads(data)
    if serializer == "pickle":
        return pickle.loads(data)
    if serializer == "pydantic":
        return import_type(type_name or "").model_validate_json(data)
    if serializer == "dataclass":
        from pydantic import TypeAdapter

        return TypeAdapter(import_type(type_name or "")).validate_json(data)
    for ser in _plugin_serializers():
        if ser.name == serializer:
            return ser.loads(bytes(data), type_name)
    raise UsageError(
        f"no serializer named {serializer!r} is available to read this value",
        hint="install the plugin that provides it (see `kitaru plugin list`)",
    )


def _fingerprint_default(obj: Any) -> Any:
    if _pydantic_model(obj):
        return {"__model__": type_path(type(obj)), "v": obj.model_dump(mode="json")}
    if _is_dataclass_instance(obj):
        return {"__dc__": type_path(type(obj)), "v": dataclasses.asdict(obj)}
    if isinstance(obj, bytes | bytearray):
        return {"__bytes__": hashlib.sha256(obj).hexdigest()}
    if isinstance(obj, set | frozenset):
        return {"__set__": sorted(json.dumps(v, default=_fingerprint_default) for v in obj)}
    if isinstance(obj, tuple):
        return list(obj)
    return {"__pickle__": hashlib.sha256(pickle.dumps(obj, protocol=5)).hexdigest()}


_canonical = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), default=_fingerprint_default
).encode
_compact = json.JSONEncoder(separators=(",", ":")).encode


def canonical_bytes(value: Any) -> bytes:
    """A stable byte form of ``value`` for fingerprints (not for storage)."""
    return _canonical(value).encode()


def fingerprint(value: Any) -> bytes:
    """sha256 digest (32 bytes) of the canonical form of ``value``."""
    return hashlib.sha256(canonical_bytes(value)).digest()


def validate_as(value: Any, annotation: Any) -> Any:
    """Validate (and coerce) ``value`` against a type annotation with pydantic."""
    if annotation is None or annotation is Any:
        return value
    from pydantic import TypeAdapter

    return TypeAdapter(annotation).validate_python(value)


def validation_message(exc: Exception, limit: int = 3) -> str:
    """A validation failure of :func:`validate_as` as one short line: each error's location,
    message and input, without pydantic's header and documentation links. Any other
    exception: its text on one line."""
    errors = getattr(exc, "errors", None)
    try:
        items = errors(include_url=False) if callable(errors) else None
    except Exception:  # not pydantic's
        items = None
    if not items:
        return " ".join(str(exc).split())
    parts = []
    for err in items[:limit]:
        where = ".".join(str(p) for p in err.get("loc") or ())
        got = repr(err.get("input"))
        got = got if len(got) <= 60 else got[:59] + "…"
        parts.append(f"{where + ': ' if where else ''}{err.get('msg')} (got {got})")
    more = len(items) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def preview(serializer: str, data: bytes, limit: int = 80) -> str:
    """A short, human-readable preview of stored bytes (never unpickles)."""
    if serializer == "bytes" or serializer == "pickle":
        return f"<{len(data)} bytes>"
    try:
        text = bytes(data).decode()
    except UnicodeDecodeError:
        return f"<{len(data)} bytes>"
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def encode_input(value: Any) -> list[Any]:
    """A flow input as recorded on its execution: ``[serializer, type, text]``."""
    s = serialize(value)
    data = s.data.decode() if s.serializer in ("str", "json") else base64.b64encode(s.data).decode()
    return [s.serializer, s.type_name, data]


def decode_input(entry: list[Any]) -> Any:
    serializer, type_name, data = entry
    raw = data.encode() if serializer in ("str", "json") else base64.b64decode(data)
    return deserialize(serializer, type_name, raw)
