"""A real Docker engine for these tests: podman's Docker API and a registry on 127.0.0.1:5001,
set up by ``scripts/standins/podman.sh`` (installs what is missing, starts what is not running,
builds the offline base images once). Tests skip only when podman cannot run on this machine
at all (exit 77: not Linux, not root, no apt); any other failure of the script fails them."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "standins" / "podman.sh"
BUSYBOX = "localhost/kitaru/busybox:static"
DEBIAN_PYTHON = "localhost/kitaru/debian-python:bookworm"
#: the label every test container and image carries, for the clean-up at the end
TEST_LABEL = "org.kitaru.test"


#: a test's first use of `engine` may set the machine up: apt-get (~30 s), debootstrap (1-3
#: min), image builds; pytest-timeout counts fixture setup, so these tests get longer
SETUP_TIMEOUT = 1500


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        mine = here in Path(str(item.fspath)).parents
        if (
            mine
            and "engine" in getattr(item, "fixturenames", ())
            and (item.get_closest_marker("timeout") is None)
        ):
            item.add_marker(pytest.mark.timeout(SETUP_TIMEOUT))


@dataclass(frozen=True)
class Engine:
    docker_host: str
    registry: str
    setup_seconds: float
    busybox: str = BUSYBOX
    debian_python: str = DEBIAN_PYTHON


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    started = time.monotonic()
    try:
        proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True,
                              timeout=SETUP_TIMEOUT - 60)  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{SCRIPT} took over 20 minutes: {exc.stderr!r}")
    if proc.returncode == 77:
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    if proc.returncode != 0:
        pytest.fail(f"{SCRIPT} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    values = dict(
        line.removeprefix("export ").split("=", 1)
        for line in proc.stdout.splitlines()
        if line.startswith("export ")
    )
    found = Engine(values["DOCKER_HOST"], values["KITARU_DOCKER_REGISTRY"],
                   time.monotonic() - started)  # fmt: skip
    previous = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = found.docker_host
    yield found
    if previous is None:
        os.environ.pop("DOCKER_HOST", None)
    else:
        os.environ["DOCKER_HOST"] = previous


@dataclass(frozen=True)
class RuntimeImage:
    """An image with this checkout's kitaru and kitaru-docker, installed without an index."""

    tag: str
    #: wall seconds: wheelhouse, build (0 when the tag already existed)
    wheelhouse_seconds: float
    build_seconds: float
    cached: bool
    #: this checkout's kitaru and kitaru-docker wheels
    wheels: Path
    site_packages: str = "/opt/kitaru/lib/python3.11/site-packages"


@pytest.fixture(scope="session")
def runtime_image(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> RuntimeImage:
    """Built from the offline Debian + python3 base, tagged by the content of its wheels."""
    import hashlib

    from kitaru.components.container_builder import BuildContext
    from kitaru.testing import build_component

    context = tmp_path_factory.mktemp("runtime-image")
    started = time.monotonic()
    script = ROOT / "scripts" / "standins" / "kitaru_wheelhouse.sh"
    proc = subprocess.run(["bash", str(script), str(context)], capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    if proc.returncode != 0:
        pytest.fail(f"{script} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    wheelhouse_seconds = time.monotonic() - started
    digest = hashlib.sha256()  # the script wrote the Dockerfile too
    for path in sorted(context.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    tag = f"localhost/kitaru/runtime-test:{digest.hexdigest()[:16]}"
    builder = build_component("container_builder", "docker", name="test-builder")
    started = time.monotonic()
    cached = bool(builder.client.images.list(name=tag))
    if not cached:
        builder.build(BuildContext(str(context), "Dockerfile", tag))
    return RuntimeImage(tag, wheelhouse_seconds, time.monotonic() - started, cached,
                        context / "kitaru")  # fmt: skip
