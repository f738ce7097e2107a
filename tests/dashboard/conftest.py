"""Browser fixtures: Debian's chromium (installed by scripts/standins/chromium.sh, never a
Playwright download) driving a real ``kitaru server start`` signed in with its admin key."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.server.conftest import Server, start_server, stop

#: with KITARU_DOCS_SCREENSHOTS=1 the screenshots docs/dashboard.md shows also go to docs/images
#: (committed for the docs)
DOCS_IMAGES = REPO / "docs" / "images"


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system chromium's path; the tests skip, saying why, where it cannot be set up."""
    out = subprocess.run(["bash", str(REPO / "scripts/standins/chromium.sh")],
                         capture_output=True, text=True)  # fmt: skip
    if out.returncode == 77:
        pytest.skip(out.stderr.strip() or "chromium cannot be set up here")
    assert out.returncode == 0, out.stderr
    found = re.search(r"KITARU_CHROMIUM=(\S+)", out.stdout)
    return found.group(1) if found else (shutil.which("chromium") or "/usr/lib/chromium/chromium")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server; its recovery sweep (once a lease TTL) does not run during the tests: the
    Resume test leaves a crashed execution for the browser to resume."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KITARU_LEASE_TTL", "600")  # the server's process only
        srv = start_server(tmp_path_factory.mktemp("dash") / "home")
    assert srv.admin_key, srv.log.read_text()
    yield srv
    stop(srv)


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A page signed in with the admin key through the login form."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    pg.goto(server.url + "/")
    assert "/login" in pg.url
    pg.fill("#credential", server.admin_key)
    pg.click("button[type=submit]")
    pg.wait_for_url(server.url + "/")
    yield pg
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``shots(page, name)``: a full-page screenshot under the test's temporary folder (one per
    view); those docs/dashboard.md shows are also copied to docs/images when asked."""
    folder = tmp_path_factory.mktemp("screenshots")
    shown = (REPO / "docs" / "dashboard.md").read_text()

    def take(pg: Any, name: str) -> Path:
        path = folder / f"{name}.png"
        pg.screenshot(path=str(path), full_page=True)
        if (os.environ.get("KITARU_DOCS_SCREENSHOTS") == "1"
                and f"images/dashboard-{name}.png" in shown):  # fmt: skip
            DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, DOCS_IMAGES / f"dashboard-{name}.png")
        return path

    return take


def cli(server: Server, *args: str, timeout: float = 60) -> str:
    """``kitaru ARGS`` in another process, connected to ``server``; its stdout."""
    out = subprocess.run([sys.executable, "-m", "kitaru.cli", *args], cwd=REPO, env=server.env(),
                         capture_output=True, text=True, timeout=timeout)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout


def start(server: Server, target: str, inputs: dict[str, Any]) -> str:
    """Start a flow from the CLI (detached); its execution id."""
    out = cli(server, "run", target, "--input", json.dumps(inputs), "--detach")
    return re.search(r"[0-9a-f]{12}", out).group(0)  # type: ignore[union-attr]


def show(server: Server, execution_id: str) -> dict[str, Any]:
    """The execution as the REST API shows it (a CLI process per poll would be slow)."""
    import httpx

    r = httpx.get(f"{server.url}/api/v1/executions/{execution_id}",
                  headers={"Authorization": f"Bearer {server.admin_key}"}, timeout=10)  # fmt: skip
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


def until_status(
    server: Server, execution_id: str, *statuses: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        info = show(server, execution_id)
        if info["status"] in statuses or time.monotonic() > deadline:
            assert info["status"] in statuses, info
            return info
        time.sleep(0.2)
