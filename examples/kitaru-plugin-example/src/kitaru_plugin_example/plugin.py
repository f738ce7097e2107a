"""The plugin module (entry point ``kitaru = example``): it only describes its flavors.

Kitaru imports this module to list flavors; the config class and the implementation are named
by import path and imported only when a stack uses the flavor.
"""

from __future__ import annotations

from kitaru.components.flavor import Flavor
from kitaru.plugins import hookimpl

_MODULE = "kitaru_plugin_example.prefixed_store"
_JOBS = "kitaru_plugin_example.subprocess_job"


@hookimpl
def kitaru_flavors() -> list[Flavor]:
    return [
        Flavor(
            name="prefixed",
            type="artifact_store",
            config_class=f"{_MODULE}:PrefixedArtifactStoreConfig",
            implementation=f"{_MODULE}:PrefixedArtifactStore",
            description="a folder or fsspec URL; blobs under <path>/<prefix>/",
        ),
        Flavor(
            name="subprocess-job",
            type="orchestrator",
            config_class=f"{_JOBS}:SubprocessJobOrchestratorConfig",
            implementation=f"{_JOBS}:SubprocessJobOrchestrator",
            description="each execution and isolated checkpoint a detached process here",
        ),
    ]
