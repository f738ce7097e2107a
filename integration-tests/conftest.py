import pytest
from e2e_modes import e2e_mode, e2e_server  # noqa: F401 - storage modes of the e2e tests
from llm_server import give_llm_tests_time, llm_server  # noqa: F401 - a real local model

from tests.conftest import client, kitaru_home  # noqa: F401 - shared fixtures


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    give_llm_tests_time(items)  # the first use of llm_server may build it: 30 minutes
