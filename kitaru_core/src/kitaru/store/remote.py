"""``RemoteStore``: the metadata-store interface, served by a Kitaru server.

Every :class:`~kitaru.store.base.MetadataStore` method becomes ``POST /api/v1/store/<method>``
(see :mod:`kitaru.server.routes_store`), so the runtime, the client and the CLI work unchanged
against a server: the flow still runs in this process, its journal lives on the server.

Standard library only (``http.client``, one keep-alive connection per thread), so connecting
costs no import time. A server that cannot be reached on the first call fails within
``connect_timeout`` seconds with one line; once connected, calls ride out a server restart for
up to ``reconnect_window`` seconds (journal writes are then retried, not lost).

Waits wake through the server: a process that waits on an execution long-polls the server's
``GET /api/v1/changes`` in one thread (:class:`RemoteChanges`), which the server answers from
its PostgreSQL listener; a server on SQLite says it has none, and waiters poll.
"""

from __future__ import annotations

import abc
import http.client
import json
import os
import threading
import time
import urllib.parse
from typing import Any

from kitaru.errors import ConfigError
from kitaru.store.base import MetadataStore
from kitaru.store.changes import Changes
from kitaru.store.deployments import DeploymentStore
from kitaru.store.queues import QueueStore
from kitaru.store.schedules import ScheduleStore
from kitaru.version import __version__

# IncompleteRead: the server died while sending its answer (SIGKILL mid-response); the request
# is sent again like after any lost answer (writes are idempotent, creates carry their id)
_RETRYABLE = (ConnectionError, http.client.RemoteDisconnected, http.client.CannotSendRequest,
              http.client.BadStatusLine, http.client.IncompleteRead, TimeoutError, OSError)  # fmt: skip


#: what a connected process may call: the metadata store, deployments, schedules and queues
REMOTE_METHODS = (MetadataStore.__abstractmethods__ | DeploymentStore.__abstractmethods__
                  | ScheduleStore.__abstractmethods__ | QueueStore.__abstractmethods__)  # fmt: skip


class RemoteStore(MetadataStore, DeploymentStore, ScheduleStore, QueueStore):
    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        connect_timeout: float | None = None,
        read_timeout: float = 60.0,
        reconnect_window: float = 60.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(url.rstrip("/"))
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(f"not a server URL: {url!r}", hint="e.g. http://127.0.0.1:8237")
        self.url = f"{parsed.scheme}://{parsed.netloc}"
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port or (443 if self._https else 80)
        self._base = parsed.path.rstrip("/") + "/api/v1/store/"
        self._changes_path = parsed.path.rstrip("/") + "/api/v1/changes"
        self._headers = {"Authorization": f"Bearer {api_key}", "X-Kitaru-Version": __version__,
                         "Content-Type": "application/json"}  # fmt: skip
        # 5 s suits a person at a terminal; kitaru.entrypoint (containers, jobs) waits longer
        self._connect_timeout = connect_timeout or float(
            os.environ.get("KITARU_CONNECT_TIMEOUT") or 5.0
        )
        self._read_timeout = read_timeout
        self._reconnect_window = reconnect_window
        self._local = threading.local()
        self._connected_once = False
        self._changes = RemoteChanges(self)

    #: the runtime sends captured output here (the server keeps it) besides the local file
    ships_logs = True

    def __repr__(self) -> str:
        return f"<RemoteStore {self.url}>"  # never the key

    # -- transport --------------------------------------------------------------------------------
    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self._connect_timeout)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """One HTTP exchange (reconnecting and retrying on a connection failure)."""
        deadline = time.monotonic() + (
            self._reconnect_window if self._connected_once else self._connect_timeout
        )
        delay = 0.05
        while True:
            conn = self._conn()
            try:
                conn.request(method, path, body=body, headers=self._headers)
                if conn.sock is not None and self._connected_once:
                    # until the server has answered once, a hung server fails as fast as
                    # an unreachable one
                    conn.sock.settimeout(self._read_timeout)
                response = conn.getresponse()
                data = response.read()
                self._connected_once = True
                return response.status, data
            except _RETRYABLE as exc:
                self._drop()
                if time.monotonic() + delay > deadline:
                    raise ConfigError(
                        f"cannot reach the Kitaru server at {self.url}: "
                        f"{type(exc).__name__}: {exc}",
                        hint="is `kitaru server start` running there? "
                        "`kitaru logout` to use the local store again",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from kitaru.store import codec

        if method == "create_execution" and kwargs.get("execution_id") is None:
            import secrets

            # chosen here, so a create retried after a lost answer returns the same execution
            kwargs = {**kwargs, "execution_id": secrets.token_hex(6)}
        payload = json.dumps({"args": codec.encode(list(args)), "kwargs": codec.encode(kwargs)})
        status, data = self.request("POST", self._base + method, payload.encode())
        try:
            body = json.loads(data) if data else {}
        except ValueError:
            body = {"detail": data[:200].decode(errors="replace")}
        if status != 200:
            codec.raise_error(body, status)
        return codec.decode(body["result"])

    def changes(self) -> Changes | None:
        """The server's change notifications, heard by long polling it (see
        :class:`RemoteChanges`); None once the server said it has none."""
        return None if self._changes.unsupported else self._changes

    def close(self) -> None:
        self._changes.close()
        self._drop()


#: seconds the server may hold one long poll (below the client's read timeout)
LONG_POLL = 25.0


class RemoteChanges(Changes):
    """A server's change feed, long-polled by one thread of this process while anything
    watches: each answer lists what changed since the cursor of the last one. An answer
    saying ``reset`` (the first one, a restarted or other server, a cursor it no longer
    remembers) wakes every watch; so does losing the server (waiters then poll)."""

    name = "changes-poll"

    def __init__(self, store: RemoteStore) -> None:
        super().__init__()
        self._store = store
        #: the server has no feed (it runs on SQLite, or with KITARU_NOTIFY=0): poll
        self.unsupported = False

    def _listen(self) -> None:
        stream: str | None = None
        after = 0
        while self._wanted():
            query: dict[str, Any] = {"timeout": LONG_POLL}
            if stream is not None:
                query.update(stream=stream, after=after)
            try:
                status, data = self._store.request(
                    "GET", f"{self._store._changes_path}?{urllib.parse.urlencode(query)}"
                )
                body = json.loads(data) if status == 200 else {}
            except (ConfigError, ValueError):
                status, body = 0, {}
            if status == 404 or (status == 200 and not body.get("supported")):
                self.unsupported = True  # an older server, or none to hear: waiters poll
                self._set_listening(False)
                return
            if status != 200:
                stream = None
                if self.listening:
                    self._set_listening(False)
                time.sleep(1.0)
                continue
            for _seq, execution_id, what in body.get("events", ()):
                self.publish(execution_id, what)
            listening = bool(body.get("listening"))
            if body.get("reset") or body["stream"] != stream or listening != self.listening:
                self._set_listening(listening)  # wakes every watch: read the store again
            stream, after = body["stream"], int(body["seq"])


def _remote(name: str) -> Any:
    def method(self: RemoteStore, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, args, kwargs)

    method.__name__ = name
    method.__doc__ = getattr(RemoteStore, name).__doc__
    return method


for _name in sorted(REMOTE_METHODS):
    setattr(RemoteStore, _name, _remote(_name))
abc.update_abstractmethods(RemoteStore)  # type: ignore[type-abstract]  # filled in above
