"""What stands in for Vertex AI's scheduler, where drongo stops: drongo records a CustomJob and
leaves it ``JOB_STATE_UNSPECIFIED`` forever, without running anything.

:class:`VertexJobs` (a :class:`kitaru.components.standins.UnitRunner`) lists drongo's CustomJobs on
every :meth:`~VertexJobs.poll` and runs each new job's container spec — ``image_uri``,
``command`` + ``args``, its ``env`` plus what Vertex AI gives a job — once, the way Vertex AI
runs its single replica: in a container of the engine (:func:`in_engine`, through
:class:`kitaru_docker.smoke.ContainerUnits`), or however ``start_job`` says (the plugin's tests
also run jobs as processes). It sets the states drongo never shows through
``drongo_launcher``'s route: RUNNING when it starts the job, SUCCEEDED when it exits 0, FAILED
with Vertex AI's message for a replica's non-zero exit otherwise; a job cancelled through the
API (drongo sets CANCELLED) is stopped and keeps that state.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kitaru.errors import describe
from kitaru_gcp.smoke.services import GCP_ENVIRONMENT

if TYPE_CHECKING:
    from kitaru_docker.smoke import ContainerUnits

    from kitaru_gcp.smoke.services import Drongo

_NOT_NAME = re.compile(r"[^a-zA-Z0-9_.-]+")


def container_spec(job: Any) -> dict[str, Any]:
    """The first worker pool's container spec of a CustomJob (proto-plus or dict):
    ``image_uri``, ``command``, ``args``, ``env`` (a name -> value dict here)."""
    data = type(job).to_dict(job) if not isinstance(job, dict) else job
    spec = dict(data["job_spec"]["worker_pool_specs"][0]["container_spec"])
    spec["env"] = {e["name"]: e["value"] for e in spec.get("env", [])}
    return spec


def failure_message(job_name: str, code: int) -> str:
    """What Vertex AI says of a job whose replica exited ``code``."""
    project = job_name.split("/")[1] if job_name.count("/") >= 3 else "-"
    return (f"The replica workerpool0-0 exited with a non-zero status of {code}. To find out "
            "more about why your job exited please check the logs: "
            f"https://console.cloud.google.com/logs/viewer?project={project}")  # fmt: skip


def job_environment(job: Any) -> dict[str, str]:
    """What Vertex AI sets in a job's container besides its spec's ``env``: the project and
    the job's id (its metadata server is :data:`GCP_ENVIRONMENT`'s "none")."""
    parts = job.name.split("/")  # projects/P/locations/L/customJobs/ID
    return {**GCP_ENVIRONMENT, "CLOUD_ML_PROJECT_ID": parts[1], "CLOUD_ML_REGION": parts[3],
            "CLOUD_ML_JOB_ID": parts[-1]}  # fmt: skip


class Running(Protocol):
    """One started job's replica."""

    def poll(self) -> int | None:
        """Its exit code once it ended, else None."""

    def kill(self) -> None:
        """Stop it (Vertex AI stops a cancelled job's replica)."""

    def output(self) -> str:
        """What it printed (or why it could not start)."""


#: ``start_job(unit name, role, spec with the full environment) -> Running``
StartJob = Callable[[str, str, dict[str, Any]], Running]


@dataclass
class _NotStarted:
    error: str

    def poll(self) -> int:
        return -1

    def kill(self) -> None:
        pass

    def output(self) -> str:
        return self.error


@dataclass
class _EngineJob:
    units: ContainerUnits
    name: str

    def poll(self) -> int | None:
        unit = self.units.units[self.name]
        return unit.exit_code if unit.ended else None

    def kill(self) -> None:
        self.units.stop(self.name)

    def output(self) -> str:
        unit = self.units.units[self.name]
        return unit.error or unit.output


def in_engine(units: ContainerUnits, volumes: dict[str, dict[str, str]] | None = None) -> StartJob:
    """Jobs as containers from their ``image_uri`` on ``units``' engine, with the host's network
    (the Kitaru server and the stand-ins listen on 127.0.0.1); ``volumes`` for tests."""

    def start(name: str, role: str, spec: dict[str, Any]) -> Running:
        units.start(name, role=role, image=spec["image_uri"], entrypoint=spec.get("command"),
                    command=list(spec.get("args") or []), environment=spec["env"],
                    volumes=volumes)  # fmt: skip
        return _EngineJob(units, name)

    return start


@dataclass
class Ended:
    spec: dict[str, Any]
    code: int
    output: str
    role: str
    display_name: str
    seconds: float


@dataclass
class VertexJobs:
    """Runs every CustomJob drongo records in ``project``/``location`` (see the module doc)."""

    drongo: Drongo
    start_job: StartJob
    project: str
    location: str = "us-central1"
    #: job resource name -> how it ended
    ended: dict[str, Ended] = field(default_factory=dict)
    _running: dict[str, tuple[Any, Running, float]] = field(default_factory=dict)

    def poll(self) -> None:
        """Start the jobs recorded since the last call; record (and tell drongo) the ended."""
        for job in self.drongo.custom_jobs(self.location, self.project):
            name, state = job.name, job.state.name
            if state == "JOB_STATE_UNSPECIFIED" and name not in self._running | self.ended:
                self._start(job)
            elif state == "JOB_STATE_CANCELLED" and name in self._running:
                _, run, _ = self._running[name]
                run.kill()
                self._end(name, -9, set_state=False)
        for name, (_, run, _) in list(self._running.items()):
            code = run.poll()
            if code is not None:
                self._end(name, code)

    def _start(self, job: Any) -> None:
        spec = container_spec(job)
        role = dict(job.labels).get("kitaru-role", "job")
        # a container name per job: its display name (the unit's) and its numeric id
        unit = _NOT_NAME.sub("-", f"{job.display_name or 'job'}-{job.name.rsplit('/', 1)[-1]}")
        self.drongo.set_job_state(job.name, "JOB_STATE_RUNNING")
        started = time.monotonic()
        full = {**spec, "env": {**job_environment(job), **spec["env"]}}
        try:
            run: Running = self.start_job(unit, role, full)
        except Exception as exc:  # the engine refused it: Vertex AI would fail the job too
            run = _NotStarted(describe(exc))
        self._running[job.name] = (job, run, started)

    def _end(self, name: str, code: int, *, set_state: bool = True) -> None:
        job, run, started = self._running.pop(name)
        self.ended[name] = Ended(container_spec(job), code, run.output(),
                                 dict(job.labels).get("kitaru-role", "job"),
                                 job.display_name, time.monotonic() - started)  # fmt: skip
        if not set_state:
            return
        if code == 0:
            self.drongo.set_job_state(name, "JOB_STATE_SUCCEEDED")
        else:
            self.drongo.set_job_state(name, "JOB_STATE_FAILED", failure_message(name, code))

    def problems(self) -> list[str]:
        """A line per job that ended badly: its display name, role, exit code, last line."""
        lines = []
        for e in self.ended.values():
            if e.code == 0:
                continue
            last = [x.strip() for x in e.output.strip().splitlines() if x.strip()]
            tail = f": {last[-1][:300]}" if last else ""
            what = "was cancelled" if e.code == -9 else f"exited {e.code}"
            lines.append(f"Vertex AI CustomJob {e.display_name} ({e.role}) {what}{tail}")
        return lines

    def summary(self) -> list[str]:
        """A line per job: its role, image, exit code and duration (or still running)."""
        lines = [f"CustomJob {e.display_name} ({e.role}) ran in the engine: exit {e.code}, "
                 f"{e.seconds:.1f} s" for e in self.ended.values()]  # fmt: skip
        lines += [f"CustomJob {job.display_name} ({dict(job.labels).get('kitaru-role', 'job')}) "
                  f"still running, {time.monotonic() - started:.1f} s so far"
                  for job, _, started in self._running.values()]  # fmt: skip
        return lines

    def busy(self) -> bool:
        """A job it started has not ended (its exit is seen by :meth:`poll`)."""
        return bool(self._running)

    def close(self) -> None:
        """Stop the jobs that still run (the run is over)."""
        for _, run, _ in list(self._running.values()):
            with contextlib.suppress(Exception):
                run.kill()
