"""``POST /api/v1/store/{method}``: the metadata-store interface over HTTP.

This is how a process connected to a server (``kitaru.connect``) runs flows: its runtime calls
the same store methods as with the embedded store, and :class:`~kitaru.store.remote.RemoteStore`
sends each call here. Only the methods of :class:`~kitaru.store.base.MetadataStore` can be
called; arguments and results are encoded by :mod:`kitaru.server.codec`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kitaru.errors import NotFound, UsageError
from kitaru.server import codec
from kitaru.store.base import MetadataStore
from kitaru.store.remote import REMOTE_METHODS

METHODS = frozenset(REMOTE_METHODS)


class StoreCall(BaseModel):
    args: list[Any] = Field(default_factory=list, description="positional arguments (encoded)")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword arguments (encoded)")


class StoreResult(BaseModel):
    result: Any = Field(description="the method's return value (encoded)")


def add(api: APIRouter, store: MetadataStore) -> None:
    @api.post("/store/{method}", tags=["store"], response_model=StoreResult)
    def call(method: str, body: StoreCall) -> dict[str, Any]:
        """Call one metadata-store method (used by connected SDKs and workers)."""
        if method not in METHODS:
            raise NotFound(f"no store method {method!r}")
        try:
            args, kwargs = codec.decode(body.args), codec.decode(body.kwargs)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"store.{method}: cannot decode arguments: {exc}") from None
        try:
            result = getattr(store, method)(*args, **kwargs)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise UsageError(f"store.{method}: bad arguments: {type(exc).__name__}: {exc}",
                             hint="this route is for kitaru clients of the same version") from None  # fmt: skip
        return {"result": codec.encode(result)}
