"""The Kitaru server's FastAPI application: ``create_app(store)``.

Routes live under ``/api/v1`` and all need an API key (``Authorization: Bearer <key>``) except
``/health``. A client sends its version in ``X-Kitaru-Version``; a client whose major.minor
differs from the server's is refused with a message naming both versions.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from kitaru import __version__
from kitaru.errors import AuthError, Conflict, KitaruError
from kitaru.server import auth, codec
from kitaru.store.access import Principal

API_PREFIX = "/api/v1"
VERSION_HEADER = "X-Kitaru-Version"


def compatible(client: str, server: str = __version__) -> bool:
    """Same major.minor: the store RPC and the records are stable within a minor version."""
    return client.split(".")[:2] == server.split(".")[:2]


def create_app(store: Any, runner: Any = None) -> FastAPI:
    """The application over ``store`` (a MetadataStore that is also an AccessStore).
    ``runner`` (``kitaru serve``): executions to run are handed to it, in this process."""
    app = FastAPI(title="Kitaru", version=__version__,
                  description="Executions, waits, artifacts, memory and stacks of a Kitaru "
                  "workspace. Every route but /health needs an API key.")  # fmt: skip
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
    def kitaru_error(request: Request, exc: KitaruError) -> JSONResponse:
        status = codec.STATUS.get(type(exc).__name__, 400)
        headers = {"WWW-Authenticate": "Bearer"} if type(exc) is AuthError else None
        return JSONResponse(codec.error_body(exc), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        body = {"error": {"type": "UsageError", "message": f"{where}: {first.get('msg')}",
                          "hint": "see the OpenAPI spec at /openapi.json"}}  # fmt: skip
        return JSONResponse(body, status_code=422)

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness; needs no key."""
        return {"status": "ok", "version": __version__}

    from kitaru.server import routes_access, routes_executions, routes_store

    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(principal)])

    @api.get("/info", tags=["meta"])
    def info() -> dict[str, Any]:
        """Server version and store backend."""
        return {"version": __version__, "store": type(store).__name__}

    routes_store.add(api, store)
    routes_executions.add(api, store, runner)
    app.include_router(api)
    app.include_router(routes_access.router(store, principal, keys), prefix=API_PREFIX)
    return app
