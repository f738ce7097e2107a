from tests.conftest import client, kitaru_home  # noqa: F401 - shared fixtures
