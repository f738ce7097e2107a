"""The Azure stand-ins these tests start and stop themselves, on free ports of 127.0.0.1:

- Azurite's blob service (``azurite-blob --inMemoryPersistence --skipApiVersionCheck``),
  installed from the npm registry on first use into ``~/.cache/kitaru/azurite-VERSION``
  (``npm install``, about a minute and a half, once; later runs reuse it);
- ``fake_azure`` (in this folder): Key Vault's and AzureML's REST operations, Entra ID's token
  endpoints and an AzureML compute's managed-identity endpoint (no emulator exists for them).

``--skipApiVersionCheck``: azure-storage-blob 12.31 sends an API version Azurite 3.37 does not
know yet and would refuse (InvalidHeaderValue). A module of its own so tests import it by a
name no other test directory uses."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kitaru.testing.services import free_port, stop_process

AZURITE_VERSION = "3.37.0"
#: Azurite's well-known development account (public: it is in Microsoft's docs)
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")  # fmt: skip
#: wall-clock numbers the tests record, printed at the end of the session
TIMINGS: dict[str, float] = {}


def cache_dir() -> Path:
    return Path(os.environ.get("KITARU_CACHE") or Path.home() / ".cache" / "kitaru")


def azurite_blob() -> Path:
    """``azurite-blob`` of the cached npm install; installs it on first use (under a lock:
    parallel workers wait for one install). Skips when there is no npm."""
    home = cache_dir() / f"azurite-{AZURITE_VERSION}"
    script = home / "node_modules" / ".bin" / "azurite-blob"
    if script.exists():
        return script
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("no npm to install Azurite with")
    home.mkdir(parents=True, exist_ok=True)
    with (home.parent / f".azurite-{AZURITE_VERSION}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not script.exists():
            started = time.monotonic()
            done = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(home),
                 f"azurite@{AZURITE_VERSION}"], capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            if done.returncode != 0:
                pytest.fail(f"npm install azurite failed: {(done.stderr or done.stdout)[-2000:]}")
            TIMINGS["azurite npm install (s)"] = round(time.monotonic() - started, 1)
    return script


@dataclass(frozen=True)
class Azurite:
    endpoint_url: str  # http://127.0.0.1:PORT/devstoreaccount1
    start_seconds: float

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint={self.endpoint_url};")  # fmt: skip

    def service(self) -> object:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def create_container(self, name: str) -> None:
        self.service().create_container(name)  # type: ignore[attr-defined]

    def blobs(self, container: str) -> dict[str, bytes]:
        """Every blob of ``container``: name -> content."""
        client = self.service().get_container_client(container)  # type: ignore[attr-defined]
        return {b.name: client.download_blob(b.name).readall() for b in client.list_blobs()}


def answers(url: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Poll ``url`` until an HTTP answer comes, whatever its status (Azurite answers an
    unsigned request with 403): True; False once ``proc`` exited or ``timeout`` passed."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.1)


@contextlib.contextmanager
def running_azurite(log: Path) -> Iterator[Azurite]:
    """Azurite's blob service, in memory, on a free port of 127.0.0.1."""
    script = azurite_blob()
    port = free_port()
    argv = [str(script), "--blobHost", "127.0.0.1", "--blobPort", str(port),
            "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--loose"]  # fmt: skip
    started = time.monotonic()
    with log.open("wb") as out:
        # cwd: whatever Azurite writes besides memory stays in the test's folder
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
    endpoint = f"http://127.0.0.1:{port}/{ACCOUNT}"
    try:
        if not answers(f"{endpoint}?comp=list", proc, 60):
            pytest.fail(f"azurite did not start: {log.read_text()[-2000:]}")
        yield Azurite(endpoint, time.monotonic() - started)
    finally:
        stop_process(proc)
