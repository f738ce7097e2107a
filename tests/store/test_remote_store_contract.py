"""``RemoteStore`` passes the metadata-store contract, through a real ``kitaru server start``
process over PostgreSQL (one server and database for the module, emptied before each test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kitaru.store.base import MetadataStore
from kitaru.testing import MetadataStoreContract
from tests.server.conftest import Server, start_server, stop
from tests.store.conftest import _connect, create_database, database_url, drop_database

#: emptied before each test: every table but the server's users and API keys (the client's key)
KEEP = ("api_keys", "principals")


@pytest.fixture(scope="module")
def remote_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    name = create_database()
    try:
        home = tmp_path_factory.mktemp("remote-contract") / "home"
        srv = start_server(home, db_url=database_url(name))
        try:
            assert srv.admin_key, srv.log.read_text()
            yield srv, database_url(name)
        finally:
            stop(srv)
    finally:
        drop_database(name)


class TestRemoteStore(MetadataStoreContract):
    @pytest.fixture
    def open_store(self, remote_server: tuple[Server, str]) -> Callable[[], MetadataStore]:
        from kitaru.store.pg_migrations import TABLES
        from kitaru.store.remote import RemoteStore

        assert set(KEEP) <= set(TABLES)
        server, self.db_url = remote_server
        with _connect(self.db_url) as conn:
            conn.execute("SET lock_timeout = '20s'")
            conn.execute(
                f"TRUNCATE {', '.join(t for t in TABLES if t not in KEEP)} RESTART IDENTITY"
            )
        return lambda: RemoteStore(server.url, server.admin_key)  # type: ignore[abstract]

    def schema_version(self, store: MetadataStore) -> int:
        with _connect(self.db_url) as conn:
            return int(conn.execute("SELECT MAX(version) FROM kitaru_schema").fetchone()[0])

    def test_a_newer_schema_is_refused(self, store: MetadataStore, open_store: Any) -> None:
        pytest.skip(
            "a RemoteStore never opens the database: the server checks the schema version when "
            "it opens its store (PostgresStore, whose contract run covers this)"
        )
