"""The Google Cloud stand-ins these tests start and stop themselves, each on a free port of
127.0.0.1, from the plugin's dev dependency group (``make setup`` installs them):

- the GCS emulator (``gcp-storage-emulator start --in-memory``), the JSON API of Cloud Storage;
- drongo (``drongo server``, through ``drongo_launcher.py``, which adds one management route to
  set a CustomJob's state): Secret Manager, and Vertex AI's CustomJob API (stored, never run:
  ``vertex_standin`` runs them), reached with the REST transport, an ``api_endpoint`` and
  anonymous credentials.

A module of its own so tests import it by a name no other test directory uses (``import
conftest`` gets whichever directory's conftest pytest imported last)."""

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
from typing import Any

import pytest

from kitaru.testing.services import free_port, stop_process, wait_until_serving

#: the project every test uses: neither stand-in checks projects
PROJECT = "kitaru-test"
#: what these tests set for themselves and the processes they start
GCP_TEST_ENVIRONMENT = {
    # gcsfs's experimental filesystem asks a gRPC API no emulator serves (60 s per operation),
    # for any code that reaches gcsfs through fsspec rather than through the store
    "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    # application default credentials must never probe the GCE metadata server (169.254.169.254):
    # no check, and its address pointed at a closed loopback port should anything ask anyway
    "NO_GCE_CHECK": "true",
    "GCE_METADATA_HOST": "127.0.0.1:9",
    "GCE_METADATA_IP": "127.0.0.1:9",
}
#: wall-clock numbers the tests record, printed at the end of the session
TIMINGS: dict[str, float] = {}


@dataclass(frozen=True)
class StandIn:
    endpoint_url: str
    start_seconds: float


@dataclass(frozen=True)
class GCSEmulator(StandIn):
    def create_bucket(self, name: str) -> None:
        """Through the JSON API (``POST /storage/v1/b``): the emulator keeps buckets in memory
        until it exits, so tests use fresh names."""
        import json

        request = urllib.request.Request(
            f"{self.endpoint_url}/storage/v1/b?project={PROJECT}",
            data=json.dumps({"name": name}).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        urllib.request.urlopen(request, timeout=10).close()


@dataclass(frozen=True)
class Drongo(StandIn):
    def reset(self) -> None:
        """Forget every secret and job (``POST /drongo/reset``)."""
        request = urllib.request.Request(f"{self.endpoint_url}/drongo/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def client_kwargs(self) -> dict[str, Any]:
        """What a google-cloud client needs to talk to drongo: the REST transport (drongo
        serves no gRPC), its endpoint, anonymous credentials. E.g.
        ``aiplatform_v1.JobServiceClient(**drongo.client_kwargs())``."""
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return {"transport": "rest", "credentials": AnonymousCredentials(),
                "client_options": ClientOptions(api_endpoint=self.endpoint_url)}  # fmt: skip

    def job_service(self) -> Any:
        from google.cloud.aiplatform_v1 import JobServiceClient

        return JobServiceClient(**self.client_kwargs())

    def custom_jobs(self, location: str = "us-central1") -> list[Any]:
        """Every CustomJob drongo holds in ``location`` of the test project, oldest first."""
        parent = f"projects/{PROJECT}/locations/{location}"
        jobs = list(self.job_service().list_custom_jobs(parent=parent))
        return sorted(jobs, key=lambda job: int(job.name.rsplit("/", 1)[-1]))

    def set_job_state(self, name: str, state: str, message: str | None = None) -> None:
        """What Vertex AI's scheduler would do and drongo cannot: set a CustomJob's state (and
        its error message), through ``drongo_launcher``'s management route."""
        from urllib.parse import urlencode

        query = {"name": name, "state": state, **({"message": message} if message else {})}
        request = urllib.request.Request(
            f"{self.endpoint_url}/drongo/vertexai/state?{urlencode(query)}", method="POST")  # fmt: skip
        urllib.request.urlopen(request, timeout=10).close()

    def secret_manager(self) -> Any:
        from google.cloud.secretmanager import SecretManagerServiceClient

        return SecretManagerServiceClient(**self.client_kwargs())


def _tool(name: str) -> str:
    """A console script of this venv (the dev group installs it), else one on PATH."""
    script = Path(sys.executable).with_name(name)
    found = str(script) if script.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: install the kitaru-gcp dev group (`make setup`)")
    return found


@contextlib.contextmanager
def _running(argv: list[str], ready_url: str, log: Path, what: str) -> Iterator[float]:
    """Start ``argv`` (output to ``log``), wait until ``ready_url`` answers, yield the seconds
    that took, and stop it (SIGTERM, then SIGKILL)."""
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        if not wait_until_serving(ready_url, proc, 60, interval=0.05):
            if proc.poll() is not None:
                pytest.fail(f"{what} exited ({proc.returncode}): {log.read_text()[-2000:]}")
            pytest.fail(f"{what} not ready after 60 s: {log.read_text()[-2000:]}")
        yield time.monotonic() - started
    finally:
        stop_process(proc)


@contextlib.contextmanager
def running_gcs_emulator(log: Path) -> Iterator[GCSEmulator]:
    """The GCS emulator, in memory, on a free port of 127.0.0.1."""
    port = free_port()
    argv = [_tool("gcp-storage-emulator"), "start", "--host", "127.0.0.1", "--port", str(port),
            "--in-memory"]  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    with _running(argv, f"{endpoint}/", log, "gcp-storage-emulator") as seconds:
        yield GCSEmulator(endpoint, seconds)


@contextlib.contextmanager
def running_drongo(log: Path) -> Iterator[Drongo]:
    """drongo's server (Secret Manager, Vertex AI, ...) on a free port of 127.0.0.1, with the
    job-state route of ``drongo_launcher``."""
    _tool("drongo")  # installed (the dev group)
    port = free_port()
    launcher = Path(__file__).with_name("drongo_launcher.py")
    argv = [sys.executable, str(launcher), "--host", "127.0.0.1", "--port", str(port)]
    endpoint = f"http://127.0.0.1:{port}"
    with _running(argv, f"{endpoint}/drongo/health", log, "drongo") as seconds:
        yield Drongo(endpoint, seconds)
