"""The Google Cloud stand-ins as processes on free ports of 127.0.0.1, and their clients:

- the GCS emulator (``gcp-storage-emulator start --in-memory``), Cloud Storage's JSON API;
- drongo (``python -m kitaru_gcp.smoke.drongo_launcher``: ``drongo server`` plus one route that
  sets a CustomJob's state): Secret Manager, and Vertex AI's CustomJob API (jobs are stored,
  never run: :mod:`kitaru_gcp.smoke.vertex_jobs` runs them), reached with the REST transport,
  an ``api_endpoint`` and anonymous credentials.

Both come with ``pip install 'kitaru-gcp[smoke]'`` (the plugin's tests use them too). Nothing
here imports a Google SDK or an emulator at module level.
"""

from __future__ import annotations

import contextlib
import importlib.util
import ipaddress
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from kitaru.errors import ConfigError
from kitaru.testing.services import free_port, stop_process, wait_until_serving

INSTALL_HINT = "pip install 'kitaru-gcp[smoke]'"
#: what the stand-ins' clients need, in the smoke run and in every unit (as Vertex AI gives a
#: job its metadata server, these say there is none)
GCP_ENVIRONMENT = {
    # gcsfs's experimental filesystem asks a gRPC API no emulator serves (60 s per operation)
    "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    # application default credentials must never probe the GCE metadata server (169.254.169.254):
    # no check, and its address pointed at a closed loopback port should anything ask anyway
    "NO_GCE_CHECK": "true",
    "GCE_METADATA_HOST": "127.0.0.1:9",
    "GCE_METADATA_IP": "127.0.0.1:9",
}
#: seconds a stand-in may take to answer after it started
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Service:
    endpoint_url: str
    start_seconds: float
    #: the project calls use when they name none (neither stand-in checks projects)
    project: str = "kitaru-smoke"


@dataclass(frozen=True)
class GCSEmulator(Service):
    def create_bucket(self, name: str) -> None:
        """Through the JSON API (``POST /storage/v1/b``); the emulator keeps it in memory."""
        request = urllib.request.Request(
            f"{self.endpoint_url}/storage/v1/b?project={self.project}",
            data=json.dumps({"name": name}).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        urllib.request.urlopen(request, timeout=10).close()


@dataclass(frozen=True)
class Drongo(Service):
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

    def secret_manager(self) -> Any:
        from google.cloud.secretmanager import SecretManagerServiceClient

        return SecretManagerServiceClient(**self.client_kwargs())

    def custom_jobs(self, location: str = "us-central1", project: str | None = None) -> list[Any]:
        """Every CustomJob drongo holds in ``location`` of ``project``, oldest first."""
        parent = f"projects/{project or self.project}/locations/{location}"
        jobs = list(self.job_service().list_custom_jobs(parent=parent))
        return sorted(jobs, key=lambda job: int(job.name.rsplit("/", 1)[-1]))

    def set_job_state(self, name: str, state: str, message: str | None = None) -> None:
        """What Vertex AI's scheduler would do and drongo cannot: set a CustomJob's state (and
        its error message), through ``drongo_launcher``'s management route."""
        query = {"name": name, "state": state, **({"message": message} if message else {})}
        request = urllib.request.Request(
            f"{self.endpoint_url}/drongo/vertexai/state?{urlencode(query)}", method="POST")  # fmt: skip
        urllib.request.urlopen(request, timeout=10).close()


def _needs(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"{what} is not installed (no module {module!r} in {sys.executable})",
                          hint=INSTALL_HINT)  # fmt: skip


@contextlib.contextmanager
def _running(argv: list[str], ready_url: str, log: Path, what: str) -> Iterator[float]:
    """Start ``argv`` (output to ``log``), wait until ``ready_url`` answers, yield the seconds
    that took, and stop it (SIGTERM, then SIGKILL), also on error."""
    started = time.monotonic()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        if not wait_until_serving(ready_url, proc, START_TIMEOUT, interval=0.05):
            tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
            state = f"exited {proc.returncode}" if proc.poll() is not None else (
                f"did not answer within {START_TIMEOUT:.0f} s")  # fmt: skip
            raise ConfigError(f"stand-in {what} {state}: {tail[-300:]}", hint=f"see {log}")
        yield time.monotonic() - started
    finally:
        stop_process(proc)


@contextlib.contextmanager
def running_gcs_emulator(log: Path, project: str = "kitaru-smoke") -> Iterator[GCSEmulator]:
    """The GCS emulator, in memory, on a free port of 127.0.0.1."""
    _needs("gcp_storage_emulator", "the GCS emulator (gcp-storage-emulator)")
    port = free_port()
    argv = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
            "--port", str(port), "--in-memory"]  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    with _running(argv, f"{endpoint}/", log, "gcp-storage-emulator") as seconds:
        yield GCSEmulator(endpoint, seconds, project)


@contextlib.contextmanager
def running_drongo(log: Path, project: str = "kitaru-smoke") -> Iterator[Drongo]:
    """drongo's server (Secret Manager, Vertex AI, ...) on a free port of 127.0.0.1, with the
    job-state route of ``drongo_launcher``."""
    _needs("drongo", "drongo")
    port = free_port()
    argv = [sys.executable, "-m", "kitaru_gcp.smoke.drongo_launcher", "--host", "127.0.0.1",
            "--port", str(port)]  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    with _running(argv, f"{endpoint}/drongo/health", log, "drongo") as seconds:
        yield Drongo(endpoint, seconds, project)


def bucket_problem(name: str) -> str | None:
    """Why Cloud Storage would refuse bucket ``name`` (its naming rules), or None. The emulator
    takes any name: a smoke run must not pass with a bucket the cloud would refuse."""
    if not 3 <= len(name) <= (222 if "." in name else 63):
        return "3 to 63 characters (222 with dots)"
    if any(c not in "abcdefghijklmnopqrstuvwxyz0123456789-_." for c in name):
        return "only lowercase letters, digits, '-', '_' and '.'"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "must start and end with a letter or a digit"
    if any(len(part) > 63 or not part for part in name.split(".")):
        return "each dot-separated part is 1 to 63 characters"
    with contextlib.suppress(ValueError):
        ipaddress.IPv4Address(name)
        return "must not be an IP address"
    if name.startswith("goog") or "google" in name or "g00gle" in name:
        return "must not start with 'goog' or contain 'google'"
    return None
