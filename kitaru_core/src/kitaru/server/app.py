"""The Kitaru server's FastAPI application: ``create_app(store)``.

Routes live under ``/api/v1`` and all need an API key (``Authorization: Bearer <key>``) except
``/health``. A client sends its version in ``X-Kitaru-Version``; a client whose major.minor
differs from the server's is refused with a message naming both versions. ``/mcp`` serves the
same tools as ``kitaru mcp`` to MCP clients, with the same keys (:mod:`kitaru.mcp.http`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from kitaru.errors import AuthError, Conflict, KitaruError, UsageError
from kitaru.server import auth
from kitaru.store import codec
from kitaru.store.access import Principal
from kitaru.validation import check_text
from kitaru.version import __version__

API_PREFIX = "/api/v1"
VERSION_HEADER = "X-Kitaru-Version"


class ErrorDetail(BaseModel):
    type: str = Field(description="UsageError, ConfigError, NotFound, Conflict, AuthError, "
                      "Forbidden, WaitInputError, ... (InternalError for a 500)")  # fmt: skip
    message: str = Field(description="one line")
    hint: str | None = Field(description="what to do about it, when known")


class ErrorBody(BaseModel):
    """Every error answer of the server, 4xx or 5xx."""

    error: ErrorDetail


#: documented on every route: any 4xx answer has the one error shape
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "The request was refused (400 bad arguments, "
            "401/403 access, 404 not found, 409 conflict, 422 not the schema's shape)"},
}  # fmt: skip


def _error(status: int, type_: str, message: str, hint: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    body = {"error": {"type": type_, "message": " ".join(message.split()), "hint": hint}}
    return JSONResponse(body, status_code=status, headers=headers)


class RefuseUnstorableText:
    """A NUL in the URL (path or query string) is refused before routing, with the same 400
    UsageError the SDK gives: no store can keep it as text (see :mod:`kitaru.validation`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                check_text(scope["path"], "request path")
                check_text(unquote_plus(scope["query_string"].decode("latin-1")), "query string")
            except UsageError as exc:
                await _error(400, "UsageError", exc.message, exc.hint)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def compatible(client: str, server: str = __version__) -> bool:
    """Same major.minor: the store RPC and the records are stable within a minor version."""
    return client.split(".")[:2] == server.split(".")[:2]


def _page_wanted(request: Request) -> bool:
    """An error of a dashboard page is shown as a page; the API's stay JSON."""
    path = request.url.path
    return (getattr(request.app.state, "dashboard", None) is not None
            and not path.startswith((API_PREFIX, "/health", "/openapi.json", "/docs")))  # fmt: skip


def create_app(store: Any, runner: Any = None, *, gate: Any = "keys") -> FastAPI:
    """The application over ``store`` (a MetadataStore that is also an AccessStore).
    ``runner`` (``kitaru serve``): executions to run are handed to it, in this process.
    ``gate``: who may sign in to the dashboard at ``/`` ("keys": this server's API keys; a
    :class:`~kitaru.server.dashboard.session.Gate`, e.g. ``kitaru ui``'s one-time token;
    None: no dashboard)."""
    app = FastAPI(title="Kitaru", version=__version__,
                  description="Executions, waits, artifacts, memory and stacks of a Kitaru "
                  "workspace. Every route but /health needs an API key.",
                  responses=ERROR_RESPONSES)  # fmt: skip
    app.add_middleware(RefuseUnstorableText)
    app.state.store = store

    keys = app.state.keys = auth.KeyCache(store)

    async def principal(request: Request) -> Principal:
        client_version = request.headers.get(VERSION_HEADER)
        if client_version and not compatible(client_version):
            raise Conflict(
                f"client kitaru {client_version} cannot talk to server kitaru {__version__}",
                hint=f"install kitaru=={'.'.join(__version__.split('.')[:2])}.* on the client",
            )
        header = request.headers.get("authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else None
        return keys.authenticate(key or request.headers.get("x-kitaru-api-key"))

    @app.exception_handler(KitaruError)
    def kitaru_error(request: Request, exc: KitaruError) -> Response:
        if _page_wanted(request):
            from kitaru.server.dashboard.web import error_page

            return error_page(request, 0, exc)
        status = codec.STATUS.get(type(exc).__name__, 400)
        headers = {"WWW-Authenticate": "Bearer"} if type(exc) is AuthError else None
        return JSONResponse(codec.error_body(exc), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's own ``{"detail": [...]}`` for a body or parameter that does not match the
        schema (malformed JSON included), in the one error shape."""
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        msg = first.get("msg")
        if first.get("type") == "json_invalid":
            where = "body"
            msg = f"not valid JSON ({(first.get('ctx') or {}).get('error', msg)})"
        return _error(422, "UsageError", f"{where}: {msg}", "see the OpenAPI spec at /openapi.json")

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> Response:
        """Starlette's answers (no such route: 404, wrong method: 405) in the one error shape."""
        if _page_wanted(request):
            from kitaru.server.dashboard.web import error_page

            return error_page(request, exc.status_code, None, f"{request.method} "
                              f"{request.url.path}: {exc.detail}")  # fmt: skip
        if exc.status_code == 404:
            return _error(404, "NotFound", f"no route {request.url.path}",
                          "see the OpenAPI spec at /openapi.json")  # fmt: skip
        return _error(exc.status_code, "UsageError" if exc.status_code < 500 else "InternalError",
                      f"{request.method} {request.url.path}: {exc.detail}",
                      "see the OpenAPI spec at /openapi.json",
                      headers=dict(exc.headers or {}) or None)  # fmt: skip

    @app.exception_handler(Exception)
    def internal(request: Request, exc: Exception) -> JSONResponse:
        """A bug or an outage: 500 in the one error shape. The traceback goes to the server's log
        (not to the client: it may name internals)."""
        return _error(500, "InternalError", f"internal server error ({type(exc).__name__})",
                      "the server's log has the details; report it if it persists")  # fmt: skip

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness; needs no key."""
        return {"status": "ok", "version": __version__}

    from kitaru.server import (
        routes_access,
        routes_changes,
        routes_executions,
        routes_schedules,
        routes_store,
    )

    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(principal)])

    @api.get("/info", tags=["meta"])
    def info() -> dict[str, Any]:
        """Server version and store backend."""
        return {"version": __version__, "store": type(store).__name__}

    routes_store.add(api, store)
    app.state.changes = routes_changes.add(api, store)
    routes_executions.add(api, store, runner)
    routes_schedules.add(api, store)
    app.include_router(api)
    app.include_router(routes_access.router(store, principal, keys), prefix=API_PREFIX)
    from kitaru.mcp.http import mount as mount_mcp  # the SDK only on a first /mcp request

    mount_mcp(app, store, runner, keys)
    if gate is not None:  # imported here: only a starting server pays for jinja2 and the pages
        from kitaru.server import dashboard
        from kitaru.server.dashboard.session import KeyGate

        dashboard.mount(app, store, KeyGate(keys) if gate == "keys" else gate, runner)
    return app
