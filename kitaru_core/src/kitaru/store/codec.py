"""JSON encoding of metadata-store arguments and results, for the store RPC of the server.

Store records (dataclasses), bytes and tuples do not survive plain JSON; they are tagged:
``{"__t": "Call", ...fields}``, ``{"__b": "<base64>"}``, ``{"__tuple": [...]}``, and a mapping
whose keys are not all strings (``renew_leases`` answers ``{pk: status}``) as
``{"__map": [[key, value], ...]}``, so its keys come back as they were. Only the record
types listed here can be decoded, so a request can never make the server build anything else.
Errors travel as ``{"error": {"type", "message", "hint"}}`` and are raised again on the client as
the same :class:`~kitaru.errors.KitaruError` subclass. Standard library only: the client imports
this module.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

from kitaru import errors
from kitaru.store.base import ComponentRecord, MemoryRecord, StackRecord
from kitaru.store.deployments import Deployment
from kitaru.store.queues import QueueSpec
from kitaru.store.records import Attempt, Blob, Call, Execution
from kitaru.store.schedules import Schedule

RECORDS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        Execution,
        Call,
        Attempt,
        Blob,
        ComponentRecord,
        StackRecord,
        MemoryRecord,
        Deployment,
        Schedule,
        QueueSpec,
    )
}

ERRORS: dict[str, type[errors.KitaruError]] = {
    cls.__name__: cls
    for cls in (
        errors.UsageError,
        errors.ConfigError,
        errors.NotFound,
        errors.Conflict,
        errors.LeaseLost,
        errors.AuthError,
        errors.Forbidden,
        errors.KitaruError,
    )
}

#: HTTP status for each error type (anything else is a 500)
STATUS: dict[str, int] = {"UsageError": 400, "ConfigError": 400, "NotFound": 404,
                          "Conflict": 409, "LeaseLost": 409, "AuthError": 401, "Forbidden": 403,
                          "KitaruError": 400}  # fmt: skip


def encode(value: Any) -> Any:
    """Plain JSON data for ``value``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"__b": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, tuple):
        return {"__tuple": [encode(v) for v in value]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if name not in RECORDS:
            raise TypeError(f"cannot send a {name} to the store")
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__t": name, **fields}
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"__map": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, Iterable):  # lists, sets, generators of calls, ...
        return [encode(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__} for the store")


def decode(data: Any) -> Any:
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "__b" in data:
        return base64.b64decode(data["__b"])
    if "__tuple" in data:
        return tuple(decode(v) for v in data["__tuple"])
    if "__map" in data:
        return {decode(k): decode(v) for k, v in data["__map"]}
    if "__t" in data:
        cls = RECORDS.get(str(data["__t"]))
        if cls is None:
            raise errors.UsageError(f"unknown record type {data['__t']!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: decode(v) for k, v in data.items() if k in names})
    return {k: decode(v) for k, v in data.items()}


def dumps(value: Any) -> bytes:
    return json.dumps(encode(value), separators=(",", ":")).encode()


def loads(raw: bytes) -> Any:
    return decode(json.loads(raw))


def error_body(exc: errors.KitaruError) -> dict[str, Any]:
    return {"error": {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint}}


def raise_error(body: Mapping[str, Any], status: int) -> None:
    """Raise the error a server response carries (an unknown type as KitaruError)."""
    err = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(err, Mapping):
        detail = body.get("detail") if isinstance(body, Mapping) else None
        raise errors.KitaruError(f"server answered HTTP {status}: {detail or body}")
    cls = ERRORS.get(str(err.get("type")), errors.KitaruError)
    raise cls(str(err.get("message")), hint=err.get("hint"))
