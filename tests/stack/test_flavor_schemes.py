"""Flavors declare the URL schemes they serve (``Flavor.schemes``, as fsspec's registry maps
protocols to filesystems): a URL's flavor is found among the installed flavors, an unknown
scheme is one line listing the schemes they serve, and a known scheme whose flavor is not
installed gets that flavor's install hint."""

from __future__ import annotations

from typing import Any

import pytest

from kitaru.errors import ConfigError


@pytest.fixture
def builtin_only(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A plugin manager with the builtin flavors only (no installed plugin)."""
    from kitaru.plugins.manager import plugin_manager, reset_plugin_manager

    monkeypatch.setenv("KITARU_PLUGINS", "")
    reset_plugin_manager()
    return plugin_manager()


@pytest.mark.parametrize("scheme", ["file", "", "FILE"])
def test_the_local_artifact_store_serves_file_urls_and_bare_paths(
    builtin_only: Any, scheme: str
) -> None:
    flavor = builtin_only.flavor_for_scheme("artifact_store", scheme)
    assert (flavor.name, flavor.provider) == ("local", "kitaru")
    assert set(flavor.schemes) == {"file", ""}


def test_a_plugin_flavor_serves_the_schemes_it_declares(fake_plugin: Any) -> None:
    from kitaru.plugins.manager import plugin_manager

    flavor = plugin_manager().flavor_for_scheme("artifact_store", "keyed")
    assert (flavor.name, flavor.provider) == ("keyed", "kitaru-fake")
    assert flavor.to_dict()["schemes"] == ["keyed"]


def test_schemes_are_per_component_type(builtin_only: Any) -> None:
    with pytest.raises(ConfigError, match="no installed secret_store flavor serves file://"):
        builtin_only.flavor_for_scheme("secret_store", "file")


@pytest.mark.parametrize(
    "scheme, flavor, dist",
    [("s3", "s3", "kitaru-aws"), ("gs", "gcs", "kitaru-gcp")],
)
def test_a_known_scheme_whose_flavor_is_not_installed_says_what_to_install(
    builtin_only: Any, scheme: str, flavor: str, dist: str
) -> None:
    with pytest.raises(ConfigError) as info:
        builtin_only.flavor_for_scheme("artifact_store", scheme)
    assert info.value.message == f"no installed artifact_store flavor serves {scheme}:// URLs"
    assert info.value.hint == f"flavor {flavor!r} is provided by {dist}: pip install {dist}"


def test_an_unknown_scheme_lists_the_schemes_installed_flavors_serve(fake_plugin: Any) -> None:
    from kitaru.plugins.manager import plugin_manager

    with pytest.raises(ConfigError) as info:
        plugin_manager().flavor_for_scheme("artifact_store", "ftp")
    message = info.value.message
    assert "\n" not in message
    assert message.startswith("no installed artifact_store flavor serves ftp:// URLs")
    assert "file://" in message and "keyed://" in message and "a bare path" in message


def test_every_install_hint_names_a_plugin_of_this_repository() -> None:
    """A hint must be true: each distribution it names is one of plugins/*, each scheme's
    flavor has a hint."""
    import tomllib
    from pathlib import Path

    from kitaru.plugins.known import KNOWN_FLAVORS, KNOWN_SCHEMES

    repo = Path(__file__).resolve().parents[2]
    ours = {tomllib.loads(p.read_text())["project"]["name"]
            for p in repo.glob("plugins/*/pyproject.toml")}  # fmt: skip
    assert set(KNOWN_FLAVORS.values()) <= ours, set(KNOWN_FLAVORS.values()) - ours
    assert set(KNOWN_SCHEMES.values()) <= set(KNOWN_FLAVORS)
