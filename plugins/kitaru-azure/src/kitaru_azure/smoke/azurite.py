"""Azurite's blob service (Microsoft's storage emulator, an npm package), started on a free port
of 127.0.0.1: in memory, ``--skipApiVersionCheck`` (azure-storage-blob 12.31 sends an API version
Azurite 3.37 does not know yet and would refuse with InvalidHeaderValue) and ``--loose``. With a
certificate it serves HTTPS, and with ``oauth`` it also accepts Entra ID bearer tokens
(``--oauth basic``: it checks a token's issuer, audience and lifetime, not its signature; a
bearer token is only ever sent over HTTPS).

:func:`find_azurite` looks for ``azurite-blob`` where the plugin's tests install it
(``~/.cache/kitaru/azurite-VERSION``, or ``$KITARU_CACHE``), then on ``PATH``; nothing found is a
one-line ConfigError saying ``npm install -g azurite``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kitaru.errors import ConfigError
from kitaru.testing.services import free_port, stop_process

#: the version the plugin is tested with (the tests' cached install)
AZURITE_VERSION = "3.37.0"
#: Azurite's well-known development account (public: it is in Microsoft's docs)
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")  # fmt: skip
INSTALL_HINT = "npm install -g azurite (Node.js 18+), or put azurite-blob on PATH"


def cache_dir() -> Path:
    return Path(os.environ.get("KITARU_CACHE") or Path.home() / ".cache" / "kitaru")


def cached_azurite() -> Path:
    """Where the tests' npm install puts ``azurite-blob`` (it may not exist)."""
    return cache_dir() / f"azurite-{AZURITE_VERSION}" / "node_modules" / ".bin" / "azurite-blob"


def find_azurite() -> Path:
    """``azurite-blob``: the cached install, else PATH's; else a one-line ConfigError."""
    cached = cached_azurite()
    if cached.exists():
        return cached
    found = shutil.which("azurite-blob")
    if found:
        return Path(found)
    raise ConfigError("Azurite (azurite-blob) is not installed: it stands in for Azure Blob "
                      "Storage in a smoke run", hint=INSTALL_HINT)  # fmt: skip


@dataclass(frozen=True)
class Azurite:
    endpoint_url: str  # http(s)://127.0.0.1:PORT/devstoreaccount1
    start_seconds: float

    @property
    def connection_string(self) -> str:
        scheme = self.endpoint_url.partition("://")[0]
        return (f"DefaultEndpointsProtocol={scheme};AccountName={ACCOUNT};"
                f"AccountKey={ACCOUNT_KEY};BlobEndpoint={self.endpoint_url};")  # fmt: skip

    def service(self) -> object:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def create_container(self, name: str) -> None:
        self.service().create_container(name)  # type: ignore[attr-defined]

    def blobs(self, container: str) -> dict[str, bytes]:
        """Every blob of ``container``: name -> content."""
        client = self.service().get_container_client(container)  # type: ignore[attr-defined]
        return {b.name: client.download_blob(b.name).readall() for b in client.list_blobs()}


def answers(url: str, proc: subprocess.Popen[bytes], timeout: float,
            context: ssl.SSLContext | None = None) -> bool:  # fmt: skip
    """Poll ``url`` until an HTTP answer comes, whatever its status (Azurite answers an
    unsigned request with 403): True; False once ``proc`` exited or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2, context=context).close()
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.1)


@contextlib.contextmanager
def running_azurite(
    log: Path, script: Path | None = None, *, tls: tuple[Path, Path] | None = None,
    oauth: bool = False,
) -> Iterator[Azurite]:  # fmt: skip
    """Azurite's blob service, in memory, on a free port of 127.0.0.1 (``script``: which
    ``azurite-blob``; default :func:`find_azurite`). ``tls``: (certificate, key) PEM files to
    serve HTTPS with (the certificate must name 127.0.0.1 and be its own CA); ``oauth``: accept
    Entra ID bearer tokens too (needs ``tls``). Stopped on exit."""
    if oauth and not tls:
        raise ValueError("Azurite accepts OAuth only over HTTPS: pass tls=(cert, key)")
    script = script or find_azurite()
    port = free_port()
    argv = [str(script), "--blobHost", "127.0.0.1", "--blobPort", str(port),
            "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--loose"]  # fmt: skip
    context = None
    if tls:
        argv += ["--cert", str(tls[0]), "--key", str(tls[1])]
        context = ssl.create_default_context(cafile=str(tls[0]))
    if oauth:
        argv += ["--oauth", "basic"]
    started = time.monotonic()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        # cwd: whatever Azurite writes besides memory stays in the run's folder
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
    endpoint = f"{'https' if tls else 'http'}://127.0.0.1:{port}/{ACCOUNT}"
    try:
        if not answers(f"{endpoint}?comp=list", proc, 60, context):
            tail = [x for x in log.read_text(errors="replace").splitlines() if x.strip()]
            raise ConfigError(f"Azurite did not start ({script}): "
                              f"{tail[-1] if tail else 'no output'}", hint=f"its log: {log}")  # fmt: skip
        yield Azurite(endpoint, time.monotonic() - started)
    finally:
        stop_process(proc)
