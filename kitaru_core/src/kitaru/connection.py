"""Connecting to a Kitaru server: ``kitaru.connect()``, ``kitaru login`` / ``logout``.

Once connected, the process's metadata store is a :class:`~kitaru.store.remote.RemoteStore`:
every SDK and CLI call goes through the server while flows still run in this process. Where the
connection comes from, first match wins: ``kitaru.connect()`` in this process, the environment
(``KITARU_SERVER_URL`` and ``KITARU_API_KEY``), the saved login (``KITARU_HOME/server.json``,
mode 0600, written by ``kitaru login``).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from kitaru.errors import AuthError, ConfigError

if TYPE_CHECKING:
    from kitaru.store.remote import RemoteStore

from kitaru.config import KEY_ENV, URL_ENV, _login_file, _saved, configured

__all__ = ["KEY_ENV", "URL_ENV", "configured", "connect", "disconnect", "login", "logout"]


def open_store(url: str, api_key: str) -> RemoteStore:
    """A remote store after checking the server answers, the key works and versions match."""
    from kitaru.store.remote import RemoteStore

    store = RemoteStore(url, api_key)  # type: ignore[abstract]  # methods made at import
    api(store, "GET", "/info")
    return store


def server_info(store: RemoteStore) -> dict[str, Any]:
    result: dict[str, Any] = api(store, "GET", "/info")
    return result


def api(store: RemoteStore, method: str, path: str, body: Any = None) -> Any:
    """One REST call under ``/api/v1``: its JSON answer, or the server's error raised."""
    from kitaru.store import codec

    payload = None if body is None else json.dumps(body).encode()
    status, data = store.request(method, "/api/v1" + path, payload)
    try:
        answer = json.loads(data) if data else None
    except ValueError:
        answer = {"detail": data[:200].decode(errors="replace")}
    if status >= 400:
        codec.raise_error(answer or {}, status)
    return answer


def current_server() -> RemoteStore:
    """The server this process is connected to; ConfigError when it uses the local store."""
    from kitaru.store import default_store
    from kitaru.store.remote import RemoteStore

    store = default_store()
    if not isinstance(store, RemoteStore):
        raise ConfigError("not connected to a Kitaru server",
                          hint="run `kitaru login URL --api-key KEY` first")  # fmt: skip
    return store


def connect(url: str, api_key: str | None = None) -> None:
    """Use the server at ``url`` for everything in this process (and the workers it starts).

    ``api_key`` defaults to ``KITARU_API_KEY``. Fails at once (within 5 s) if the server is
    unreachable, the key is refused or the versions do not match."""
    key = api_key or os.environ.get(KEY_ENV)
    if not key:
        raise AuthError("connect() needs an API key", hint=f"pass api_key= or set {KEY_ENV}")
    open_store(url, key).close()
    os.environ[URL_ENV], os.environ[KEY_ENV] = url, key  # workers started from here follow
    _forget()


def disconnect() -> None:
    """Back to the embedded store (unless a saved login says otherwise)."""
    os.environ.pop(URL_ENV, None)
    os.environ.pop(KEY_ENV, None)
    _forget()


def login(url: str, api_key: str) -> dict[str, Any]:
    """Check the server and the key, then save them for every later command."""
    store = open_store(url, api_key)
    info = server_info(store)
    store.close()
    path = _login_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "api_key": api_key}, f)
    _forget()
    return info


def logout() -> bool:
    """Forget the saved login; True if there was one."""
    path = _login_file()
    existed = path.exists()
    path.unlink(missing_ok=True)
    _forget()
    return existed


def _forget() -> None:
    from kitaru.store import reset_default_store

    _saved.clear()
    reset_default_store()
