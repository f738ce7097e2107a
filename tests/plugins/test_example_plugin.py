"""``examples/kitaru-plugin-example``, installed next to ``kitaru`` in a fresh virtualenv, works
with zero changes to the core: its flavor is listed, its contract suite passes, and a stack
registered from its YAML keeps a flow's artifacts in its store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "kitaru-plugin-example"
UV = Path.home() / ".cache" / "kitaru" / "bootstrap" / "bin" / "uv"

pytestmark = [pytest.mark.timeout(900), pytest.mark.xdist_group("example-plugin-venv")]

BIG_FLOW = """\
from kitaru import checkpoint, flow


@checkpoint
def big(n: int) -> str:
    return "x" * n


@flow
def report(n: int) -> int:
    return len(big(n))
"""


def uv() -> str:
    found = str(UV) if UV.exists() else shutil.which("uv")
    if found is None:
        pytest.fail(f"uv not found at {UV} or on PATH; run `make setup`")
    return found


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with kitaru (from kitaru_core), the example and pytest: nothing else."""
    root = tmp_path_factory.mktemp("example-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    install = [uv(), "pip", "install", "--quiet", "--python", str(python),
               str(REPO / "kitaru_core"), str(EXAMPLE), "pytest"]  # fmt: skip
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    # The workspace's uv cache holds everything; go online only if it does not.
    if subprocess.run([*install, "--offline"], env=env, capture_output=True).returncode != 0:
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    return python


def run_in(venv: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the venv's python with an environment that knows nothing of this workspace."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("PYTEST_", "KITARU_", "VIRTUAL_ENV", "PYTHON"))}  # fmt: skip
    clean.update(PYTHONDONTWRITEBYTECODE="1", KITARU_HOME=str(cwd / "home"), **env)
    return subprocess.run([str(venv), *args], cwd=cwd, env=clean, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


LIST_FLAVORS = """\
import json, sys
from kitaru.plugins.manager import plugin_manager
flavors = [f.to_dict() for f in plugin_manager().flavors()]
imported = [m for m in ("kitaru_plugin_example.prefixed_store",
                        "kitaru_plugin_example.subprocess_job") if m in sys.modules]
print(json.dumps({"flavors": flavors, "implementations_imported": imported}))
"""


def test_the_flavors_are_listed_without_importing_them(venv: Path, tmp_path: Path) -> None:
    out = run_in(venv, "-c", LIST_FLAVORS, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    ours = {f["name"]: f for f in listed["flavors"] if f["provider"] == "kitaru-plugin-example"}
    assert {n: f["type"] for n, f in ours.items()} == {
        "prefixed": "artifact_store", "subprocess-job": "orchestrator"}  # fmt: skip
    assert listed["implementations_imported"] == []


def test_kitaru_flavor_list_shows_it(venv: Path, tmp_path: Path) -> None:
    out = run_in(venv, "-m", "kitaru.cli", "flavor", "list", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "prefixed" in out.stdout and "kitaru-plugin-example" in out.stdout
    assert "subprocess-job" in out.stdout


def test_the_contract_suite_passes(venv: Path, tmp_path: Path) -> None:
    out = run_in(venv, "-m", "pytest", str(EXAMPLE / "tests"), "-q", "-p", "no:cacheprovider",
                 cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert " passed" in out.stdout and "failed" not in out.stdout


def test_a_stack_from_yaml_keeps_the_flow_artifacts_in_its_store(
    venv: Path, tmp_path: Path
) -> None:
    store = tmp_path / "kx-store"
    (tmp_path / "big_flow.py").write_text(BIG_FLOW)
    register = run_in(venv, "-m", "kitaru.cli", "stack", "register", "example",
                      "--file", str(EXAMPLE / "stack.yaml"), cwd=tmp_path,
                      EXAMPLE_STORE=str(store))  # fmt: skip
    assert register.returncode == 0, register.stderr

    # The same flow file, unchanged, on the builtin local stack ...
    local = run_in(venv, "-m", "kitaru.cli", "run", "big_flow.py:report", "--input",
                   '{"n": 200000}', cwd=tmp_path)  # fmt: skip
    assert local.returncode == 0, local.stderr
    assert local.stdout.splitlines()[-1] == "200000"
    assert list((tmp_path / "home" / "artifacts").rglob("*"))
    assert not store.exists() or not list(store.rglob("*"))

    # ... and on the stack whose artifact store is the plugin's.
    example = run_in(venv, "-m", "kitaru.cli", "run", "big_flow.py:report", "--input",
                     '{"n": 300000}', cwd=tmp_path, KITARU_STACK="example")  # fmt: skip
    assert example.returncode == 0, example.stderr
    assert example.stdout.splitlines()[-1] == "300000"
    blobs = [p for p in (store / "kx").rglob("*") if p.is_file()]
    assert blobs, f"no artifact under {store / 'kx'}"
    assert any(p.stat().st_size >= 300000 for p in blobs)


def test_kitaru_run_on_the_subprocess_job_stack(venv: Path, tmp_path: Path) -> None:
    """``kitaru run`` hands the execution to the plugin's orchestrator: a detached process runs
    it, the command waits for the result through the store."""
    (tmp_path / "big_flow.py").write_text(BIG_FLOW)
    register = run_in(venv, "-m", "kitaru.cli", "stack", "register", "jobs",
                      "--file", str(EXAMPLE / "jobs-stack.yaml"), cwd=tmp_path)  # fmt: skip
    assert register.returncode == 0, register.stderr
    run = run_in(venv, "-m", "kitaru.cli", "run", "big_flow.py:report", "--input", '{"n": 5}',
                 cwd=tmp_path, KITARU_STACK="jobs")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "5"
    (unit,) = (tmp_path / "home" / "units").iterdir()
    assert unit.name.startswith("kitaru-run-") and (unit / "exit").read_text() == "0\n"
