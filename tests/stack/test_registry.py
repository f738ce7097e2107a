"""Registered stacks and components: persisted, shared, protected while in use."""

from __future__ import annotations

from pathlib import Path

import pytest

from kitaru.errors import ConfigError, Conflict, NotFound
from kitaru.stack import registry
from kitaru.stack.active import active_stack_name, read_global_config
from kitaru.stack.loader import load_stack_file
from tests.stack.conftest import DEV, write


def register_dev(tmp_path: Path, name: str = "dev") -> None:
    text = DEV.format(path=tmp_path / f"{name}-artifacts")
    registry.register_stack(load_stack_file(write(tmp_path / f"{name}.yaml", text), name=name))


def test_the_builtin_local_stack_always_exists() -> None:
    assert [s.name for s in registry.list_stacks()] == ["local"]
    local = registry.get_stack("local")
    assert {k: c.flavor for k, c in local.components.items()} == {
        "orchestrator": "local", "artifact_store": "local", "secret_store": "local",
        "llm_gateway": "offline",
    }  # fmt: skip
    assert not registry.is_registered("local")
    assert {(c.type, c.name) for c in registry.list_components()} == {
        (t, "local") for t in ("orchestrator", "artifact_store", "secret_store", "llm_gateway")
    }


def test_unknown_stack_is_an_error_listing_the_registered_ones(tmp_path: Path) -> None:
    register_dev(tmp_path)
    with pytest.raises(ConfigError) as err:
        registry.get_stack("nope")
    assert err.value.message == "stack 'nope' is not registered"
    assert "dev, local" in (err.value.hint or "")


def test_register_persists_and_inline_components_are_named_after_the_stack(tmp_path: Path) -> None:
    from kitaru.store import reset_default_store

    register_dev(tmp_path)
    reset_default_store()  # a fresh connection, as another process would open
    spec = registry.get_stack("dev")
    assert spec.component_name("artifact_store") == "dev"
    assert spec.components["artifact_store"].config == {"path": str(tmp_path / "dev-artifacts")}
    assert spec.component_name("orchestrator") == "dev"
    # the defaults filled in link to the builtin components, not copies
    assert spec.component_name("secret_store") == "local"
    assert registry.get_component("secret_store", "local").used_by == ["dev"]
    assert [s.name for s in registry.list_stacks()] == ["dev", "local"]


def test_registering_twice_needs_replace(tmp_path: Path) -> None:
    register_dev(tmp_path)
    with pytest.raises(ConfigError, match="already registered") as err:
        register_dev(tmp_path)
    assert "--replace" in (err.value.hint or "")
    text = DEV.format(path=tmp_path / "elsewhere")
    spec = load_stack_file(write(tmp_path / "dev2.yaml", text))
    registry.register_stack(spec, replace=True)
    assert registry.get_stack("dev").components["artifact_store"].config == {
        "path": str(tmp_path / "elsewhere")
    }


def test_stack_from_registered_components(tmp_path: Path) -> None:
    registry.register_component("artifact_store", "data", "local", {"path": str(tmp_path)})
    spec = registry.register_stack_from("mine", {"orchestrator": "local", "artifact_store": "data"})
    assert spec.component_name("artifact_store") == "data"
    with pytest.raises(NotFound, match="no artifact_store named 'nothing'"):
        registry.register_stack_from("bad", {"orchestrator": "local", "artifact_store": "nothing"})
    with pytest.raises(ConfigError, match="needs an orchestrator"):
        registry.update_stack("mine", remove=["orchestrator"])


def test_a_shared_component_changed_inline_is_refused(tmp_path: Path) -> None:
    registry.register_component("artifact_store", "data", "local", {"path": str(tmp_path)})
    registry.register_stack_from("one", {"orchestrator": "local", "artifact_store": "data"})
    text = DEV.format(path="/elsewhere").replace(
        "    flavor: local\n    config", "    flavor: local\n    name: data\n    config"
    )
    with pytest.raises(ConfigError, match="used by one"):
        registry.register_stack(load_stack_file(write(tmp_path / "two.yaml", text), name="two"))
    # naming it without config refers to the registered one
    text = DEV.format(path="x").replace("    config:\n      path: x\n", "    name: data\n")
    spec = registry.register_stack(load_stack_file(write(tmp_path / "two.yaml", text), name="two"))
    assert spec.components["artifact_store"].config == {"path": str(tmp_path)}


def test_use_unknown_stack_is_an_error_and_changes_nothing(tmp_path: Path) -> None:
    register_dev(tmp_path)
    registry.use_stack("dev")
    assert active_stack_name() == "dev"
    with pytest.raises(ConfigError, match="stack 'nope' is not registered"):
        registry.use_stack("nope")
    assert active_stack_name() == "dev"
    assert read_global_config() == {"active_stack": "dev"}


def test_deleting_the_active_stack_is_refused_with_a_hint(tmp_path: Path) -> None:
    register_dev(tmp_path)
    registry.use_stack("dev")
    with pytest.raises(ConfigError) as err:
        registry.delete_stack("dev")
    assert "active stack" in err.value.message
    assert "kitaru stack use" in (err.value.hint or "")
    assert registry.is_registered("dev")
    registry.use_stack("local")
    assert registry.delete_stack("dev") == [("artifact_store", "dev"), ("orchestrator", "dev")]
    assert not registry.is_registered("dev")
    assert registry.find_component("artifact_store", "dev") is None


def test_deleting_a_stack_active_through_the_environment_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_dev(tmp_path)
    monkeypatch.setenv("KITARU_STACK", "dev")
    with pytest.raises(ConfigError, match="KITARU_STACK"):
        registry.delete_stack("dev")


def test_the_builtin_stack_and_components_cannot_be_deleted() -> None:
    with pytest.raises(ConfigError, match="builtin"):
        registry.delete_stack("local")
    with pytest.raises(ConfigError, match="builtin"):
        registry.delete_component("orchestrator", "local")
    with pytest.raises(ConfigError, match="not registered"):
        registry.delete_stack("ghost")


def test_a_component_in_use_cannot_be_deleted(tmp_path: Path) -> None:
    registry.register_component("artifact_store", "data", "local", {"path": str(tmp_path)})
    registry.register_stack_from("mine", {"orchestrator": "local", "artifact_store": "data"})
    with pytest.raises(Conflict, match="used by stack") as err:
        registry.delete_component("artifact_store", "data")
    assert "kitaru stack" in (err.value.hint or "")
    registry.delete_stack("mine")
    # registered by itself (not inline), so it outlives the stack
    registry.delete_component("artifact_store", "data")
    with pytest.raises(NotFound):
        registry.delete_component("artifact_store", "data")


def test_register_component_validates_config_and_needs_replace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitaru.plugins import known

    monkeypatch.setitem(known.KNOWN_FLAVORS, "nimbus", "kitaru-nimbus")  # not installed
    with pytest.raises(ConfigError, match="unknown config key 'pth'") as err:
        registry.register_component("artifact_store", "data", "local", {"pth": "x"})
    assert "path" in (err.value.hint or "")
    with pytest.raises(ConfigError, match="unknown component type"):
        registry.register_component("artefact_store", "data", "local", {})
    with pytest.raises(ConfigError, match="flavor 'nimbus'") as err:
        registry.register_component("artifact_store", "data", "nimbus", {})
    assert "pip install kitaru-nimbus" in (err.value.hint or "")
    registry.register_component("artifact_store", "data", "local", {"path": "a"})
    with pytest.raises(ConfigError, match="already registered"):
        registry.register_component("artifact_store", "data", "local", {"path": "b"})
    registry.register_component("artifact_store", "data", "local", {"path": "b"}, replace=True)
    assert registry.get_component("artifact_store", "data").config == {"path": "b"}


def test_a_registered_local_stack_replaces_the_builtin(tmp_path: Path) -> None:
    text = DEV.format(path=tmp_path / "mine").replace("name: dev", "name: local")
    registry.register_stack(load_stack_file(write(tmp_path / "local.yaml", text)))
    assert registry.get_stack("local").components["artifact_store"].config == {
        "path": str(tmp_path / "mine")
    }
    assert [s.name for s in registry.list_stacks()] == ["local"]
    # deleting it (even while active by default) brings the builtin back
    registry.delete_stack("local")
    assert registry.get_stack("local") == registry.builtin_stack()


def test_update_points_types_at_other_components(tmp_path: Path) -> None:
    register_dev(tmp_path)
    registry.register_component("artifact_store", "data", "local", {"path": str(tmp_path)})
    spec = registry.update_stack("dev", {"artifact_store": "data"})
    assert spec.component_name("artifact_store") == "data"
    with pytest.raises(NotFound):
        registry.update_stack("dev", {"orchestrator": "ghost"})


def test_replace_drops_inline_components_no_longer_used(tmp_path: Path) -> None:
    register_dev(tmp_path)
    text = DEV.format(path="/x").replace("    config:", "    name: renamed\n    config:")
    spec = load_stack_file(write(tmp_path / "dev.yaml", text))
    registry.register_stack(spec, replace=True)
    assert registry.find_component("artifact_store", "dev") is None
    assert registry.get_component("artifact_store", "renamed").used_by == ["dev"]
    assert registry.get_component("orchestrator", "dev").used_by == ["dev"]
