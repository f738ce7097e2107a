"""The ``kitaru`` pytest plugin (entry point ``pytest11``): fixtures for testing flavors.

Loaded by pytest wherever ``kitaru`` is installed; importing it costs pytest only.

- ``isolated_kitaru_home``: a fresh, empty ``KITARU_HOME`` (metadata store, artifacts, logs,
  local secrets) for one test, with no active stack from the environment.
- ``kitaru_plugin_manager``: a plugin manager built now, from this test's environment (so
  ``monkeypatch.setenv("KITARU_PLUGINS", ...)`` applies), and made the process's manager for the
  duration of the test.
- ``kitaru_smoke``: runs a flow end to end on a stack with local stand-ins for its cloud
  services, as ``kitaru smoke`` does (docs/ci.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kitaru.plugins.manager import PluginManager
    from kitaru.smoke.report import SmokeReport


@pytest.fixture
def isolated_kitaru_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A new ``KITARU_HOME`` for this test; the default metadata store follows it."""
    from kitaru.store import reset_default_store

    home = tmp_path_factory.mktemp("kitaru-home")
    monkeypatch.setenv("KITARU_HOME", str(home))
    monkeypatch.delenv("KITARU_STACK", raising=False)
    reset_default_store()
    yield home
    reset_default_store()


@pytest.fixture
def kitaru_plugin_manager(monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    """A plugin manager loaded from the current environment, used by ``plugin_manager()``."""
    from kitaru.plugins import manager

    fresh = manager.PluginManager()
    monkeypatch.setattr(manager, "_manager", fresh)
    return fresh


@pytest.fixture
def kitaru_smoke() -> Callable[..., SmokeReport]:
    """``kitaru smoke`` inside a test: ``report = kitaru_smoke("flows.py:review",
    "stacks/aws.yaml", answers={"approve": True})`` runs the flow end to end on the stack with
    the stand-ins its plugins declare (a registered stack name works too); then
    ``assert report.passed, report.render()``. Keyword arguments are those of
    :class:`kitaru.smoke.run.SmokeOptions` (inputs, answers, secrets, llm_key, registry,
    docker_host, timeout)."""
    from kitaru.smoke.run import SmokeOptions, smoke

    def run(target: str, stack: str, **options: Any) -> SmokeReport:
        return smoke(target, stack, SmokeOptions(**options))

    return run
