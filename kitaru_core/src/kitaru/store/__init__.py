"""Metadata stores. :func:`default_store` opens the embedded SQLite store under ``KITARU_HOME``."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kitaru.store.base import MetadataStore

_lock = threading.Lock()
_stores: dict[str, MetadataStore] = {}


def default_store() -> MetadataStore:
    """The store this process uses (one per KITARU_HOME, opened on first use)."""
    from kitaru.config import settings

    path = str(settings().db_path)
    store = _stores.get(path)
    if store is None:
        with _lock:
            store = _stores.get(path)
            if store is None:
                from kitaru.store.sqlite import SQLiteStore

                store = _stores[path] = SQLiteStore(path)
    return store


def reset_default_store() -> None:
    """Forget opened stores (after ``configure(home=...)`` or in tests)."""
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
