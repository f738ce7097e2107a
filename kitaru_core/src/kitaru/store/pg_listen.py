"""The PostgreSQL store's listener: one dedicated connection per process running ``LISTEN``.

Started when something in the process first waits on an execution (or a server's change feed
subscribes) and ended a second after the last watch closes; see :mod:`kitaru.store.changes`.
A lost connection (a database restart, ``pg_terminate_backend``) is reconnected with backoff;
meanwhile waiters poll.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kitaru.errors import ConfigError
from kitaru.store.changes import CHANNEL, Changes
from kitaru.store.pg_pool import psycopg

#: seconds between two checks that someone still watches (the listener's idle wake-up)
IDLE_CHECK = 1.0


class PgChanges(Changes):
    """Notifications of one PostgreSQL database, heard on a connection of ``connect()``."""

    name = "listener"

    def __init__(self, connect: Callable[[], Any]) -> None:
        super().__init__()
        self._connect = connect
        #: notifications heard (for tests and measurements)
        self.heard = 0

    def _listen(self) -> None:
        delay = 0.1
        while self._wanted():
            try:
                conn = self._connect()
            except ConfigError:  # the database is away: waiters poll until it is back
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            try:
                conn.execute(f"LISTEN {CHANNEL}")
                self._set_listening(True)
                delay = 0.1
                while self._wanted():
                    for note in conn.notifies(timeout=IDLE_CHECK):
                        execution_id, _, what = note.payload.partition(":")
                        self.heard += 1
                        self.publish(execution_id, what)
            except psycopg.Error:
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if self.listening:
                    self._set_listening(False)
                conn.close()
