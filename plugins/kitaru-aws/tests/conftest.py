"""moto in server mode, started and stopped by these tests (one process per session, on a free
port of 127.0.0.1). Each test gets fresh state (``POST /moto-api/reset``) and a bucket."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kitaru.testing.services import free_port, stop_process

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


@pytest.fixture(scope="session")
def aws_credentials() -> Iterator[None]:
    """moto's fake credentials in this process's environment (restored at the end)."""
    saved = {k: os.environ.get(k) for k in [*CREDENTIALS, "AWS_PROFILE", "AWS_ENDPOINT_URL"]}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(CREDENTIALS)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


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
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"moto_server exited ({proc.returncode}): {log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"moto_server not ready after 60 s: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield Moto(endpoint, time.monotonic() - started)
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def moto_server(aws_credentials: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    """One server for the session; its start time is printed in the terminal summary."""
    with running_moto(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        TIMINGS["moto start (s)"] = round(server.start_seconds, 2)
        yield server


@pytest.fixture
def moto(moto_server: Moto) -> Moto:
    """The server, emptied for this test."""
    moto_server.reset()
    return moto_server


@pytest.fixture
def bucket(moto: Moto) -> str:
    name = f"kitaru-test-{uuid.uuid4().hex[:8]}"
    moto.client("s3").create_bucket(Bucket=name)  # type: ignore[attr-defined]
    return name


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.write_line(
            "kitaru-aws timings: " + ", ".join(f"{k} {v}" for k, v in TIMINGS.items())
        )
