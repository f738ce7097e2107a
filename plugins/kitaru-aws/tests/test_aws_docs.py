"""The component configs docs/stacks/aws.md shows are valid for their flavors (placeholders
``${VAR}`` filled with a plain value)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

DOC = Path(__file__).resolve().parents[3] / "docs" / "stacks" / "aws.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)


def test_the_page_shows_each_flavor_config() -> None:
    flavors = {spec["flavor"] for block in BLOCKS for spec in yaml.safe_load(
        textwrap.dedent(block)).values()}  # fmt: skip
    assert {"sagemaker", "ecr"} <= flavors


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.split()[0].rstrip(":"))
def test_a_config_shown_validates(block: str) -> None:
    from kitaru.stack.model import find_flavor, validate_component_config

    filled = re.sub(r"\$\{[A-Z_]+(:-[^}]*)?\}", "eu-west-1", textwrap.dedent(block))
    for kind, spec in yaml.safe_load(filled).items():
        flavor = find_flavor(kind, spec["flavor"])
        validate_component_config(kind, flavor, spec["config"], source=str(DOC))
