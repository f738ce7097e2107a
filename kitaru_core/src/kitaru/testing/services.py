"""Helpers for tests that start real services (a Kitaru server, moto, a model server...)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(
    proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 10
) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_until_serving(
    url: str, proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float,
    interval: float = 0.05,
) -> bool:  # fmt: skip
    """Poll ``GET url`` until it answers: True; False once ``proc`` has exited or ``timeout``
    seconds passed (the caller says which, with the service's log)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return True
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(interval)
