"""Signing in and out: ``GET/POST /login``, ``POST /logout``."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from kitaru.errors import AuthError
from kitaru.server.dashboard import render
from kitaru.server.dashboard.session import COOKIE, LOGIN_COOKIE, Session, same_token
from kitaru.server.dashboard.web import Dashboard, go


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never ``//elsewhere`` or a full URL) to go to after login."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _signed_in(request: Request, sid: str, target: str) -> Response:
    response = go(_safe_next(target))
    response.set_cookie(COOKIE, sid, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def add(r: APIRouter, dash: Dashboard) -> None:
    def form(request: Request, status: int = 200, error: str | None = None,
             next_: str = "/") -> Response:  # fmt: skip
        token = secrets.token_urlsafe(24)
        response = render.html("login.html", status, viewer=None, error=error, login_csrf=token,
                               next=_safe_next(next_), asks=dash.sessions.gate.asks)  # fmt: skip
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")  # fmt: skip
        return response

    @r.get("/login")
    def login_page(request: Request, token: str | None = None, next: str = "/") -> Response:
        """The login form; ``kitaru ui``'s one-time URL (``?token=``) signs in at once."""
        if token:
            try:
                sid, _ = dash.sessions.open(token)
            except AuthError as exc:
                return form(request, 401, exc.message, next)
            return _signed_in(request, sid, next)
        return form(request, next_=next)

    @r.post("/login")
    def login(request: Request, credential: str = Form(""), csrf: str = Form(""),
              next: str = Form("/")) -> Response:  # fmt: skip
        if not same_token(request.cookies.get(LOGIN_COOKIE, ""), csrf):
            return form(request, 403, "the form expired (CSRF check): try again", next)
        try:
            sid, _ = dash.sessions.open(credential)
        except AuthError as exc:
            return form(request, 401, exc.message, next)
        return _signed_in(request, sid, next)

    @r.post("/logout")
    def logout(request: Request, session: Session = Depends(dash.actor)) -> Response:
        dash.sessions.close(request.cookies.get(COOKIE))
        response: RedirectResponse = go("/login")
        response.delete_cookie(COOKIE, path="/")
        return response
