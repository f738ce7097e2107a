"""The component configs docs/stacks/azure.md shows are valid for their flavors, each flavor
is shown, and the page lists what the tests cannot prove."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

DOC = Path(__file__).resolve().parents[3] / "docs" / "stacks" / "azure.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)


def components(block: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(textwrap.dedent(block))
    return data


def test_the_page_shows_each_flavor_config() -> None:
    shown = {(kind, spec["flavor"]) for block in BLOCKS for kind, spec in components(block).items()}
    assert shown == {("artifact_store", "azure"), ("secret_store", "azure"),
                     ("orchestrator", "azureml"), ("container_builder", "acr")}  # fmt: skip


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.split()[0].rstrip(":"))
def test_a_config_shown_validates(block: str) -> None:
    from kitaru.stack.model import find_flavor, validate_component_config

    for kind, spec in components(block).items():
        flavor = find_flavor(kind, spec["flavor"])
        validate_component_config(kind, flavor, spec.get("config", {}), source=str(DOC))


def test_the_name_encoding_table_is_what_the_store_does() -> None:
    from kitaru_azure import names

    rows = re.findall(r"^\| `([^`]+)` \| `kitaru-([^`]+)` \|$", DOC.read_text(), re.M)
    assert len(rows) == 3
    for name, encoded in rows:
        assert names.encode(name) == encoded


def test_the_page_says_what_the_tests_cannot_prove() -> None:
    text = DOC.read_text().split("They cannot prove:", 1)[1]
    for subject in ("AzureML scheduling", "Entra ID's real sign-in flows",
                    "Key Vault's real behaviour beyond the fake"):  # fmt: skip
        assert subject in text
