"""Shared fixtures: every test gets its own KITARU_HOME (store, artifacts, logs)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@pytest.fixture(autouse=True)
def kitaru_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from kitaru.store import reset_default_store

    home = tmp_path / "kitaru-home"
    monkeypatch.setenv("KITARU_HOME", str(home))
    reset_default_store()
    yield home
    reset_default_store()


@pytest.fixture
def client() -> object:
    from kitaru import KitaruClient

    return KitaruClient()


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for child processes: the current KITARU_HOME and the repo on sys.path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env
