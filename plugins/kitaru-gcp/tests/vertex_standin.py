"""What stands in for Vertex AI's scheduler in these tests: the product's
:class:`kitaru_gcp.smoke.vertex_jobs.VertexJobs` (what ``kitaru smoke`` runs jobs with), polled
every 50 ms by :class:`VertexScheduler`'s thread. It runs each new CustomJob drongo records —
``command`` + ``args`` with its ``env`` and what Vertex AI adds — as a process on this host
(:func:`on_host`, these tests' own), or in a podman container from its ``image_uri``
(:func:`in_podman`: the product's ``in_engine``), and sets RUNNING / SUCCEEDED / FAILED through
``drongo_launcher``'s route; a job cancelled through the API has its replica killed. That state
machine is the one hand-written part; the jobs' specs, states and errors travel through
drongo's REST API, their values and replies through the GCS emulator, their secrets through
drongo's Secret Manager, and they report to a real Kitaru server."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcp_standins import PROJECT
from kitaru_gcp.smoke.vertex_jobs import StartJob, VertexJobs, container_spec, in_engine

from tests.job_standins import kitaru_server, podman_engine, register_stack

if TYPE_CHECKING:
    from gcp_standins import Drongo

__all__ = ["API_KEY_REFERENCE", "REPO", "VertexScheduler", "container_spec", "in_podman",
           "kitaru_server", "on_host", "podman_engine", "register_stack"]  # fmt: skip

REPO = Path(__file__).resolve().parents[3]
#: the orchestrator's api_key: the server's key in Secret Manager (secret kitaru-kitaru-server)
API_KEY_REFERENCE = "{{secret:kitaru-server.api_key}}"
LOCATION = "us-central1"


@dataclass
class HostProcess:
    proc: subprocess.Popen[bytes]
    log: Path

    def poll(self) -> int | None:
        return self.proc.poll()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def on_host(home: Path) -> StartJob:
    """Jobs as processes here (their ``command`` names this venv's python)."""

    def start(name: str, role: str, spec: dict[str, Any]) -> HostProcess:
        home.mkdir(parents=True, exist_ok=True)
        log = home / f"job-{name}.log"
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "KITARU_HOME": str(home),
               **spec["env"]}  # fmt: skip
        with log.open("wb") as out:
            proc = subprocess.Popen([*spec["command"], *spec.get("args", [])], env=env,
                                    stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        return HostProcess(proc, log)

    return start


def in_podman(docker_host: str, volumes: dict[str, Any] | None = None) -> StartJob:
    """Jobs in containers of the podman engine from their image (the product's ``in_engine``:
    host network, as in a smoke run)."""
    from kitaru_docker.smoke import ContainerUnits

    return in_engine(ContainerUnits(docker_host, timeout=600), volumes)


@dataclass
class VertexScheduler:
    """Polls :class:`VertexJobs` every 50 ms in a thread (see the module doc)."""

    drongo: Drongo
    start_job: StartJob
    location: str = LOCATION
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.jobs = VertexJobs(self.drongo, self.start_job, PROJECT, self.location)

    @property
    def ended(self) -> dict[str, tuple[dict[str, Any], int, str]]:
        """Job resource name -> (its container spec, exit code, output) once ended."""
        return {name: (e.spec, e.code, e.output) for name, e in list(self.jobs.ended.items())}

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.jobs.poll()
            except Exception as exc:  # a reset drongo between two calls; kept for the test
                self.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.05)

    @contextlib.contextmanager
    def running(self) -> Iterator[VertexScheduler]:
        thread = threading.Thread(target=self._loop, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=10)
            self.jobs.close()

    def wait_idle(self, count: int, timeout: float = 120) -> None:
        """Until ``count`` jobs have ended."""
        deadline = time.monotonic() + timeout
        while len(self.jobs.ended) < count:
            assert time.monotonic() < deadline, f"{len(self.jobs.ended)} of {count} jobs ended"
            time.sleep(0.1)
