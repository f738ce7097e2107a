"""Every component type has a contract suite, and every builtin flavor runs its suite here."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import kitaru.testing
import tests.contracts
from kitaru.components.base import COMPONENT_TYPES
from kitaru.plugins.manager import PluginManager

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


def test_every_component_type_has_a_contract() -> None:
    assert set(CONTRACTS) == set(COMPONENT_TYPES)
    assert set(kitaru.testing.__all__) >= {c.__name__ for c in CONTRACTS.values()}


def test_every_builtin_flavor_runs_its_contract() -> None:
    builtin = {(f.type, f.name) for f in PluginManager(entry_points=False).flavors()}
    assert builtin, "no builtin flavors?"
    assert builtin <= set(covered_flavors())
