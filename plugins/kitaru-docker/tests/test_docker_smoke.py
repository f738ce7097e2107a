"""``kitaru smoke`` on the docker stack template (``stacks/docker.yaml``), registered nowhere,
with the production-like values a team's CI would set: the image is built FROM the project's
base image, pushed to the run's registry in place of the stack's, and each execution unit runs
in a container of the engine that reports to the smoke run's own server; the approval wait is
answered from ``--answer``. A flow that imports a package the image lacks fails the run with
the unit's one-line reason. Skipped where podman cannot run (``podman.sh`` exits 77)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import subprocess_env

if TYPE_CHECKING:  # `import conftest` at run time gets whichever plugin's conftest came last
    from conftest import Engine, RuntimeImage

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / "examples" / "review_flow.py"
#: where the team's stack pushes for real; the smoke run pushes to the engine's registry instead
PRODUCTION_REGISTRY = "registry.example.com/team/kitaru"
# the engine and the runtime image are session fixtures: one worker builds them once
pytestmark = [pytest.mark.timeout(1200), pytest.mark.xdist_group("kitaru-docker-image")]


def _project(tmp_path: Path, runtime_image: RuntimeImage, flow_source: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "review_flow.py").write_text(flow_source)
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "seed"\nversion = "0"\n\n'
        f'[tool.kitaru.image]\nbase_image = "{runtime_image.tag}"\n'
    )
    return project


def _smoke(tmp_path: Path, engine: Engine, runtime_image: RuntimeImage, project: Path,
           *args: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir(exist_ok=True)
    cache = tmp_path / "cache"  # this checkout's Kitaru wheel, as in the base image
    (cache / "wheels").mkdir(parents=True, exist_ok=True)
    for wheel in runtime_image.wheels.glob("kitaru-*.whl"):
        shutil.copy2(wheel, cache / "wheels")
    env = subprocess_env(
        KITARU_HOME=str(tmp_path / "home"), KITARU_CACHE=str(cache), DOCKER_HOST=engine.docker_host,
        KITARU_DOCKER_ARTIFACTS=str(artifacts), KITARU_DOCKER_REGISTRY=PRODUCTION_REGISTRY,
        KITARU_SMOKE_REGISTRY=engine.registry.split("/")[0],
    )  # fmt: skip
    for name in ("KITARU_SERVER_URL", "KITARU_API_KEY", "KITARU_STACK"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "kitaru.cli", "smoke", f"{project / 'review_flow.py'}:review_flow",
         "--stack", str(REPO / "stacks" / "docker.yaml"), *args],
        env=env, cwd=project, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_the_seed_flow_passes_on_the_docker_stack_template(
    engine: Engine, runtime_image: RuntimeImage, tmp_path: Path
) -> None:
    project = _project(tmp_path, runtime_image, SEED.read_text())
    done = _smoke(tmp_path, engine, runtime_image, project, "--answer", "approve_draft=true")
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    out = done.stdout
    assert out.startswith("kitaru smoke review_flow on stack 'docker': passed")
    registry = engine.registry.split("/")[0]
    assert (f"container_builder  docker → pushes to {registry}/team/kitaru (in place of "
            f"{PRODUCTION_REGISTRY})") in out  # fmt: skip
    assert "secret_store       local → the run's own folder (KITARU_HOME untouched)" in out
    assert "kitaru-server.api_key = the smoke run's server key" in out
    assert "waits answered: approve_draft" in out and "LLM: 2 call(s)" in out
    assert "deploy (build + push)" in out


def test_a_flow_importing_a_package_missing_from_the_image_fails_naming_it(
    engine: Engine, runtime_image: RuntimeImage, tmp_path: Path
) -> None:
    source = "import pytest  # a dev dependency here, not in the image\n" + SEED.read_text()
    project = _project(tmp_path, runtime_image, source)
    done = _smoke(tmp_path, engine, runtime_image, project, "--answer", "approve_draft=true")
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    reason = [x for x in done.stdout.splitlines() if x.startswith("  reason: ")]
    assert len(reason) == 1 and "No module named 'pytest'" in reason[0], done.stdout
