"""What stands in for AzureML's scheduler, where the fake stops: ``fake_azure`` records a command
job as ``NotStarted`` and runs nothing.

:class:`AzureMLScheduler` watches the fake's jobs (every 50 ms) and runs each new one the way
AzureML runs a command job: its ``command`` through ``sh -c``, with its
``environmentVariables`` and what the compute gives every job (its managed identity:
``MSI_ENDPOINT``/``MSI_SECRET``, here the fake's, and the fake's CA), as a process on this host
(:func:`on_host`) or in a podman container from the image of the job's environment
(:func:`in_podman`). It moves the job through AzureML's statuses: ``Running`` when it starts
it, ``Completed`` on exit 0, ``Failed`` otherwise (its output then the job's ``user_logs``
in the fake's run history); a job cancelled through the API
(``CancelRequested``) has its process killed and becomes ``Canceled``. That state machine is the
hand-written part; the jobs' specs travel through azure-ai-ml and the fake's REST API, their
values and replies through Azurite, their secrets through the Key Vault fake, and they report
to a real Kitaru server."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tests.job_standins import kitaru_server, podman_engine, register_stack  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from fake_azure import FakeAzure


REPO = Path(__file__).resolve().parents[3]
#: the orchestrator's api_key: the server's key in Key Vault (secret kitaru-kitaru-2dserver)
API_KEY_REFERENCE = "{{secret:kitaru-server.api_key}}"


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
        # the whole group: `sh -c` may have the job's python as a child, not as itself
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


#: (job name, image, command, environment) -> a running job
Starter = Callable[[str, str, str, dict[str, str]], Running]


def on_host(home: Path) -> Starter:
    """Jobs as processes here (their command names this venv's python)."""

    def start(name: str, image: str, command: str, env: dict[str, str]) -> Running:
        home.mkdir(parents=True, exist_ok=True)
        log = home / f"job-{name}.log"
        full = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "KITARU_HOME": str(home),
                **env}  # fmt: skip
        with log.open("wb") as out:
            proc = subprocess.Popen(["sh", "-c", command], env=full, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
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


def in_podman(docker_host: str, volumes: dict[str, Any]) -> Starter:
    """Jobs in containers from their environment's image (host network: the server and the
    stand-ins listen on 127.0.0.1). ``volumes`` must include the fake's CA folder."""
    import uuid

    import docker

    client = docker.DockerClient(base_url=docker_host, timeout=300)

    def start(name: str, image: str, command: str, env: dict[str, str]) -> Running:
        container = client.containers.run(
            image, entrypoint=["sh", "-c"], command=[command], detach=True,
            name=f"kitaru-azureml-{uuid.uuid4().hex[:8]}", network_mode="host",
            environment=env, volumes=volumes,
        )  # fmt: skip
        return PodmanContainer(container)

    return start


@dataclass
class AzureMLScheduler:
    """Runs every command job the fake records (see the module doc)."""

    fake: FakeAzure
    start_job: Starter
    #: job name -> (its command, environment variables, exit code, output) once ended
    ended: dict[str, tuple[str, dict[str, str], int, str]] = field(default_factory=dict)
    _running: dict[str, tuple[str, dict[str, str], Running]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)

    def _tick(self) -> None:
        with self.fake.lock:
            jobs = {name: json.loads(json.dumps(job)) for name, job in self.fake.jobs.items()}
        for name, job in jobs.items():
            props, status = job["properties"], job["properties"]["status"]
            if status == "NotStarted" and name not in self._running | self.ended:
                env = {**self.fake.environment(), **props.get("environmentVariables", {})}
                self.fake.set_status(name, "Running")
                run = self.start_job(name, self.fake.job_image(job), props["command"], env)
                self._running[name] = (props["command"], env, run)
            elif status == "CancelRequested" and name in self._running:
                command, env, run = self._running.pop(name)  # AzureML stops a cancelled job
                run.kill()
                self.ended[name] = (command, env, -9, run.output())
                self.fake.set_status(name, "Canceled")
        for name, (command, env, run) in list(self._running.items()):
            code = run.poll()
            if code is None:
                continue
            del self._running[name]
            self.ended[name] = (command, env, code, run.output())
            self.fake.set_logs(name, run.output())  # AzureML uploads the job's user_logs
            self.fake.set_status(name, "Completed" if code == 0 else "Failed")

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception as exc:  # a reset fake between two reads; kept for the test
                self.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.05)

    @contextlib.contextmanager
    def running(self) -> Iterator[AzureMLScheduler]:
        thread = threading.Thread(target=self._loop, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=10)
            for _, _, run in self._running.values():
                run.kill()

    def wait_idle(self, count: int, timeout: float = 120) -> None:
        """Until ``count`` jobs have ended."""
        deadline = time.monotonic() + timeout
        while len(self.ended) < count:
            assert time.monotonic() < deadline, f"{len(self.ended)} of {count} jobs ended"
            time.sleep(0.1)
