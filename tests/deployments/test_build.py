"""`kitaru build` before any engine: settings from @flow(image=) or [tool.kitaru.image], the
generated Dockerfile, the content-hash tag, and the no-op on stacks that need no image. Building
real images is tested with the docker plugin (plugins/kitaru-docker) against podman."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kitaru.build import ImageSettings, context_hash, dockerfile, image_settings, project_root
from kitaru.errors import ConfigError
from tests.conftest import subprocess_env

FLOW = """
from kitaru import flow

@flow{decorator}
def packed(x: int) -> int:
    return x
"""


def load(tmp_path: Path, decorator: str = "", pyproject: str | None = None):  # type: ignore[no-untyped-def]
    from kitaru.runtime.codeloc import load_file

    (tmp_path / "packed.py").write_text(FLOW.format(decorator=decorator))
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    main = sys.modules["__main__"]
    try:
        flow = load_file(str(tmp_path / "packed.py")).packed
        assert flow.location.source_file == str(tmp_path / "packed.py")  # resolved while loaded
        return flow
    finally:
        sys.modules["__main__"] = main  # load_file runs the file as __main__: put ours back


def test_settings_from_the_decorator_or_pyproject(tmp_path: Path) -> None:
    flow = load(tmp_path, '(image={"base_image": "localhost/debian-py", "apt_packages": ["git"]})')
    assert image_settings(flow) == ImageSettings(base_image="localhost/debian-py",
                                                 apt_packages=["git"])  # fmt: skip
    other = tmp_path / "proj"
    other.mkdir()
    flow = load(other, pyproject='[tool.kitaru.image]\nrequirements = ["httpx==0.28"]\n')
    assert image_settings(flow).requirements == ["httpx==0.28"]
    assert project_root(flow) == other
    bad = tmp_path / "bad"
    bad.mkdir()
    flow = load(bad, pyproject="[tool.kitaru.image]\nbase = 'x'\n")
    with pytest.raises(ConfigError, match=r"\[tool.kitaru.image\] in .*: base: Extra inputs"):
        image_settings(flow)


def test_dockerfile_installs_kitaru_then_requirements_and_maps_the_code(tmp_path: Path) -> None:
    text = dockerfile(ImageSettings(base_image="b", apt_packages=["git"], requirements=["x==1"],
                                    environment={"MODE": "prod"}), tmp_path)  # fmt: skip
    lines = text.splitlines()
    assert lines[0] == "FROM b"
    assert "apt-get install -y --no-install-recommends git" in lines[1]
    assert lines.index("RUN python3 -m pip install --no-cache-dir /tmp/kitaru-wheels/*.whl") < (
        lines.index("RUN python3 -m pip install --no-cache-dir 'x==1'")
    )
    assert f'ENV KITARU_CODE_MAP="{tmp_path}=/app"' in lines and 'ENV MODE="prod"' in lines
    assert lines[-1] == 'ENTRYPOINT ["python3", "-m", "kitaru.entrypoint"]'


def test_context_hash_changes_only_with_the_content(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("1")
    first = context_hash(tmp_path)
    assert context_hash(tmp_path) == first
    (tmp_path / "a.py").write_text("2")
    assert context_hash(tmp_path) != first


def test_build_is_a_no_op_on_the_local_stack(tmp_path: Path) -> None:
    (tmp_path / "packed.py").write_text(FLOW.format(decorator=""))
    out = subprocess.run([sys.executable, "-m", "kitaru.cli", "build", "packed.py:packed"],
                         cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "runs flows as local processes: no image to build" in out.stdout


def test_the_stacks_plugins_go_into_the_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plugins installed from a source folder (this workspace's editable kitaru-docker) are
    built into wheels; those from an index are pip requirements pinned to the installed
    version, installed in the same pip call as the Kitaru wheel."""
    from importlib.metadata import version

    from kitaru.build import plugin_wheels, stack_providers
    from kitaru.stack.loader import parse_stack_text
    from kitaru.stack.model import Stack

    pytest.importorskip("kitaru_docker")
    monkeypatch.setenv("KITARU_CACHE", str(tmp_path / "cache"))
    stack = Stack(parse_stack_text(
        "name: d\ncomponents:\n  orchestrator: {flavor: docker}\n"
        "  artifact_store: {flavor: local, config: {path: /x}}\n", source="test"))  # fmt: skip
    assert stack_providers(stack) == {"kitaru", "kitaru-docker"}
    wheels = tmp_path / "wheels"
    assert plugin_wheels({"kitaru", "kitaru-docker", "click"}, wheels) == [
        f"click=={version('click')}"
    ]
    (built,) = wheels.iterdir()
    assert built.name.startswith("kitaru_docker-") and built.suffix == ".whl"
    again = tmp_path / "again"
    plugin_wheels({"kitaru-docker"}, again)  # cached by source hash: the same file
    assert (again / built.name).read_bytes() == built.read_bytes()
    text = dockerfile(ImageSettings(), tmp_path, ["click==8"])
    assert "RUN python3 -m pip install --no-cache-dir /tmp/kitaru-wheels/*.whl 'click==8'" in text
