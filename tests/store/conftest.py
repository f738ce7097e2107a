"""PostgreSQL for the store tests: one throwaway database per test session (and per xdist
worker), created here and dropped at the end. PostgreSQL runs on every machine this project is
tested on, so a server that cannot be reached fails these tests instead of skipping them."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

#: a maintenance database on the test server, for CREATE/DROP DATABASE
ADMIN_URL = os.environ.get("KITARU_TEST_PG_ADMIN_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")  # fmt: skip


def _connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def admin_connection() -> Any:
    """A connection to the test server, starting the local cluster once if it is down."""
    import psycopg

    try:
        return _connect(ADMIN_URL)
    except psycopg.OperationalError as first:
        # CI machines run PostgreSQL; a developer's may have stopped it since boot.
        if shutil.which("pg_ctlcluster") and os.path.isdir("/etc/postgresql"):
            for version in os.listdir("/etc/postgresql"):
                subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main",
                                "start"], capture_output=True, timeout=60)  # fmt: skip
            try:
                return _connect(ADMIN_URL)
            except psycopg.OperationalError:
                pass
        pytest.fail(
            f"PostgreSQL is not reachable at {ADMIN_URL} ({str(first).splitlines()[0]}); the "
            "store contract runs on PostgreSQL too. Start it (pg_ctlcluster 15 main start) or "
            "point KITARU_TEST_PG_ADMIN_URL at a server where this user may CREATE DATABASE.",
            pytrace=False,
        )


def database_url(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


def create_database() -> str:
    """A new empty database ``kitaru_test_<random>``; returns its name."""
    name = f"kitaru_test_{secrets.token_hex(6)}"
    with admin_connection() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of this session's database (schema created by the first store opened on it)."""
    name = create_database()
    try:
        yield database_url(name)
    finally:
        drop_database(name)


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """The session database, emptied for this test (the schema and its version stay)."""
    from kitaru.store.pg_migrations import TABLES

    with _connect(pg_database) as conn:
        conn.execute("SET lock_timeout = '20s'")
        if conn.execute("SELECT to_regclass('executions') IS NOT NULL").fetchone()[0]:
            conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
    return pg_database


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A database of its own, never migrated (for migration tests)."""
    name = create_database()
    try:
        yield database_url(name)
    finally:
        drop_database(name)
