"""The ``kitaru`` pytest plugin is registered through its entry point, and its fixtures do what
they say."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kitaru.plugins.manager import PluginManager


def test_the_plugin_is_loaded_by_its_entry_point(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.hasplugin("kitaru")


def test_isolated_kitaru_home(isolated_kitaru_home: Path, kitaru_home: Path) -> None:
    from kitaru.config import settings
    from kitaru.store import default_store

    assert isolated_kitaru_home != kitaru_home
    assert os.environ["KITARU_HOME"] == str(isolated_kitaru_home)
    assert "KITARU_STACK" not in os.environ
    assert list(isolated_kitaru_home.iterdir()) == []
    default_store()
    assert settings().db_path.parent == isolated_kitaru_home
    assert settings().db_path.exists()


def test_kitaru_plugin_manager_is_the_process_manager(
    kitaru_plugin_manager: PluginManager,
) -> None:
    from kitaru.plugins.manager import plugin_manager

    assert plugin_manager() is kitaru_plugin_manager
    assert ("artifact_store", "local") in {(f.type, f.name) for f in plugin_manager().flavors()}


def test_kitaru_plugin_manager_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setenv("KITARU_PLUGINS", "")
    manager: PluginManager = request.getfixturevalue("kitaru_plugin_manager")
    assert [p.name for p in manager.plugins()] == ["kitaru"]
