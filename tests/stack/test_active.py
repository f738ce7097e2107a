"""Which stack is active: explicit > configure() > KITARU_STACK > pyproject > global > local."""

from __future__ import annotations

from pathlib import Path

import pytest

import kitaru
from kitaru.errors import ConfigError
from kitaru.stack import registry
from kitaru.stack.active import active_stack, active_stack_name, resolve_active
from tests.stack.conftest import write


@pytest.fixture
def stacks(tmp_path: Path) -> list[str]:
    """Stacks s1..s5, each with its own artifact folder."""
    names = [f"s{i}" for i in range(1, 6)]
    for name in names:
        registry.register_component("artifact_store", name, "local",
                                    {"path": str(tmp_path / name)})  # fmt: skip
        registry.register_stack_from(name, {"orchestrator": "local", "artifact_store": name})
    return names


def test_each_layer_overrides_the_ones_below(
    stacks: list[str], clean_stack_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resolve_active() == ("local", "the default")
    registry.use_stack("s1")  # global config
    name, origin = resolve_active()
    assert name == "s1" and "config.yaml" in origin
    write(
        clean_stack_state / "pyproject.toml", '[project]\nname = "p"\n[tool.kitaru]\nstack = "s2"\n'
    )
    name, origin = resolve_active()
    assert name == "s2" and "pyproject.toml" in origin
    monkeypatch.setenv("KITARU_STACK", "s3")
    assert resolve_active() == ("s3", "environment variable KITARU_STACK")
    kitaru.configure(stack="s4")
    assert resolve_active() == ("s4", "kitaru.configure(stack=...)")
    assert active_stack_name("s5") == "s5"
    assert active_stack("s5").artifact_store.root.endswith("/s5")
    # and back down, layer by layer
    kitaru.configure()
    assert active_stack_name() == "s3"
    monkeypatch.delenv("KITARU_STACK")
    assert active_stack_name() == "s2"
    (clean_stack_state / "pyproject.toml").unlink()
    assert active_stack_name() == "s1"
    registry.use_stack("local")
    assert active_stack_name() == "local"


def test_pyproject_is_found_from_a_subdirectory(
    stacks: list[str], clean_stack_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(clean_stack_state / "pyproject.toml", '[tool.kitaru]\nstack = "s2"\nother = 1\n')
    sub = clean_stack_state / "src" / "pkg"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert active_stack_name() == "s2"
    # a pyproject without [tool.kitaru] stack falls through to the global config
    write(clean_stack_state / "pyproject.toml", '[project]\nname = "p"\n')
    assert active_stack_name() == "local"


def test_empty_environment_variable_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITARU_STACK", "")
    assert active_stack_name() == "local"


@pytest.mark.parametrize("layer", ["env", "pyproject", "global", "configure", "explicit"])
def test_an_unknown_stack_is_an_error_never_local(
    layer: str, clean_stack_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitaru.stack.active import write_global_config

    explicit = None
    if layer == "env":
        monkeypatch.setenv("KITARU_STACK", "nope")
    elif layer == "pyproject":
        write(clean_stack_state / "pyproject.toml", '[tool.kitaru]\nstack = "nope"\n')
    elif layer == "global":
        write_global_config(active_stack="nope")  # e.g. deleted by hand
    elif layer == "configure":
        kitaru.configure(stack="nope")
    else:
        explicit = "nope"
    with pytest.raises(ConfigError) as err:
        active_stack(explicit)
    assert "stack 'nope' is not registered" in err.value.message
    assert "set by" in err.value.message
    assert "registered stacks: local" in (err.value.hint or "")


def test_invalid_pyproject_is_a_config_error(clean_stack_state: Path) -> None:
    write(clean_stack_state / "pyproject.toml", "[tool.kitaru\nstack = 1\n")
    with pytest.raises(ConfigError, match=r"pyproject\.toml"):
        active_stack_name()


def test_the_settings_class_gives_the_same_answer(
    stacks: list[str], clean_stack_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitaru.stack.active import stack_settings_class

    registry.use_stack("s1")
    assert stack_settings_class()().stack == "s1"
    write(clean_stack_state / "pyproject.toml", '[tool.kitaru]\nstack = "s2"\n')
    assert stack_settings_class()().stack == "s2"
    monkeypatch.setenv("KITARU_STACK", "s3")
    assert stack_settings_class()().stack == "s3"


def test_components_are_built_lazily_and_cached() -> None:
    stack = active_stack()
    assert stack.name == "local" and stack._components == {}
    store = stack.artifact_store
    assert list(stack._components) == ["artifact_store"]
    assert stack.artifact_store is store
    assert active_stack() is stack  # same spec, same object
    assert stack.container_builder is None
    assert stack.component("orchestrator") is stack.orchestrator
    with pytest.raises(ConfigError, match="unknown component type"):
        stack.component("database")


def test_verify_reports_each_component(tmp_path: Path) -> None:
    blocker = write(tmp_path / "file", "not a folder")
    registry.register_component("artifact_store", "broken", "local", {"path": str(blocker / "x")})
    registry.register_stack_from("b", {"orchestrator": "local", "artifact_store": "broken"})
    results = active_stack("b").verify()
    assert [(t, n, ok) for t, n, ok, _ in results] == [
        ("orchestrator", "local", True), ("artifact_store", "broken", False),
        ("secret_store", "local", True), ("llm_gateway", "local", True),
    ]  # fmt: skip
    assert "not writable" in results[1][3]


def test_a_flavor_that_is_gone_names_the_stack_and_the_hint(
    tmp_path: Path, fake_plugin: object
) -> None:
    from kitaru.plugins.manager import reset_plugin_manager

    registry.register_stack(registry.StackSpec.model_validate({
        "name": "k", "components": {"orchestrator": {"flavor": "local"}, "artifact_store": {
            "flavor": "keyed", "config": {"token": "{{secret:k.t}}"}}}}))  # fmt: skip
    reset_plugin_manager()  # the plugin is uninstalled
    stack = active_stack("k")
    with pytest.raises(ConfigError) as err:
        stack.artifact_store  # noqa: B018
    assert "stack 'k'" in err.value.message and "keyed" in err.value.message


def test_python_api(tmp_path: Path, stacks: list[str]) -> None:
    assert [s.name for s in kitaru.list_stacks()] == ["local", *stacks]
    assert kitaru.current_stack().name == "local"
    kitaru.use_stack("s2")
    assert kitaru.current_stack().name == "s2"
    with pytest.raises(ConfigError):
        kitaru.use_stack("nope")
    assert kitaru.current_stack().name == "s2"
