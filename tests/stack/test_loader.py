"""Stack YAML files: errors name the key, the variable, the file; schema and templates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kitaru.errors import ConfigError
from kitaru.stack.loader import dump_stack, load_stack_file, parse_stack_text
from kitaru.stack.model import StackSpec
from tests.conftest import REPO
from tests.stack.conftest import write

GOOD = """\
name: dev
components:
  orchestrator:
    flavor: local
  artifact_store:
    flavor: local
    config:
      path: ${DATA_DIR}
"""


def test_loads_a_stack_and_fills_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    spec = load_stack_file(write(tmp_path / "dev.yaml", GOOD))
    assert spec.name == "dev"
    assert spec.components["artifact_store"].config == {"path": str(tmp_path / "data")}
    assert spec.components["secret_store"].flavor == "local"
    assert spec.components["llm_gateway"].flavor == "offline"
    assert "container_builder" not in spec.components
    assert load_stack_file(tmp_path / "dev.yaml", name="other").name == "other"


def test_unknown_top_level_key_names_key_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "name: x\ndescripton: oops\ncomponents: {}\n")
    with pytest.raises(ConfigError) as err:
        load_stack_file(path)
    assert "'descripton'" in err.value.message
    assert str(path) in err.value.message
    assert "line 2" in err.value.message
    assert "name, components" in (err.value.hint or "")


def test_unknown_component_key_names_key_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_DIR", "/data")
    path = write(
        tmp_path / "bad.yaml",
        GOOD.replace("    flavor: local\n  artifact", "    flavour: local\n  artifact"),
    )
    with pytest.raises(ConfigError) as err:
        load_stack_file(path)
    assert "components.orchestrator.flavour" in err.value.message
    assert str(path) in err.value.message
    assert "line 4" in err.value.message


def test_unknown_config_key_names_key_and_file_at_register(tmp_path: Path) -> None:
    from kitaru.stack import registry

    path = write(tmp_path / "bad.yaml", GOOD.replace("path: ${DATA_DIR}", "pth: /data"))
    spec = load_stack_file(path)  # the shape is fine; the flavor's config class decides
    with pytest.raises(ConfigError) as err:
        registry.register_stack(spec, source=str(path))
    assert "unknown config key 'pth'" in err.value.message
    assert str(path) in err.value.message
    assert "path" in (err.value.hint or "")
    assert not registry.is_registered("dev")


def test_unknown_component_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_DIR", "/data")
    path = write(tmp_path / "bad.yaml", GOOD.replace("  artifact_store:", "  artifact_storage:"))
    with pytest.raises(ConfigError) as err:
        load_stack_file(path)
    assert "artifact_storage" in err.value.message and str(path) in err.value.message
    assert "artifact_store" in (err.value.hint or "")


def test_missing_required_component(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.yaml", "name: x\ncomponents:\n  artifact_store:\n    flavor: local\n"
    )
    with pytest.raises(ConfigError) as err:
        load_stack_file(path)
    assert "needs orchestrator" in err.value.message and str(path) in err.value.message


def test_missing_env_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATA_DIR", raising=False)
    path = write(tmp_path / "dev.yaml", GOOD)
    with pytest.raises(ConfigError) as err:
        load_stack_file(path)
    assert "DATA_DIR" in err.value.message and str(path) in err.value.message
    # a default makes it optional
    write(path, GOOD.replace("${DATA_DIR}", "${DATA_DIR:-/tmp/x}"))
    assert load_stack_file(path).components["artifact_store"].config == {"path": "/tmp/x"}


def test_malformed_yaml_gives_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "name: x\ncomponents:\n  orchestrator: [flavor\n  x: 1\n")
    with pytest.raises(ConfigError) as err:
        load_stack_file(path)
    assert "invalid YAML" in err.value.message and "line" in err.value.message
    assert str(path) in err.value.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_stack_file(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("component", "flavor", "dist"), [
    ("orchestrator", "nimbus-jobs", "kitaru-nimbus"),
    ("artifact_store", "nimbus-blobs", "kitaru-nimbus"),
])  # fmt: skip
def test_unknown_flavor_has_the_install_hint(
    tmp_path: Path, component: str, flavor: str, dist: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitaru.plugins import known
    from kitaru.stack import registry

    # a first-party flavor whose plugin is not installed (every real one is, in this workspace)
    monkeypatch.setitem(known.KNOWN_FLAVORS, flavor, dist)

    text = "name: cloud\ncomponents:\n  orchestrator:\n    flavor: local\n  artifact_store:\n    flavor: local\n"
    text = text.replace(
        f"  {component}:\n    flavor: local", f"  {component}:\n    flavor: {flavor}"
    )
    spec = load_stack_file(write(tmp_path / "cloud.yaml", text))
    with pytest.raises(ConfigError) as err:
        registry.register_stack(spec)
    assert f"pip install {dist}" in (err.value.hint or "")
    assert flavor in err.value.message


def test_plain_text_credentials_are_refused(tmp_path: Path, fake_plugin: object) -> None:
    from kitaru.stack import registry

    text = "name: k\ncomponents:\n  orchestrator: {flavor: local}\n  artifact_store:\n    flavor: keyed\n    config: {token: hunter2}\n"
    spec = load_stack_file(write(tmp_path / "k.yaml", text))
    with pytest.raises(ConfigError) as err:
        registry.register_stack(spec, source="k.yaml")
    assert "'token' holds a credential in plain text" in err.value.message
    assert "hunter2" not in err.value.message + (err.value.hint or "")
    assert "{{secret:" in (err.value.hint or "")
    # fields marked secret by the flavor are checked too, dict values included
    text = text.replace("{token: hunter2}", "{token: '{{secret:k.t}}', extra_keys: {a: plain}}")
    with pytest.raises(ConfigError, match="'extra_keys' holds a credential"):
        registry.register_stack(load_stack_file(write(tmp_path / "k.yaml", text)))


def test_export_round_trips(tmp_path: Path) -> None:
    text = GOOD.replace("${DATA_DIR}", "/data/x")
    spec = load_stack_file(write(tmp_path / "dev.yaml", text))
    again = parse_stack_text(dump_stack(spec), source="export")
    assert again.to_dict() == spec.to_dict()


# -- schema and templates ---------------------------------------------------------------------
def test_committed_schema_is_up_to_date() -> None:
    from kitaru.stack.schema import schema_text

    committed = (REPO / "stacks" / "schema.json").read_text()
    assert committed == schema_text(), "run: python -m kitaru.stack.schema > stacks/schema.json"


TEMPLATES = sorted((REPO / "stacks").rglob("*.yaml"))


def test_there_is_a_local_template() -> None:
    assert REPO / "stacks" / "local.yaml" in TEMPLATES


@pytest.mark.parametrize("path", TEMPLATES, ids=[str(p.relative_to(REPO)) for p in TEMPLATES])
def test_every_template_matches_the_schema_and_loads(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    import jsonschema
    import yaml

    schema = json.loads((REPO / "stacks" / "schema.json").read_text())
    # templates leave ${VARS} for the user: give each a value
    for name in set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", path.read_text())):
        monkeypatch.setenv(name, f"test-{name.lower()}")
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    spec = load_stack_file(path)
    assert isinstance(spec, StackSpec)


def test_local_template_is_the_builtin_local_stack() -> None:
    from kitaru.stack.registry import builtin_stack

    assert load_stack_file(REPO / "stacks" / "local.yaml") == builtin_stack()
