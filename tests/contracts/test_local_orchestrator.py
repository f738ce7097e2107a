"""The builtin ``local`` orchestrator passes the orchestrator contract."""

from __future__ import annotations

import pytest

from kitaru.components.orchestrator import Orchestrator
from kitaru.testing import OrchestratorContract, build_component


class TestLocalOrchestrator(OrchestratorContract):
    FLAVOR = "local"

    @pytest.fixture
    def orchestrator(self) -> Orchestrator:
        return build_component("orchestrator", self.FLAVOR)
