"""docs/stacks/docker.md, run: its ``bash`` blocks in order, as one shell session would (each
block sees the variables and the folder the previous left), against podman's Docker API and
the local registry of ``scripts/standins/podman.sh``, in a temporary KITARU_HOME; its files
(``<!-- docs-test: file PATH -->``) written where the reader saves them. The seed flow is
deployed, invoked, waits in a container, is answered and completes in a second container; a
second deploy builds nothing; the ``mount_code`` orchestrator runs an edit without a build.

What the page shows that this test does not run, each marked in the page with
``<!-- docs-test: skip (why) -->``: ``pip install`` (the environment has kitaru and
kitaru-docker from this checkout; there is no package index), starting podman's service and a
registry container (podman.sh has started both; there is no Docker Hub). ``kitaru server
start`` (``<!-- docs-test: background -->``) runs in the background, as in a second terminal.

What differs from the page (the test's ``substituted`` table, each entry asserted to occur in
the page, so the table cannot rot): the engine's socket (podman.sh's), the server's port (a free one: 8237 may be another
server's on this machine), the admin key (the one this server printed), the artifact folder
(under the test's tmp_path, not the real HOME), KITARU_INLINE_LIMIT=0 (so values cross the
shared artifact folder, not the server), and the image's ``base_image``: the offline
Debian image with kitaru's pinned dependencies (``runtime_image``), because the build has no
Docker Hub and no package index — ``kitaru deploy`` installs this checkout's kitaru and
kitaru-docker wheels on it, their dependencies already satisfied, as test_aws_deploy.py does.

Between blocks the test waits for the status the page says comes next ("in a few seconds it
waits", "a moment later"), as a reader would look again. Skipped only when podman cannot run
here (podman.sh exits 77, through the ``engine`` fixture)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kitaru.testing.services import free_port, stop_process, wait_until_serving

if TYPE_CHECKING:
    from conftest import Engine, RuntimeImage

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "stacks" / "docker.md"
TEMPLATE = REPO / "stacks" / "docker.yaml"
SEED = REPO / "examples" / "review_flow.py"
#: the key the page shows; the test's server prints another
DOC_KEY = "kitaru_4089a71eabf1_D62O-UNVbZA7SLXBeY16UC2jfU5rvO-aDtUP6QwP1cg"
# one worker builds the runtime image for these and test_docker_e2e.py
pytestmark = pytest.mark.xdist_group("kitaru-docker-image")


@dataclass
class Block:
    lang: str
    text: str
    #: ``skip``, ``background``, ``file`` or "" (run), from ``<!-- docs-test: ... -->``
    marker: str = ""
    argument: str = ""


def blocks(text: str) -> list[Block]:
    """The page's fenced blocks, each with the marker on the line before it, if any."""
    found: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w+)$", lines[i])
        if not fence:
            i += 1
            continue
        marker = re.match(r"^<!-- docs-test: (\w+)(?: ([^\s(]+))?", lines[i - 1] if i else "")
        end = lines.index("```", i + 1)
        found.append(Block(fence.group(1), "\n".join(lines[i + 1 : end]) + "\n",
                           *(marker.groups(default="") if marker else ())))  # fmt: skip
        i = end + 1
    return found


def test_the_page_marks_only_what_cannot_run_here() -> None:
    """Every marker is one this test knows; what is skipped is exactly what the module doc
    says (a new skipped block needs a reason here too)."""
    found = blocks(DOC.read_text())
    assert {b.marker for b in found} <= {"", "skip", "background", "file"}
    skipped = [b.text.split()[:2] for b in found if b.marker == "skip"]
    assert skipped == [["pip", "install"], ["podman", "system"], ["docker", "run"]]
    assert [b.text.strip() for b in found if b.marker == "background"] == ["kitaru server start"]
    files = {b.argument: b.text for b in found if b.marker == "file"}
    assert set(files) == {"review/review_flow.py", "review/pyproject.toml"}
    # the page shows the seed program itself, verbatim
    assert files["review/review_flow.py"] == SEED.read_text()


def test_the_template_is_the_plugins_and_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    """``stacks/docker.yaml`` is the template the plugin's hook returns; it loads into a stack
    whose components validate for their flavors; the artifact folder must be given."""
    from kitaru.errors import ConfigError
    from kitaru.plugins.manager import plugin_manager
    from kitaru.stack.loader import load_stack_template, validate_stack

    assert plugin_manager().stack_templates()["docker"] == TEMPLATE.read_text()
    for name in ("DOCKER_HOST", "KITARU_DOCKER_REGISTRY", "KITARU_DOCKER_IMAGE",
                 "KITARU_DOCKER_SERVER_URL", "KITARU_DOCKER_ARTIFACTS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="KITARU_DOCKER_ARTIFACTS is not set"):
        load_stack_template("docker")
    monkeypatch.setenv("KITARU_DOCKER_ARTIFACTS", "/srv/kitaru-artifacts")
    spec = load_stack_template("docker")
    validate_stack(spec, source="template 'docker'")
    parts = spec.components
    assert parts["orchestrator"].flavor == parts["container_builder"].flavor == "docker"
    assert parts["container_builder"].config["registry"] == "127.0.0.1:5001/kitaru"
    assert parts["artifact_store"].config["path"] == "/srv/kitaru-artifacts"
    orchestrator = parts["orchestrator"].config
    assert orchestrator["volumes"] == ["/srv/kitaru-artifacts:/srv/kitaru-artifacts"]
    assert orchestrator["api_key"] == "{{secret:kitaru-server.api_key}}"
    monkeypatch.setenv("KITARU_DOCKER_REGISTRY", "registry.example.com/team")
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/podman/podman.sock")
    parts = load_stack_template("docker").components
    assert parts["container_builder"].config["registry"] == "registry.example.com/team"
    assert parts["orchestrator"].config["base_url"] == "unix:///run/podman/podman.sock"


@dataclass
class Session:
    """One reader's shell, block after block: its environment and folder carry over."""

    env: dict[str, str]
    cwd: Path
    state: Path
    outputs: list[tuple[str, str]] = field(default_factory=list)

    def run(self, script: str, timeout: float = 900) -> str:
        wrapped = (f"set -euo pipefail\nset -a\n{script}\n"  # set -a: ID=... carries over too
                   f"env -0 > {self.state}/env\npwd > {self.state}/cwd\n")  # fmt: skip
        done = subprocess.run(["bash", "-c", wrapped], env=self.env, cwd=self.cwd,
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
        out = done.stdout + done.stderr
        assert done.returncode == 0, f"block failed (exit {done.returncode}):\n{script}\n{out}"
        pairs = (self.state / "env").read_text().split("\0")
        self.env = dict(p.split("=", 1) for p in pairs if "=" in p)
        self.cwd = Path((self.state / "cwd").read_text().strip())
        self.outputs.append((script, out))
        return out

    def kitaru(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=self.env,
                              cwd=self.cwd, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def execution(self, execution_id: str) -> dict[str, Any]:
        item: dict[str, Any] = json.loads(
            self.kitaru("executions", "show", execution_id, "-o", "json")
        )["items"][0]
        return item

    def until(self, execution_id: str, status: str, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (found := self.execution(execution_id))["status"] != status:
            assert time.monotonic() < deadline, f"still {found['status']}, not {status}: {found}"
            assert found["status"] not in ("failed", "crashed", "cancelled"), (
                found,
                self.kitaru("executions", "logs", execution_id),
            )
            time.sleep(0.5)
        return found


@pytest.fixture
def reader_env(tmp_path: Path, runtime_image: RuntimeImage) -> Iterator[dict[str, str]]:
    """The reader's environment: this checkout's ``kitaru`` first on PATH, a fresh
    KITARU_HOME, no server or stack from this process, no DOCKER_HOST (the page sets it)."""
    from tests.conftest import subprocess_env

    env = subprocess_env(KITARU_HOME=str(tmp_path / "kitaru-home"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    for name in ("KITARU_SERVER_URL", "KITARU_API_KEY", "KITARU_STACK", "KITARU_DB_URL",
                 "DOCKER_HOST", "KITARU_DOCKER_REGISTRY", "KITARU_DOCKER_ARTIFACTS"):  # fmt: skip
        env.pop(name, None)
    # the image gets the Kitaru wheel the base image has (from a cache of this test's own:
    # a kitaru wheel in ~/.cache/kitaru/wheels may be another checkout's)
    cache = tmp_path / "cache"
    (cache / "wheels").mkdir(parents=True)
    for wheel in runtime_image.wheels.glob("kitaru-*.whl"):
        shutil.copy2(wheel, cache / "wheels")
    env["KITARU_CACHE"] = str(cache)
    # every value to the artifact store (the orchestrator passes this on to the containers):
    # the seed's values are small enough to go inline, which would leave the shared folder,
    # and so the template's volume, untested
    env["KITARU_INLINE_LIMIT"] = "0"
    yield env


def test_the_walk_through_runs_as_written(
    engine: Engine, runtime_image: RuntimeImage, reader_env: dict[str, str], tmp_path: Path
) -> None:
    started = time.monotonic()
    port = free_port()
    artifacts = tmp_path / "kitaru-artifacts"
    # what must differ here (see the module doc): page text -> this test's
    substituted = {
        "unix:///run/podman/podman.sock": engine.docker_host,
        "127.0.0.1:8237": f"127.0.0.1:{port}",
        "kitaru server start": f"kitaru server start --port {port}",
        "$HOME/kitaru-artifacts": str(artifacts),
        'base_image = "python:3.11-slim"': f'base_image = "{runtime_image.tag}"',
    }
    page = DOC.read_text()
    for text in [*substituted, DOC_KEY]:
        assert text in page, f"the page no longer shows {text!r}: update SUBSTITUTED"

    work = tmp_path / "work"
    (tmp_path / "state").mkdir()
    work.mkdir()
    shell = Session(reader_env, work, tmp_path / "state")
    server: subprocess.Popen[bytes] | None = None
    ids: list[str] = []
    try:
        for block in blocks(page):
            text = block.text
            for old, new in substituted.items():
                text = text.replace(old, new)
            if block.marker == "skip" or block.lang not in ("bash", "python", "toml"):
                continue
            if block.marker == "file":
                path = shell.cwd / block.argument
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
                continue
            if block.lang != "bash":
                continue  # shown, not saved (registries.conf: podman.sh wrote one)
            if block.marker == "background":
                server, key = start_in_background(text, shell, tmp_path / "server.log", port)
                substituted[DOC_KEY] = key
                continue
            # a reader looks again until the page's next state is there
            if text.startswith('kitaru executions show "$ID"\n'):
                ids.append(shell.env["ID"])
                shell.until(shell.env["ID"], "waiting")
            elif text.startswith('kitaru executions show "$ID"     # status completed'):
                shell.until(shell.env["ID"], "completed", timeout=120)
            elif text.startswith('kitaru artifacts load "$DEV" research'):
                ids.append(shell.env["DEV"])
                shell.until(shell.env["DEV"], "waiting")
            shell.run(text)
        check_what_happened(shell, artifacts)
    finally:
        if server is not None:
            stop_process(server)
        clean_up(engine, ids, shell.env.get("IMAGE"))
    print(f"docs/stacks/docker.md walked through in {time.monotonic() - started:.1f} s")


def start_in_background(
    command: str, shell: Session, log: Path, port: int
) -> tuple[subprocess.Popen[bytes], str]:
    """``kitaru server start`` as in a second terminal: the key it prints once."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(["bash", "-c", f"exec {command.strip()}"], env=shell.env,
                                cwd=shell.cwd, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    assert wait_until_serving(f"http://127.0.0.1:{port}/health", proc, 60), log.read_text()
    keys = re.findall(r"kitaru_[0-9a-f]+_\S+", log.read_text())
    assert keys, log.read_text()
    return proc, keys[0]


def check_what_happened(shell: Session, artifacts: Path) -> None:
    def said(command: str) -> list[str]:
        """What each block that runs ``command`` printed, in order."""
        return [out for script, out in shell.outputs if command in script]

    first, again = said("kitaru deploy review_flow.py:review_flow --stack docker")
    assert "building 127.0.0.1:5001/kitaru/review_flow:" in first and "pushing" in first, first
    assert "deployed review_flow v1 on stack 'docker'" in first
    assert "is up to date: nothing to build" in again and "building" not in again, again
    assert "deployed review_flow v2" in again
    waiting, completed = said('kitaru executions show "$ID"')
    assert "waiting on   'approve_draft': Approve draft?" in waiting, waiting
    assert "status       waiting" in waiting and "status     completed" in completed, completed

    # the invocation: a container ran it to the wait, a second one resumed and completed it
    done = shell.execution(shell.env["ID"])
    assert done["status"] == "completed"
    units = done["metadata"]["units"]
    assert [u["role"] for u in units] == ["run", "resume"]
    deployment = shell.kitaru("deployments", "show", "review_flow", "--version", "1", "-o", "json")
    assert all(u["image"] in deployment for u in units), (units, deployment)
    # values went through the shared folder: written in the containers, read here
    assert [p for p in artifacts.rglob("*") if p.is_file()], "nothing in the artifact folder"
    draft = shell.kitaru("artifacts", "load", shell.env["ID"], "draft")
    assert draft.startswith("[offline answer") and "Research: agents" in draft, draft

    # mount_code: the run used the edited file on disk, in the image built before the edit
    (research,) = said('kitaru artifacts load "$DEV" research')
    assert 'On "Research: agents. Return three bullet points.":' in research, research
    dev = shell.execution(shell.env["DEV"])
    assert dev["metadata"]["units"][0]["image"] == shell.env["IMAGE"]


def clean_up(engine: Engine, execution_ids: list[str], image: str | None) -> None:
    """The containers of this test's executions (they exit, but stay until removed) and the
    image it built (a new one each run: the project's path is in its Dockerfile)."""
    import docker
    from docker.errors import DockerException

    client = docker.DockerClient(base_url=engine.docker_host)
    for execution_id in execution_ids:
        label = f"org.kitaru.execution={execution_id}"
        for container in client.containers.list(all=True, filters={"label": label}):
            container.remove(force=True)
    if image:
        try:
            client.images.remove(image, force=True)
        except DockerException:
            pass  # already gone; the registry keeps its copy
