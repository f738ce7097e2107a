"""``scripts/standins/azurite.sh``, which installs Azurite for these tests (and
``scripts/run_tests.sh`` runs before pytest): it installs the version the product looks for,
where it looks, says so on stdout, does nothing once installed, and exits 77 — the tests then
skip — where npm is missing. No npm install here: an install is the script's first run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from azure_standins import AZURITE_VERSION, INSTALL


def run(cache: Path, path: str) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(cache.parent), "KITARU_CACHE": str(cache), "PATH": path}
    return subprocess.run(["/bin/bash", str(INSTALL)], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_it_installs_the_version_the_plugin_looks_for() -> None:
    assert f"\nVERSION={AZURITE_VERSION}\n" in INSTALL.read_text()


def test_once_installed_it_only_says_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An install in the cache (where ``kitaru_azure.smoke.azurite`` looks): no npm needed."""
    from kitaru_azure.smoke import azurite

    cache = tmp_path / "cache"
    script = cache / f"azurite-{AZURITE_VERSION}" / "node_modules" / ".bin" / "azurite-blob"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    done = run(cache, "/nonexistent")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"export KITARU_AZURITE={script}\n"
    monkeypatch.setenv("KITARU_CACHE", str(cache))
    assert azurite.cached_azurite() == script


def test_without_npm_it_exits_77_saying_why(tmp_path: Path) -> None:
    done = run(tmp_path / "cache", "/nonexistent")
    assert done.returncode == 77, (done.returncode, done.stderr)
    assert "Azurite cannot be installed here: no npm" in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "cache" / f"azurite-{AZURITE_VERSION}").exists()
