"""Metadata stores. :func:`default_store` opens the embedded SQLite store under ``KITARU_HOME``,
or the database ``KITARU_DB_URL`` names (PostgreSQL)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kitaru.store.base import MetadataStore

_lock = threading.Lock()
_stores: dict[str, MetadataStore] = {}


def default_store() -> MetadataStore:
    """The store this process uses (one per KITARU_HOME or server, opened on first use)."""
    from kitaru.config import settings
    from kitaru.connection import configured

    s = settings()
    remote = configured(s.home)
    if remote is not None:  # connected to a server: everything goes through it
        url, key = remote
        with _lock:
            store = _stores.get(url)
            if store is None:
                from kitaru.store.remote import RemoteStore

                store = _stores[url] = RemoteStore(url, key)  # type: ignore[abstract]
        return store
    where = s.db_url or str(s.db_path)  # KITARU_DB_URL wins over the file under KITARU_HOME
    store = _stores.get(where)
    if store is None:
        with _lock:
            store = _stores.get(where)
            if store is None:
                store = _stores[where] = open_store(where)
    return store


def open_store(where: str) -> MetadataStore:
    """A new store: ``postgresql://user@host:5432/db``, ``sqlite:///path``, or a SQLite file."""
    scheme, sep, rest = where.partition("://")
    if not sep:
        from kitaru.store.sqlite import SQLiteStore

        return SQLiteStore(where)
    scheme = scheme.lower()
    if scheme in ("postgresql", "postgres") or scheme.startswith(("postgresql+", "postgres+")):
        from kitaru.store.postgres import PostgresStore

        return PostgresStore(where)
    if scheme == "sqlite":
        from kitaru.store.sqlite import SQLiteStore

        return SQLiteStore(rest[1:] if rest.startswith("/") else rest)
    from kitaru.errors import ConfigError

    # the scheme only: the rest of a URL may hold a password
    raise ConfigError(
        f"unsupported database URL scheme {scheme!r} in KITARU_DB_URL",
        hint="use postgresql://USER@HOST:5432/DB, or unset KITARU_DB_URL for the embedded store",
    )


def reset_default_store() -> None:
    """Forget opened stores (after ``configure(home=...)`` or in tests)."""
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
