"""What every cloud plugin's job stand-in needs, whatever the cloud: a real Kitaru server the
jobs report to, the stack registered on it, and podman's Docker API to run job containers in.

The cloud-specific part (reading a recorded SageMaker / Vertex / AzureML job and running its
container spec) stays in each plugin's tests; these are shared so they are written once.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.server.conftest import Server

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def kitaru_server(home: Path) -> Iterator[Server]:
    """A real Kitaru server (SQLite under ``home``) the jobs report to; its admin key."""
    from tests.server.conftest import start_server, stop

    server = start_server(home)
    assert server.admin_key, server.log.read_text()
    try:
        yield server
    finally:
        stop(server)


def register_stack(server: Server, stack: dict[str, Any], tmp_path: Path) -> None:
    """``kitaru stack register --file`` against the server (where the jobs look it up)."""
    stack_file = tmp_path / f"{stack['name']}.json"
    stack_file.write_text(json.dumps(stack))
    env = server.env()
    env.pop("KITARU_STACK", None)
    done = subprocess.run(
        [sys.executable, "-m", "kitaru.cli", "stack", "register", "--file", str(stack_file)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout


def podman_engine() -> str:
    """``DOCKER_HOST`` of the podman engine of ``scripts/standins/podman.sh`` (skips the test
    when it cannot run here: exit 77)."""
    import pytest

    proc = subprocess.run(["bash", str(REPO / "scripts" / "standins" / "podman.sh")],
                          capture_output=True, text=True, timeout=1200)  # fmt: skip
    if proc.returncode == 77:
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("export DOCKER_HOST=")]
    return line.split("=", 1)[1]


def runtime_image(docker_host: str, context: Path, package: str) -> tuple[str, Path, float | None]:
    """An offline runtime image on the engine: podman.sh's Debian + python3 with kitaru and
    ``package`` (a plugin) and their pinned dependencies, from a local wheelhouse
    (``scripts/standins/kitaru_wheelhouse.sh`` into ``context``): a project's
    ``[tool.kitaru.image] base_image``. Its tag (by the hash of the context: built once per
    recipe, then kept by the engine), the folder of this checkout's wheels (a build's wheel
    cache holds the same kitaru wheel, as in the image), and the build's seconds (None: the
    engine had it)."""
    import hashlib
    import time

    import docker

    script = REPO / "scripts" / "standins" / "kitaru_wheelhouse.sh"
    proc = subprocess.run(["bash", str(script), str(context), package], capture_output=True,
                          text=True, timeout=1200)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    digest = hashlib.sha256()  # the script wrote the Dockerfile too
    for path in sorted(context.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    name = package.removeprefix("kitaru-")
    tag = f"localhost/kitaru/{name}-runtime-test:{digest.hexdigest()[:16]}"
    client = docker.DockerClient(base_url=docker_host, timeout=1200)
    if client.images.list(name=tag):
        return tag, context / "kitaru", None
    started = time.monotonic()
    client.images.build(path=str(context), tag=tag, rm=True)
    return tag, context / "kitaru", time.monotonic() - started
