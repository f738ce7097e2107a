"""The component configs docs/stacks/gcp.md shows are valid for their flavors (placeholders
``${VAR}`` filled with a plain value), and the stack it shows registers."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

DOC = Path(__file__).resolve().parents[3] / "docs" / "stacks" / "gcp.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)


def components(block: str) -> dict[str, Any]:
    filled = re.sub(r"\$\{[A-Z_]+(:-[^}]*)?\}", "", textwrap.dedent(block))
    data: dict[str, Any] = yaml.safe_load(filled)
    components: dict[str, Any] = data.get("components", data)
    return components


def test_the_page_shows_each_flavor_config() -> None:
    flavors = {spec["flavor"] for block in BLOCKS for spec in components(block).values()}
    assert {"gcs", "gcp", "vertex", "artifact_registry"} <= flavors


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.split()[0].rstrip(":"))
def test_a_config_shown_validates(block: str) -> None:
    from kitaru.stack.model import find_flavor, validate_component_config

    for kind, spec in components(block).items():
        flavor = find_flavor(kind, spec["flavor"])
        validate_component_config(kind, flavor, spec.get("config", {}), source=str(DOC))
