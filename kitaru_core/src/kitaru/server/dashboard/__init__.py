"""The dashboard: server-rendered pages (Jinja2 + htmx, SVG drawn on the server) at ``/``.

Imported only when a server or ``kitaru ui`` starts. Every action calls the same functions as
the CLI and the REST API (:class:`~kitaru.client.KitaruClient`, :mod:`kitaru.server.actions`),
so it is validated, journaled and fenced the same way. Everything the pages load ships in this
package (``templates/``, ``static/``): no CDN, no build step.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from kitaru.client import KitaruClient
from kitaru.server.dashboard import web
from kitaru.server.dashboard.render import STATIC
from kitaru.server.dashboard.session import Gate, Sessions


def mount(app: FastAPI, store: Any, gate: Gate, runner: Any = None) -> web.Dashboard:
    """Add the dashboard's routes to ``app``; ``gate`` says who may sign in."""
    from kitaru.server.dashboard import (
        login,
        pages_executions,
        pages_more,
        pages_steer,
        pages_workspace,
    )

    dash = web.Dashboard(KitaruClient(store), runner, Sessions(gate))
    router = APIRouter(include_in_schema=False)
    for module in (login, pages_executions, pages_steer, pages_more, pages_workspace):
        module.add(router, dash)
    app.include_router(router)
    dash.routes = list(router.routes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(web.LoginNeeded)
    def login_needed(request: Request, exc: web.LoginNeeded) -> Response:
        return web.login_needed(request)

    @app.exception_handler(web.CsrfRefused)
    def csrf_refused(request: Request, exc: web.CsrfRefused) -> Response:
        return web.error_page(request, 403, None, "the form's CSRF token is missing or wrong: "
                              "reload the page and try again")  # fmt: skip

    app.state.dashboard = dash
    return dash
