"""The Kitaru server a smoke run's units report to: ``kitaru server start`` on a free port of
127.0.0.1, over SQLite in the run's own folder, stopped with the run."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kitaru.errors import KitaruError
from kitaru.testing.services import free_port, stop_process, wait_until_serving


@dataclass(frozen=True)
class SmokeServer:
    url: str
    admin_key: str
    log: Path


@contextlib.contextmanager
def smoke_server(workdir: Path, timeout: float = 60.0) -> Iterator[SmokeServer]:
    home = workdir / "server-home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "server.log"
    # the server is a fresh one of its own: nothing of the user's connection or stack leaks in
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KITARU_SERVER_URL", "KITARU_API_KEY", "KITARU_STACK", "KITARU_DB_URL")
    }
    env["KITARU_HOME"] = str(home)
    cmd = [sys.executable, "-m", "kitaru.cli", "server", "start", "--host", "127.0.0.1",
           "--port", str(port)]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_serving(f"{url}/health", process, timeout, interval=0.1):
            tail = " ".join(log.read_text(errors="replace").split()[-40:])
            raise KitaruError(f"the smoke run's Kitaru server did not start: {tail}")
        keys = re.findall(r"kitaru_[0-9a-f]+_\S+", log.read_text(errors="replace"))
        if not keys:
            raise KitaruError("the smoke run's Kitaru server printed no admin key")
        yield SmokeServer(url, keys[0], log)
    finally:
        stop_process(process)
