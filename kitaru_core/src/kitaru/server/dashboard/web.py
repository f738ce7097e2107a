"""The dashboard's request plumbing: who is asking (the session), CSRF checks on every POST,
rendering a page for them, and errors as pages."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kitaru.client import KitaruClient
from kitaru.errors import Forbidden, KitaruError
from kitaru.server.dashboard import render
from kitaru.server.dashboard.session import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    Session,
    Sessions,
    same_token,
)


class LoginNeeded(Exception):
    """No live session: the page answers with the login page (or a redirect to it)."""


class CsrfRefused(Exception):
    """A POST without its session's CSRF token: refused, nothing done."""


@dataclass
class Dashboard:
    """What every page needs: the store's client, kitaru serve's runner, the sessions."""

    client: KitaruClient
    runner: Any
    sessions: Sessions
    #: the dashboard's own routes (the access tests sweep every one)
    routes: list[Any] = field(default_factory=list)
    #: executions a person just retried or resumed here: id -> (status they were in, until
    #: when to wait for their worker). Their pages follow them although that status (failed,
    #: crashed) is not a live one: the worker takes them a moment after the click.
    following: dict[str, tuple[str, float]] = field(default_factory=dict)

    def follow(self, execution_id: str, status: str, seconds: float = 60.0) -> None:
        now = time.time()
        for stale in [k for k, (_, until) in self.following.items() if until < now]:
            del self.following[stale]
        self.following[execution_id] = (status, now + seconds)

    def follows(self, execution_id: str, status: str) -> bool:
        """Whether the page of an execution in ``status`` still waits for its worker."""
        entry = self.following.get(execution_id)
        if entry is None:
            return False
        if entry[0] != status or entry[1] < time.time():  # it moved on (or never will)
            self.following.pop(execution_id, None)
            return False
        return True

    def viewer(self, request: Request) -> Session:
        """The request's session (FastAPI dependency); LoginNeeded without one."""
        session = self.sessions.find(request.cookies.get(COOKIE))
        if session is None:
            raise LoginNeeded()
        return session

    async def actor(self, request: Request) -> Session:
        """The session of a POST that carries its CSRF token; CsrfRefused otherwise."""
        session = self.viewer(request)
        given = request.headers.get(CSRF_HEADER)
        if not given:
            form = await request.form()
            given = str(form.get(CSRF_FIELD) or "")
        if not same_token(session.csrf, given):
            raise CsrfRefused()
        return session

    def page(
        self, session: Session, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        return render.html(template, status, viewer=session.principal, csrf=session.csrf,
                           asks=self.sessions.gate.asks, **context)  # fmt: skip


def admin_only(session: Session) -> None:
    """The REST API's rule for admin routes, word for word."""
    me = session.principal
    if me.role != "admin":
        raise Forbidden(f"{me.name} is not an admin", hint="ask an admin of this workspace")


def go(url: str) -> RedirectResponse:
    """After a POST: see the result with a GET (303)."""
    return RedirectResponse(url, status_code=303)


def login_needed(request: Request) -> Response:
    """htmx requests get a redirect header (a fragment would land inside the page)."""
    target = "/login?next=" + quote(
        request.url.path + ("?" + request.url.query if request.url.query else "")
    )
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    if request.method != "GET":
        return render.html("error.html", 401, title="Not signed in", message="sign in first",
                           hint=None, viewer=None)  # fmt: skip
    return RedirectResponse(target, status_code=303)


def error_page(
    request: Request, status: int, exc: KitaruError | None, message: str = ""
) -> Response:
    """A KitaruError (or a refused request) as a page; the session's chrome when there is one."""
    from kitaru.store.codec import STATUS

    if exc is not None:
        status = STATUS.get(type(exc).__name__, 400)
    title = type(exc).__name__ if exc is not None else "Refused"
    return render.html("error.html", status, title=title,
                       message=(exc.message if exc is not None else message),
                       hint=(exc.hint if exc is not None else None), viewer=None)  # fmt: skip


def dependencies(dash: Dashboard) -> tuple[Any, Any]:
    """``(Depends(viewer), Depends(actor))`` for route signatures."""
    return Depends(dash.viewer), Depends(dash.actor)
