"""Every stack test: its own KITARU_HOME (from tests/conftest.py), a working directory with no
pyproject.toml above it, no KITARU_STACK, no configure() override, fresh plugin manager."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result


@pytest.fixture(autouse=True)
def clean_stack_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from kitaru import config
    from kitaru.plugins.manager import reset_plugin_manager
    from kitaru.stack.active import reset_stack_cache

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("KITARU_STACK", raising=False)
    monkeypatch.delenv("KITARU_DEBUG", raising=False)
    # no pyproject.toml above the working directory (tmp_path lives under /tmp)
    from kitaru.stack.active import find_pyproject

    assert find_pyproject() is None, "a pyproject.toml above the test's tmp_path"
    saved = dict(config._overrides)
    config._overrides.pop("stack", None)
    reset_plugin_manager()
    reset_stack_cache()
    yield work
    config._overrides.clear()
    config._overrides.update(saved)
    reset_plugin_manager()
    reset_stack_cache()


@pytest.fixture
def fake_plugin() -> Any:
    """Register tests.stack.fake_plugin (flavor ``keyed``) with this process's plugin manager."""
    from kitaru.plugins.manager import PluginInfo, plugin_manager
    from tests.stack import fake_plugin as module

    plugin_manager()._register(module, PluginInfo("fake", "kitaru-fake", "0.0.1"))
    return module


@pytest.fixture
def invoke() -> Callable[..., Result]:
    """The CLI in-process (stdout and stderr apart), through the real error reporting."""
    from kitaru.cli.main import cli

    def run(*args: str, **kwargs: Any) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)

    return run


#: a two-component stack whose artifact store path is filled in by the test
DEV = """\
name: dev
components:
  orchestrator:
    flavor: local
  artifact_store:
    flavor: local
    config:
      path: {path}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
