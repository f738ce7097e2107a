"""``kitaru server start --artifact-store URL`` finds the flavor through the flavors' declared
schemes (``Flavor.schemes``): ``kitaru/server/run.py`` names no cloud."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from kitaru.errors import ConfigError
from tests.conftest import REPO

RUN_PY = REPO / "kitaru_core" / "src" / "kitaru" / "server" / "run.py"


@pytest.fixture
def builtin_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from kitaru.plugins.manager import reset_plugin_manager

    monkeypatch.setenv("KITARU_PLUGINS", "")
    reset_plugin_manager()


def artifact_store_of_local_stack() -> dict[str, Any]:
    from kitaru.stack.registry import get_stack

    return get_stack("local").model_dump()["components"]["artifact_store"]


@pytest.mark.parametrize("form", ["bare", "file-url"])
def test_a_folder_or_file_url_is_the_local_flavor(
    builtin_only: None, tmp_path: Path, form: str
) -> None:
    from kitaru.server.run import use_artifact_store

    folder = tmp_path / "shared"
    url = str(folder) if form == "bare" else folder.as_uri()
    assert use_artifact_store(url) == "local"
    store = artifact_store_of_local_stack()
    assert (store["flavor"], store["config"]["path"]) == ("local", url)


def test_a_relative_path_is_resolved_for_the_clients(
    builtin_only: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitaru.server.run import use_artifact_store

    monkeypatch.chdir(tmp_path)
    use_artifact_store("artifacts")
    assert artifact_store_of_local_stack()["config"]["path"] == str(tmp_path / "artifacts")


def test_a_scheme_no_flavor_serves_is_one_line_listing_the_served_ones(builtin_only: None) -> None:
    from kitaru.server.run import use_artifact_store

    with pytest.raises(ConfigError) as info:
        use_artifact_store("ftp://host/artifacts")
    assert info.value.message == (
        "no installed artifact_store flavor serves ftp:// URLs "
        "(installed flavors serve: file://, a bare path)"
    )


@pytest.mark.parametrize("url, dist", [("gs://bucket/k", "kitaru-gcp"), ("s3://b/k", "kitaru-aws")])
def test_a_cloud_scheme_whose_plugin_is_not_installed_says_what_to_install(
    builtin_only: None, url: str, dist: str
) -> None:
    from kitaru.server.run import use_artifact_store

    with pytest.raises(ConfigError) as info:
        use_artifact_store(url)
    assert info.value.hint is not None and f"pip install {dist}" in info.value.hint


def test_run_py_names_no_cloud() -> None:
    assert not re.findall(r"s3|gcs|azure", RUN_PY.read_text())
