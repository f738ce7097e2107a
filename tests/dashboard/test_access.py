"""Who may see and do what, over HTTP: every dashboard route refuses a browser without a live
session (no key, a wrong key, a revoked key), every POST without its CSRF token, and roles are
the REST API's. Also ``kitaru ui``: its one-time token, and the command itself in a process of its
own (a URL on 127.0.0.1 that signs in once; no browser opened with --no-browser)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route

from kitaru.server import auth
from kitaru.server.app import create_app
from kitaru.server.dashboard.session import COOKIE, TokenGate
from kitaru.testing.services import free_port, stop_process, wait_until_serving
from tests.conftest import subprocess_env

#: reachable without a session: the sign-in page itself and the stylesheet/scripts
PUBLIC = {"/login", "/health"}


@pytest.fixture
def app(kitaru_home: object) -> Any:
    from kitaru.store import default_store

    return create_app(default_store())


@pytest.fixture
def keys(app: Any) -> dict[str, str]:
    store = app.state.store
    admin = auth.bootstrap(store) or ""
    auth.create_principal(store, "bot", kind="service_account", role="member")
    return {"admin": admin, "member": auth.issue_key(store, "bot")[1]}


def login(client: TestClient, credential: str) -> TestClient:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"credential": credential, "csrf": token})
    return client


def csrf_of(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/access").text).group(1)  # type: ignore[union-attr]


def dashboard_routes(app: Any) -> Iterator[tuple[str, str]]:
    """``(method, path)`` of every dashboard route, path parameters filled in."""
    for route in app.state.dashboard.routes:
        if not isinstance(route, Route) or route.path in PUBLIC:
            continue
        path = re.sub(r"\{[^}]+\}", "0123456789ab", route.path)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                yield method, path


def test_the_sweep_covers_every_page_and_action(app: Any) -> None:
    found = set(dashboard_routes(app))
    assert ("GET", "/") in found and ("POST", "/executions/0123456789ab/input") in found
    assert len(found) >= 25


@pytest.mark.parametrize("who", ["no key", "wrong key", "revoked key"])
def test_nobody_without_a_live_key_sees_a_page_or_acts(app: Any, keys: dict[str, str],
                                                       who: str) -> None:  # fmt: skip
    client = TestClient(app)
    if who == "wrong key":
        login(client, keys["member"][:-3] + "xyz")
        assert COOKIE not in client.cookies
    elif who == "revoked key":
        login(client, keys["member"])
        assert client.get("/").status_code == 200  # a live session...
        auth.revoke_key(app.state.store, auth.parse_key(keys["member"])[0])
        app.state.keys.forget(auth.parse_key(keys["member"])[0])
    for method, path in dashboard_routes(app):
        r = client.request(method, path, data={"csrf": "x"}, follow_redirects=False)
        assert r.status_code in (303, 401), (who, method, path, r.status_code)
        if r.status_code == 303:
            assert r.headers["location"].startswith("/login"), (method, path)
        assert "Executions" not in r.text  # nothing of a page leaks
    hx = client.get("/executions/rows", headers={"HX-Request": "true"})
    assert hx.status_code == 401 and hx.headers["HX-Redirect"].startswith("/login")


def test_a_wrong_key_and_a_forged_login_form_are_refused(app: Any, keys: dict[str, str]) -> None:
    client = TestClient(app)
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    wrong = client.post("/login", data={"credential": "kitaru_abc_def", "csrf": token})
    assert wrong.status_code == 401 and "invalid API key" in wrong.text
    forged = TestClient(app).post("/login", data={"credential": keys["admin"], "csrf": token})
    assert forged.status_code == 403 and COOKIE not in forged.cookies


def test_the_session_cookie_is_httponly_and_strict(app: Any, keys: dict[str, str]) -> None:
    client = TestClient(app)
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"credential": keys["admin"], "csrf": token},
                    follow_redirects=False)  # fmt: skip
    cookie = r.headers["set-cookie"].lower()
    assert r.status_code == 303 and "httponly" in cookie and "samesite=strict" in cookie


def test_every_post_needs_the_csrf_token(app: Any, keys: dict[str, str]) -> None:
    client = login(TestClient(app), keys["admin"])
    posts = [p for m, p in dashboard_routes(app) if m == "POST"]
    assert len(posts) >= 9
    for path in posts:
        for data in ({}, {"csrf": "not-the-token"}):
            r = client.post(path, data=data, follow_redirects=False)
            assert r.status_code == 403 and "CSRF" in r.text, path
    assert client.get("/").status_code == 200  # logout was refused too: still signed in


def test_roles_are_the_rest_apis(app: Any, keys: dict[str, str]) -> None:
    member = login(TestClient(app), keys["member"])
    admin = login(TestClient(app), keys["admin"])
    assert member.get("/access/accounts").status_code == 403
    assert TestClient(app).get("/api/v1/auth/service-accounts", headers={
        "Authorization": f"Bearer {keys['member']}"}).status_code == 403  # fmt: skip
    assert admin.get("/access/accounts").status_code == 200
    own = member.get("/access").text
    assert "bot" in own and "bootstrap" not in own  # a member lists its own keys only
    assert "bootstrap" in admin.get("/access").text
    # a member acts: its action reaches the client (here: an unknown execution, 404)
    r = member.post("/executions/0123456789ab/cancel", data={"csrf": csrf_of(member)})
    assert r.status_code == 404 and "0123456789ab" in r.text


def test_kitaru_ui_token_signs_in_once(kitaru_home: object) -> None:
    from kitaru.store import default_store

    app = create_app(default_store(), gate=TokenGate("tok-123"))
    first = TestClient(app)
    assert first.get("/login?token=wrong").status_code == 401
    r = first.get("/login?token=tok-123", follow_redirects=False)
    assert r.status_code == 303 and COOKIE in first.cookies
    assert "local (admin)" in first.get("/").text
    again = TestClient(app).get("/login?token=tok-123", follow_redirects=False)
    assert again.status_code == 401 and COOKIE not in again.cookies


def start_ui(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    """``kitaru ui ARGS`` in a process of its own (its own KITARU_HOME; BROWSER a script that
    records what it was asked to open): the process, the URL it printed, the record's path."""
    marker = tmp_path / "browser-opened"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$@" >> {marker}\n')
    browser.chmod(0o755)
    env = subprocess_env(KITARU_HOME=str(tmp_path / "home"), BROWSER=str(browser),
                         PYTHONUNBUFFERED="1")  # fmt: skip
    for name in ("KITARU_SERVER_URL", "KITARU_API_KEY"):
        env.pop(name, None)
    out = tmp_path / "ui.log"
    with open(out, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "kitaru.cli", "ui", *args], env=env,
                                stdout=f, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 60
    while not (found := re.search(r"open \(works once\): (\S+)", out.read_text())):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise AssertionError(f"kitaru ui printed no URL:\n{out.read_text()}")
        time.sleep(0.05)
    url = found.group(1)
    if not wait_until_serving(url.split("/login")[0] + "/health", proc, 30):
        stop_process(proc)
        raise AssertionError(f"kitaru ui does not answer:\n{out.read_text()}")
    return proc, url, marker


def test_kitaru_ui_prints_a_local_one_time_url_and_opens_no_browser(tmp_path: Path) -> None:
    import httpx

    port = free_port()
    proc, url, marker = start_ui(tmp_path, "--no-browser", "--port", str(port))
    try:
        parts = urlsplit(url)
        where = (parts.scheme, parts.hostname, parts.port, parts.path)
        assert where == ("http", "127.0.0.1", port, "/login")
        assert re.fullmatch(r"token=[\w-]{20,}", parts.query)
        with httpx.Client(timeout=10) as first:
            signed_in = first.get(url, follow_redirects=True)  # on to the executions page
            assert signed_in.status_code == 200 and str(signed_in.url).endswith(f":{port}/")
            assert "local (admin)" in signed_in.text and COOKIE in first.cookies
        with httpx.Client(timeout=10) as second:  # the token is spent
            again = second.get(url, follow_redirects=False)
            assert again.status_code == 401 and COOKIE not in second.cookies
            home = second.get(url.split("/login")[0] + "/", follow_redirects=True)
            assert home.url.path == "/login"  # and no session came of it
        time.sleep(1.5)  # kitaru ui opens the browser 0.8 s after it starts, when it does
        assert not marker.exists(), marker.read_text()
    finally:
        stop_process(proc)


def test_kitaru_ui_without_no_browser_opens_its_url(tmp_path: Path) -> None:
    """The other side of the test above: the BROWSER script does see what would be opened."""
    proc, url, marker = start_ui(tmp_path)
    try:
        deadline = time.monotonic() + 20
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists() and marker.read_text().split() == [url]
        assert urlsplit(url).hostname == "127.0.0.1"
    finally:
        stop_process(proc)
