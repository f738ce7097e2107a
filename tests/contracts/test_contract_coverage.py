"""Every component type has a contract suite, and every builtin flavor runs its suite here."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator

import kitaru.testing
import tests.contracts
from kitaru.components.base import COMPONENT_TYPES
from kitaru.plugins.manager import PluginManager
from tests.conftest import REPO

CONTRACTS = {
    "orchestrator": kitaru.testing.OrchestratorContract,
    "artifact_store": kitaru.testing.ArtifactStoreContract,
    "secret_store": kitaru.testing.SecretStoreContract,
    "container_builder": kitaru.testing.ContainerBuilderContract,
    "llm_gateway": kitaru.testing.LLMGatewayContract,
}


def covered_flavors() -> Iterator[tuple[str, str]]:
    """(type, flavor) of every test class here that subclasses a contract and names a FLAVOR."""
    for info in pkgutil.iter_modules(tests.contracts.__path__, "tests.contracts."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if not isinstance(obj, type) or not hasattr(obj, "FLAVOR"):
                continue
            for component_type, contract in CONTRACTS.items():
                if issubclass(obj, contract):
                    yield component_type, obj.FLAVOR


def covered_by_integration_tests() -> Iterator[tuple[str, str]]:
    """The same for suites that need a real service (integration-tests/), read without
    importing them: ``class TestX(<Contract>): FLAVOR = "name"``."""
    by_name = {c.__name__: t for t, c in CONTRACTS.items()}
    for path in sorted((REPO / "integration-tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            types = [
                by_name[b.id] for b in node.bases if isinstance(b, ast.Name) and b.id in by_name
            ]
            for stmt in node.body:
                if (
                    types
                    and isinstance(stmt, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "FLAVOR" for t in stmt.targets)
                    and isinstance(stmt.value, ast.Constant)
                ):
                    yield types[0], str(stmt.value.value)


def test_every_component_type_has_a_contract() -> None:
    assert set(CONTRACTS) == set(COMPONENT_TYPES)
    assert set(kitaru.testing.__all__) >= {c.__name__ for c in CONTRACTS.values()}


def test_every_builtin_flavor_runs_its_contract() -> None:
    builtin = {(f.type, f.name) for f in PluginManager(entry_points=False).flavors()}
    assert builtin, "no builtin flavors?"
    assert builtin <= set(covered_flavors()) | set(covered_by_integration_tests())
