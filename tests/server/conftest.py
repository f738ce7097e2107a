"""A real `kitaru server start` process per test module, on its own KITARU_HOME and port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kitaru.testing.services import free_port, stop_process, wait_until_serving
from tests.conftest import subprocess_env


@dataclass
class Server:
    url: str
    admin_key: str
    home: Path
    process: subprocess.Popen[bytes]
    log: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of a client process connected to this server."""
        return subprocess_env(KITARU_SERVER_URL=self.url, KITARU_API_KEY=self.admin_key, **extra)


def start_server(
    home: Path,
    port: int | None = None,
    *,
    db_url: str | None = None,
    admin_key: str = "",
    artifact_store: str | None = None,
) -> Server:
    """Start a server; ``admin_key``: the key of an earlier start on the same store (only
    the first start prints one)."""
    port = port or free_port()
    log = home.parent / f"server-{port}.log"
    home.mkdir(parents=True, exist_ok=True)
    env = subprocess_env(KITARU_HOME=str(home))
    for name in ("KITARU_SERVER_URL", "KITARU_API_KEY"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "kitaru.cli", "server", "start", "--port", str(port)]
    if db_url:
        cmd += ["--db", db_url]
    if artifact_store:
        cmd += ["--artifact-store", artifact_store]
    with open(log, "ab") as f:
        process = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    if not wait_until_serving(url + "/health", process, 30):
        raise RuntimeError(f"server did not start:\n{log.read_text()}")
    keys = re.findall(r"kitaru_[0-9a-f]+_\S+", log.read_text())
    return Server(url, admin_key or (keys[0] if keys else ""), home, process, log)


def stop(server: Server) -> None:
    stop_process(server.process)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("server") / "home"
    srv = start_server(home)
    assert srv.admin_key, srv.log.read_text()
    yield srv
    stop(srv)


@pytest.fixture
def connected(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """This test process talks to the server (and so do the workers it starts)."""
    from kitaru.store import reset_default_store

    monkeypatch.setenv("KITARU_SERVER_URL", server.url)
    monkeypatch.setenv("KITARU_API_KEY", server.admin_key)
    reset_default_store()
    yield server
    reset_default_store()
    os.environ.pop("KITARU_SERVER_URL", None)
