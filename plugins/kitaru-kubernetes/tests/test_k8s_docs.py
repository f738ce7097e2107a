"""docs/stacks/kubernetes.md: every yaml block is a valid component config of its flavor, and
the manifest of deploy/ is accepted by the real API server (a server-side dry run); the
template is offered through ``kitaru_stack_templates``."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_standin import REPO, manifests

DOC = REPO / "docs" / "stacks" / "kubernetes.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
WORKERS = REPO / "plugins" / "kitaru-kubernetes" / "deploy" / "workers.yaml"


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.split()[0].rstrip(":"))
def test_a_config_shown_validates(block: str) -> None:
    from kitaru.stack.model import find_flavor, validate_component_config

    for kind, spec in yaml.safe_load(textwrap.dedent(block)).items():
        flavor = find_flavor(kind, spec["flavor"])
        validate_component_config(kind, flavor, spec["config"], source=str(DOC))


def test_the_page_shows_the_orchestrator_config() -> None:
    assert any("flavor: kubernetes" in b and "orchestrator:" in b for b in BLOCKS)


def test_the_template_is_offered_and_links_from_stacks() -> None:
    from kitaru.plugins.manager import plugin_manager

    text = plugin_manager().stack_templates()["kubernetes"]
    assert (REPO / "stacks" / "kubernetes.yaml").read_text() == text
    components = yaml.safe_load(text)["components"]
    assert {k: v["flavor"] for k, v in components.items()} == {
        "orchestrator": "kubernetes", "container_builder": "docker", "artifact_store": "s3",
        "secret_store": "kubernetes"}  # fmt: skip


def test_the_workers_manifest_is_accepted_by_the_api_server(cluster: Any, namespace: str) -> None:
    from kubernetes import client

    (deployment,) = manifests(WORKERS, namespace)
    assert deployment["kind"] == "Deployment" and deployment["spec"]["replicas"] == 2
    created = client.AppsV1Api(cluster).create_namespaced_deployment(namespace, deployment,
                                                                     dry_run="All")  # fmt: skip
    (container,) = created.spec.template.spec.containers
    assert container.command == ["kitaru", "serve"]
    assert container.env[0].value_from.secret_key_ref.name == "kitaru-db"


def test_the_rbac_files_are_accepted_by_the_api_server(cluster: Any, namespace: str) -> None:
    from kubernetes import utils

    for path in sorted((REPO / "plugins" / "kitaru-kubernetes" / "rbac").glob("*.yaml")):
        for obj in manifests(Path(path), namespace):
            utils.create_from_dict(cluster, obj, dry_run="All")
