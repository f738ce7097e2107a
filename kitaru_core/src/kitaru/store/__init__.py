"""Metadata stores. :func:`default_store` opens the embedded SQLite store under ``KITARU_HOME``,
or the database ``KITARU_DB_URL`` names (PostgreSQL)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kitaru.errors import KitaruError
    from kitaru.store.base import MetadataStore

#: what to do when the embedded store or KITARU_HOME cannot be written
WRITABLE_HINT = "set KITARU_HOME to a writable folder"

_lock = threading.Lock()
_stores: dict[str, MetadataStore] = {}


def default_store() -> MetadataStore:
    """The store this process uses (one per KITARU_HOME or server, opened on first use)."""
    from kitaru.config import configured, settings

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
        return _open_sqlite(where)
    scheme = scheme.lower()
    if scheme in ("postgresql", "postgres") or scheme.startswith(("postgresql+", "postgres+")):
        from kitaru.store.postgres import PostgresStore

        return PostgresStore(where)
    if scheme == "sqlite":
        return _open_sqlite(rest[1:] if rest.startswith("/") else rest)
    from kitaru.errors import ConfigError

    # the scheme only: the rest of a URL may hold a password
    raise ConfigError(
        f"unsupported database URL scheme {scheme!r} in KITARU_DB_URL",
        hint="use postgresql://USER@HOST:5432/DB, or unset KITARU_DB_URL for the embedded store",
    )


def _open_sqlite(path: str) -> MetadataStore:
    import sqlite3

    from kitaru.store.sqlite import SQLiteStore

    try:
        return SQLiteStore(path)
    except sqlite3.OperationalError as exc:
        # a store that exists in a read-only home: SQLite opens it, then refuses the first
        # statement that writes (switching on WAL)
        if "readonly" not in str(exc) and "unable to open" not in str(exc):
            raise
        from kitaru.errors import ConfigError

        raise ConfigError(f"cannot open the Kitaru store at {path}: {exc}",
                          hint=WRITABLE_HINT) from exc  # fmt: skip


def storage_error(exc: BaseException) -> KitaruError | None:
    """The one-line error for a write the machine refused (a read-only store file, a read-only
    or foreign KITARU_HOME), or None when ``exc`` is something else."""
    import errno
    import sqlite3
    from pathlib import Path

    from kitaru.config import settings
    from kitaru.errors import ConfigError

    s = settings()
    if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):
        where = s.db_url.partition("://")[2].lstrip("/") if s.db_url else s.db_path
        return ConfigError(f"cannot write to the Kitaru store at {where}: {exc}",
                           hint=f"make it and its folder writable, or {WRITABLE_HINT}")  # fmt: skip
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        path = Path(str(exc.filename or ""))
        if exc.filename and (path == s.home or s.home in path.parents):
            return ConfigError(f"cannot write {path} in KITARU_HOME: {exc.strerror}",
                               hint=f"make {s.home} writable, or {WRITABLE_HINT}")  # fmt: skip
    return None


def reset_default_store() -> None:
    """Forget opened stores (after ``configure(home=...)`` or in tests)."""
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()


def _register() -> None:
    from kitaru.config import _on_change

    _on_change.append(reset_default_store)


_register()
