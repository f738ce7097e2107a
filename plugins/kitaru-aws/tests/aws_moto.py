"""moto in server mode for these tests: started on a free port of 127.0.0.1 and stopped by
them (``running_moto``), the fake credentials, and the timings printed at the end. A module
of its own so tests import it by a name no other test directory uses (``import conftest``
gets whichever directory's conftest pytest imported last)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kitaru.testing.services import free_port, stop_process, wait_until_serving

REGION = "us-east-1"
#: wall-clock numbers the tests record, printed at the end of the session
TIMINGS: dict[str, float] = {}
#: moto accepts any credentials; these never leave the machine
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@dataclass(frozen=True)
class Moto:
    endpoint_url: str
    start_seconds: float

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def client(self, service: str) -> object:
        import boto3

        return boto3.session.Session(region_name=REGION).client(
            service, endpoint_url=self.endpoint_url
        )


def moto_server_argv(port: int) -> list[str]:
    script = Path(sys.executable).with_name("moto_server")
    found = str(script) if script.exists() else shutil.which("moto_server")
    if found is None:
        pytest.fail("moto_server not found: install the plugin's dev group (`make setup`)")
    return [found, "-H", "127.0.0.1", "-p", str(port)]


@contextlib.contextmanager
def running_moto(log: Path) -> Iterator[Moto]:
    """``moto_server`` on a free port of 127.0.0.1, ready (``GET /moto-api/`` answers), then
    stopped."""
    port = free_port()
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(moto_server_argv(port), stdout=out, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_serving(f"{endpoint}/moto-api/", proc, 60, interval=0.1):
            if proc.poll() is not None:
                pytest.fail(f"moto_server exited ({proc.returncode}): {log.read_text()[-2000:]}")
            pytest.fail(f"moto_server not ready after 60 s: {log.read_text()[-2000:]}")
        yield Moto(endpoint, time.monotonic() - started)
    finally:
        stop_process(proc)
