"""The ``litellm`` flavor's contract suite needs a real model server, so it runs with the
integration tests: ``TestLiteLLMGateway`` in integration-tests/test_litellm_gateway.py (which
``make test`` runs). This module (not a test module: pytest does not collect it) loads that
class so that test_contract_coverage sees the flavor covered, and fails if the suite moves."""

from __future__ import annotations

import importlib.util

from tests.conftest import REPO

_PATH = REPO / "integration-tests" / "test_litellm_gateway.py"
_spec = importlib.util.spec_from_file_location("_litellm_gateway_contract", _PATH)
assert _spec is not None and _spec.loader is not None, _PATH
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

#: the suite itself, under a name pytest does not collect here
LiteLLMGatewaySuite = _module.TestLiteLLMGateway
