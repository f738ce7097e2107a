"""The ``kitaru`` pytest plugin (entry point ``pytest11``): fixtures for testing flavors.

Loaded by pytest wherever ``kitaru`` is installed; importing it costs pytest only.

- ``isolated_kitaru_home``: a fresh, empty ``KITARU_HOME`` (metadata store, artifacts, logs,
  local secrets) for one test, with no active stack from the environment.
- ``kitaru_plugin_manager``: a plugin manager built now, from this test's environment (so
  ``monkeypatch.setenv("KITARU_PLUGINS", ...)`` applies), and made the process's manager for the
  duration of the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kitaru.plugins.manager import PluginManager


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
