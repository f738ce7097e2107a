"""Fixtures for plugin tests: real distributions with ``kitaru`` entry points, on sys.path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.distributions import BROKEN, FAULTY_HOOK, GOOD, Distribution, write_distribution


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A directory standing in for site-packages."""
    return tmp_path / "site"


@pytest.fixture
def broken_plugin(site: Path) -> Iterator[Distribution]:
    """``broken-plugin``: entry point ``broken`` whose module raises ImportError at import."""
    dist = write_distribution(site, "broken-plugin", "broken_plugin", BROKEN, entry_point="broken")
    yield dist
    dist.forget()


@pytest.fixture
def faulty_hook_plugin(site: Path) -> Iterator[Distribution]:
    dist = write_distribution(site, "faulty-plugin", "faulty_plugin", FAULTY_HOOK,
                              entry_point="faulty")  # fmt: skip
    yield dist
    dist.forget()


@pytest.fixture
def good_plugin(site: Path) -> Iterator[Distribution]:
    dist = write_distribution(site, "good-plugin", "good_plugin", GOOD, entry_point="good")
    yield dist
    dist.forget()


@pytest.fixture
def on_sys_path(site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make this process see the distributions written into ``site``."""
    monkeypatch.syspath_prepend(str(site))
    for var in ("KITARU_PLUGINS", "KITARU_STRICT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    return site
