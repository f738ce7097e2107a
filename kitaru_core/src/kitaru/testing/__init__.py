"""Test kit for flavor authors: one contract suite per component type, and pytest fixtures.

Every flavor (builtin, first-party plugin, third-party plugin) proves it implements its component
type by subclassing that type's contract and providing one fixture that returns the component::

    from kitaru.testing import ArtifactStoreContract, build_component

    class TestMyStore(ArtifactStoreContract):
        @pytest.fixture
        def artifact_store(self, tmp_path):
            return build_component("artifact_store", "mine", path=str(tmp_path))

The fixtures (``isolated_kitaru_home``, ``kitaru_plugin_manager``) come from the pytest plugin
``kitaru.testing.plugin``, which pytest loads by itself wherever ``kitaru`` is installed.

Names are imported on first use; :mod:`kitaru.testing.flows` (the flows the orchestrator
contract runs, wherever executions run) needs no pytest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

try:
    import pytest
except ImportError:  # pragma: no cover - a worker importing kitaru.testing.flows needs no pytest
    pass
else:
    # The contracts' asserts live in an installed package, not in a test module: pytest must be
    # told to rewrite them (to explain failures) before they are imported.
    pytest.register_assert_rewrite("kitaru.testing.contracts")

if TYPE_CHECKING:
    from kitaru.testing.components import SecretsThrough, build_component
    from kitaru.testing.contracts.artifact_store import ArtifactStoreContract
    from kitaru.testing.contracts.container_builder import ContainerBuilderContract
    from kitaru.testing.contracts.llm_gateway import LLMGatewayContract
    from kitaru.testing.contracts.metadata_store import MetadataStoreContract
    from kitaru.testing.contracts.orchestrator import OrchestratorContract, resume_on, run_on
    from kitaru.testing.contracts.secret_store import SecretStoreContract
    from kitaru.testing.services import free_port, stop_process

_EXPORTS: dict[str, str] = {
    "ArtifactStoreContract": "kitaru.testing.contracts.artifact_store",
    "SecretStoreContract": "kitaru.testing.contracts.secret_store",
    "OrchestratorContract": "kitaru.testing.contracts.orchestrator",
    "run_on": "kitaru.testing.contracts.orchestrator",
    "resume_on": "kitaru.testing.contracts.orchestrator",
    "LLMGatewayContract": "kitaru.testing.contracts.llm_gateway",
    "ContainerBuilderContract": "kitaru.testing.contracts.container_builder",
    "MetadataStoreContract": "kitaru.testing.contracts.metadata_store",
    "build_component": "kitaru.testing.components",
    "SecretsThrough": "kitaru.testing.components",
    "free_port": "kitaru.testing.services",
    "stop_process": "kitaru.testing.services",
}

__all__ = [
    "ArtifactStoreContract",
    "ContainerBuilderContract",
    "LLMGatewayContract",
    "MetadataStoreContract",
    "OrchestratorContract",
    "SecretStoreContract",
    "SecretsThrough",
    "build_component",
    "free_port",
    "resume_on",
    "run_on",
    "stop_process",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kitaru.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
