"""Run the core end-to-end tests in every storage mode Kitaru supports.

A test that requests the ``e2e_mode`` fixture runs once per mode:

- ``embedded``: the test's own KITARU_HOME and its SQLite store (nothing changes);
- ``server+postgres``: a real ``kitaru server start --db postgresql://...`` process over a fresh
  PostgreSQL database, one per test module (and per xdist worker), and the test process connected
  to it through ``KITARU_SERVER_URL`` / ``KITARU_API_KEY``. Child processes a test starts
  (``subprocess_env()`` copies the environment) and the workers Kitaru launches from it are
  connected too, so every store call of the test goes through the server.

The database is shared by the tests of a module (each test uses its own executions). A test's
KITARU_HOME still holds what stays on the client (logs, the ``tests.flows_basic`` counters).

Modules in ``tests/`` cannot import this one by name (``integration-tests`` is no package), so
they load it with :func:`importlib.import_module`: ``integration-tests.e2e_modes`` resolves as a
namespace package because the repository root is on ``sys.path`` (``pythonpath`` in pyproject).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.conftest import Server, start_server, stop

EMBEDDED = "embedded"
SERVER_POSTGRES = "server+postgres"
MODES = (EMBEDDED, SERVER_POSTGRES)


@pytest.fixture(scope="module")
def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server over a new PostgreSQL database, for the tests of one module; both are gone
    after the module."""
    from tests.store.conftest import create_database, database_url, drop_database

    name = create_database()
    try:
        home = tmp_path_factory.mktemp("e2e-server") / "home"
        srv = start_server(home, db_url=database_url(name))
        try:
            assert srv.admin_key, srv.log.read_text()
            yield srv
        finally:
            stop(srv)
    finally:
        drop_database(name)  # WITH (FORCE): connections a stray worker left open go too


@pytest.fixture(params=MODES)
def e2e_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The storage mode this test runs in (see the module doc); connected for the test only."""
    from kitaru.store import default_store, reset_default_store
    from kitaru.store.remote import RemoteStore

    mode: str = request.param
    if mode == SERVER_POSTGRES:
        srv: Server = request.getfixturevalue("e2e_server")
        monkeypatch.setenv("KITARU_SERVER_URL", srv.url)
        monkeypatch.setenv("KITARU_API_KEY", srv.admin_key)
        monkeypatch.delenv("KITARU_DB_URL", raising=False)
        reset_default_store()
        assert isinstance(default_store(), RemoteStore)
    yield mode
    if mode == SERVER_POSTGRES:
        reset_default_store()  # the env is restored by monkeypatch right after
