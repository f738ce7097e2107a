"""Throwaway PostgreSQL databases for the curves (``kitaru_bench_*`` / ``dbos_bench_*``).

PostgreSQL runs on loopback (``KITARU_TEST_PG_ADMIN_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``, trust auth); every benchmark creates its own
database and drops it afterwards, so nothing a test uses is touched.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ADMIN_URL = os.environ.get(
    "KITARU_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def url_of(name: str, driver: str = "postgresql") -> str:
    return driver + "://" + ADMIN_URL.split("://", 1)[1].rpartition("/")[0] + "/" + name


@contextmanager
def scratch_db(prefix: str) -> Iterator[str]:
    """A fresh database ``<prefix>_<pid>_<n>``; its URL. Dropped (forcibly) afterwards."""
    name = f"{prefix}_{os.getpid()}_{int(time.time() * 1000) % 10_000_000}"
    admin(f'DROP DATABASE IF EXISTS "{name}"')
    admin(f'CREATE DATABASE "{name}"')
    try:
        yield url_of(name)
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(url: str, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        cur = conn.execute(sql, args)
        return list(cur.fetchall()) if cur.description else []


def server_version() -> str:
    return str(query(ADMIN_URL, "SHOW server_version")[0][0])
