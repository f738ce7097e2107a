"""Streamable HTTP at ``/mcp`` on the Kitaru server (``kitaru server start``, ``kitaru serve``).

Every request is authenticated with the server's API keys (``Authorization: Bearer <key>``)
before the SDK sees it: a missing, malformed, unknown or revoked key is a 401 in the REST API's
error shape. The tools then run as REST's routes do (any key; the admin-only ones, as in
``/api/v1/auth``, check the role of the key that called them).

Nothing here imports the SDK until a client first calls ``/mcp``: the server starts as fast
without MCP traffic, and starts at all without ``kitaru[mcp]`` (``/mcp`` then answers what to
install).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup, TaskStatus
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kitaru.errors import AuthError, ConfigError, KitaruError
from kitaru.mcp import PRINCIPAL
from kitaru.store import codec

PATH = "/mcp"


async def _answer(send: Send, status: int, exc: KitaruError) -> None:
    """An error in the REST API's one shape, ``{"error": {type, message, hint}}``."""
    body = json.dumps(codec.error_body(exc)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if isinstance(exc, AuthError):
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _bearer(scope: Scope) -> str | None:
    """The key of ``Authorization: Bearer <key>`` (or ``X-Kitaru-Api-Key``), as REST reads it."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    header = headers.get("authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else None
    return key or headers.get("x-kitaru-api-key")


class Endpoint:
    """The ASGI app at ``/mcp``: authenticate, then hand the request to the SDK's session
    manager, which is built (and its task started in the server's lifespan task group) on the
    first authenticated request."""

    def __init__(self, store: Any, runner: Any, keys: Any) -> None:
        self.store, self.runner, self.keys = store, runner, keys
        self._group: TaskGroup | None = None
        self._manager: Any = None
        self._lock = anyio.Lock()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The server's lifespan: the task group the session manager will run in."""
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield
            finally:
                self._group = None
                group.cancel_scope.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            principal = await anyio.to_thread.run_sync(self.keys.authenticate, _bearer(scope))
        except KitaruError as exc:
            await _answer(send, codec.STATUS.get(type(exc).__name__, 401), exc)
            return
        scope[PRINCIPAL] = principal
        try:
            manager = await self._started()
        except KitaruError as exc:
            await _answer(send, 503, exc)
            return
        await manager.handle_request(scope, receive, send)

    async def _started(self) -> Any:
        async with self._lock:
            if self._manager is None:
                if self._group is None:
                    raise ConfigError("the MCP endpoint is not running (the server's lifespan "
                                      "did not start)", hint="start it with `kitaru server start`")  # fmt: skip
                self._manager = await self._group.start(self._serve)
        return self._manager

    async def _serve(self, *, task_status: TaskStatus[Any]) -> None:
        # importing the SDK and the tools takes about a second: not on the event loop
        manager = await anyio.to_thread.run_sync(self._build)
        async with manager.run():
            task_status.started(manager)
            await anyio.sleep_forever()

    def _build(self) -> Any:
        from mcp.server.transport_security import TransportSecuritySettings

        from kitaru.client import KitaruClient
        from kitaru.mcp.server import build
        from kitaru.mcp.tools_access import ServerToolbox

        box = ServerToolbox(KitaruClient(self.store), self.runner, self.store)
        server = build(toolbox=box, where="server")
        # No DNS-rebinding check: it guards cookie- or origin-trusting local servers, and every
        # request here carries an API key a rebound page cannot have. The server may listen on
        # any address, so a host allow-list would refuse its real clients.
        server.streamable_http_app(
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False)
        )
        return server.session_manager


class Missing:
    """``/mcp`` on a server without ``kitaru[mcp]``: what to install, in the one error shape."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from kitaru.imports import missing_extra

        found = missing_extra(ModuleNotFoundError(name="mcp"))
        assert found is not None
        await _answer(send, 501, ConfigError(found[0], hint=found[1]))


def mount(app: Any, store: Any, runner: Any, keys: Any) -> None:
    """Serve MCP at ``/mcp`` of the FastAPI ``app`` (before the dashboard's routes)."""
    endpoint: Callable[..., Any]
    if importlib.util.find_spec("mcp") is None:
        endpoint = Missing()
    else:
        endpoint = served = Endpoint(store, runner, keys)
        previous = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(a: Any) -> AsyncIterator[Any]:
            async with previous(a) as state, served.running():
                yield state

        app.router.lifespan_context = lifespan
    app.router.routes.insert(0, Route(PATH, endpoint=endpoint))
