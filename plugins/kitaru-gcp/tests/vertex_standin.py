"""What stands in for Vertex AI's scheduler, where drongo stops: drongo records a CustomJob and
leaves it ``JOB_STATE_UNSPECIFIED`` forever, without running anything.

:class:`VertexScheduler` watches drongo (ListCustomJobs, every 50 ms) and runs each new job's
container spec — ``command`` + ``args`` with its ``env`` — the way Vertex AI would run its
single replica: as a process on this host (:func:`on_host`), or in a podman container from its
``image_uri`` (:func:`in_podman`). It sets the states drongo never shows through
``drongo_launcher``'s management route: RUNNING when it starts the job, SUCCEEDED when it
exits 0, FAILED with Vertex AI's message for a replica's non-zero exit otherwise; a job
cancelled through the API (drongo sets CANCELLED) has its process killed. That state machine
is the one hand-written part; the jobs' specs, states and errors travel through drongo's REST
API, their values and replies through the GCS emulator, their secrets through drongo's
Secret Manager, and they report to a real Kitaru server.

The platform environment a job gets besides its spec's: ``GCP_TEST_ENVIRONMENT`` (no metadata
server probe), as Vertex AI gives a job its service account's metadata server."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gcp_standins import GCP_TEST_ENVIRONMENT, PROJECT

from tests.job_standins import kitaru_server, podman_engine, register_stack  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from gcp_standins import Drongo


REPO = Path(__file__).resolve().parents[3]
#: the orchestrator's api_key: the server's key in Secret Manager (secret kitaru-kitaru-server)
API_KEY_REFERENCE = "{{secret:kitaru-server.api_key}}"
LOCATION = "us-central1"


def container_spec(job: Any) -> dict[str, Any]:
    """The first worker pool's container spec of a CustomJob (proto-plus or dict):
    ``image_uri``, ``command``, ``args``, ``env`` (a name -> value dict here)."""
    data = type(job).to_dict(job) if not isinstance(job, dict) else job
    spec = dict(data["job_spec"]["worker_pool_specs"][0]["container_spec"])
    spec["env"] = {e["name"]: e["value"] for e in spec.get("env", [])}
    return spec


class Running(Protocol):
    def poll(self) -> int | None: ...
    def kill(self) -> None: ...
    def output(self) -> str: ...


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


def on_host(home: Path) -> Callable[[str, dict[str, Any]], Running]:
    """Jobs as processes here (their ``command`` names this venv's python)."""

    def start(job_name: str, spec: dict[str, Any]) -> Running:
        home.mkdir(parents=True, exist_ok=True)
        log = home / f"job-{job_name.rsplit('/', 1)[-1]}.log"
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "KITARU_HOME": str(home),
               **GCP_TEST_ENVIRONMENT, **spec["env"]}  # fmt: skip
        with log.open("wb") as out:
            proc = subprocess.Popen([*spec["command"], *spec.get("args", [])], env=env,
                                    stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        return HostProcess(proc, log)

    return start


@dataclass
class PodmanContainer:
    container: Any
    logs: str = ""

    def poll(self) -> int | None:
        self.container.reload()
        if self.container.status in ("created", "running", "restarting", "paused"):
            return None
        self.logs = self.container.logs().decode(errors="replace")
        code = int(self.container.attrs["State"]["ExitCode"])
        self.container.remove(force=True)
        return code

    def kill(self) -> None:
        self.container.remove(force=True)

    def output(self) -> str:
        return self.logs


def in_podman(docker_host: str, volumes: dict[str, Any] | None = None) -> Callable[[str, dict[str, Any]], Running]:  # fmt: skip
    """Jobs in containers from their image (host network: the server and the stand-ins listen
    on 127.0.0.1)."""
    import uuid

    import docker

    client = docker.DockerClient(base_url=docker_host, timeout=300)

    def start(job_name: str, spec: dict[str, Any]) -> Running:
        container = client.containers.run(
            spec["image_uri"], entrypoint=spec["command"], command=spec.get("args", []),
            name=f"kitaru-vertex-{uuid.uuid4().hex[:8]}", detach=True, network_mode="host",
            environment={**GCP_TEST_ENVIRONMENT, **spec["env"]}, volumes=volumes or {},
        )  # fmt: skip
        return PodmanContainer(container)

    return start


@dataclass
class VertexScheduler:
    """Runs every CustomJob drongo records (see the module doc)."""

    drongo: Drongo
    start_job: Callable[[str, dict[str, Any]], Running]
    location: str = LOCATION
    #: job resource name -> (its container spec, exit code, output) once ended
    ended: dict[str, tuple[dict[str, Any], int, str]] = field(default_factory=dict)
    _running: dict[str, tuple[dict[str, Any], Running]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)

    def _tick(self) -> None:
        for job in self.drongo.custom_jobs(self.location):
            name, state = job.name, job.state.name
            if state == "JOB_STATE_UNSPECIFIED" and name not in self._running | self.ended:
                spec = container_spec(job)
                self.drongo.set_job_state(name, "JOB_STATE_RUNNING")
                self._running[name] = (spec, self.start_job(name, spec))
            elif state == "JOB_STATE_CANCELLED" and name in self._running:
                spec, run = self._running.pop(name)  # Vertex AI stops a cancelled job's replica
                run.kill()
                self.ended[name] = (spec, -9, run.output())
        for name, (spec, run) in list(self._running.items()):
            code = run.poll()
            if code is None:
                continue
            del self._running[name]
            self.ended[name] = (spec, code, run.output())
            if code == 0:
                self.drongo.set_job_state(name, "JOB_STATE_SUCCEEDED")
            else:  # Vertex AI's message for a replica's non-zero exit
                self.drongo.set_job_state(name, "JOB_STATE_FAILED", (
                    f"The replica workerpool0-0 exited with a non-zero status of {code}. To "
                    "find out more about why your job exited please check the logs: "
                    f"https://console.cloud.google.com/logs/viewer?project={PROJECT}"))  # fmt: skip

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
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
            for _, run in self._running.values():
                run.kill()

    def wait_idle(self, count: int, timeout: float = 120) -> None:
        """Until ``count`` jobs have ended."""
        deadline = time.monotonic() + timeout
        while len(self.ended) < count:
            assert time.monotonic() < deadline, f"{len(self.ended)} of {count} jobs ended"
            time.sleep(0.1)
