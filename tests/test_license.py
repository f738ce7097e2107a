"""The repository and every distribution carry the Apache-2.0 license their pyproject declares."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_distribution_has_the_license_it_declares() -> None:
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    projects = [REPO / "kitaru_core", *REPO.glob("plugins/*"), *REPO.glob("examples/*-plugin-*")]
    for folder in projects:
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        assert project.get("license") == "Apache-2.0", folder
        assert (folder / "LICENSE").read_text() == text, f"{folder}/LICENSE"
