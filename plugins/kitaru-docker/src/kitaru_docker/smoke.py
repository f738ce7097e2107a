"""Smoke-run stand-ins of kitaru-docker: running recorded units as containers, and the
``docker`` flavors themselves (a registry of the CI job's own in place of the real one).

:class:`ContainerUnits` is what every cloud plugin's stand-in runner uses: a cloud's job API
stand-in (moto, an emulator) records a job; the plugin's runner reads its image, command and
environment and hands them here, and the container runs on the smoke run's engine with the
host's network (the Kitaru server and the stand-ins listen on 127.0.0.1), as the cloud would
run it. Exit codes, durations and output are kept for the report.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from kitaru.components.standins import ComponentUse, SmokeContext, StoodIn
from kitaru.errors import ConfigError


@dataclass
class RanUnit:
    name: str
    role: str
    image: str
    started: float = field(default_factory=time.monotonic)
    seconds: float | None = None
    exit_code: int | None = None
    output: str = ""
    error: str | None = None  # the engine could not start it

    @property
    def ended(self) -> bool:
        return self.seconds is not None


class ContainerUnits:
    """Runs units in containers of the engine at ``docker_host``, each in a thread of its own;
    remembers every unit by name so a backend's listing can be polled without running one
    twice. ``labels`` mark the containers (``kitaru.smoke``) for cleanup."""

    def __init__(self, docker_host: str | None, *, timeout: float = 1800.0) -> None:
        if docker_host is None:
            raise ConfigError("a smoke run of this stack needs a container engine",
                              hint="set DOCKER_HOST (podman or Docker; see docs/ci.md)")  # fmt: skip
        self.docker_host = docker_host
        self.timeout = timeout
        self.units: dict[str, RanUnit] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._run_id = uuid.uuid4().hex[:8]

    def seen(self, name: str) -> bool:
        with self._lock:
            return name in self.units

    def start(
        self, name: str, *, role: str, image: str, command: list[str],
        environment: dict[str, str], entrypoint: list[str] | None = None,
        volumes: dict[str, dict[str, str]] | None = None,
    ) -> bool:  # fmt: skip
        """Start unit ``name`` unless it was started before; True if started now."""
        with self._lock:
            if name in self.units:
                return False
            unit = self.units[name] = RanUnit(name, role, image)
        thread = threading.Thread(target=self._run, name=f"smoke-{name}", daemon=True,
                                  args=(unit, command, entrypoint, environment, volumes))  # fmt: skip
        self._threads.append(thread)
        thread.start()
        return True

    def _run(
        self, unit: RanUnit, command: list[str], entrypoint: list[str] | None,
        environment: dict[str, str], volumes: dict[str, dict[str, str]] | None,
    ) -> None:  # fmt: skip
        from kitaru_docker.engine import connect, one_line

        try:
            client = connect(self.docker_host, self.timeout)
            container = client.containers.run(
                unit.image, command=command, entrypoint=entrypoint, detach=True,
                name=self._container_name(unit.name), network_mode="host",
                environment=environment, volumes=volumes or {},
                labels={"kitaru.smoke": self._run_id},
            )  # fmt: skip
        except Exception as exc:
            unit.error, unit.exit_code = one_line(exc), -1
            unit.seconds = time.monotonic() - unit.started
            return
        try:
            unit.exit_code = int(container.wait(timeout=self.timeout)["StatusCode"])
        except Exception as exc:  # it ran past the limit, or the engine went away
            unit.error, unit.exit_code = one_line(exc), -1
        finally:
            with contextlib.suppress(Exception):
                unit.output = container.logs().decode(errors="replace")
            with contextlib.suppress(Exception):
                container.remove(force=True)
            unit.seconds = time.monotonic() - unit.started

    def _container_name(self, name: str) -> str:
        return f"kitaru-smoke-{self._run_id}-{name}"[:120]

    def stop(self, name: str) -> None:
        """Remove unit ``name``'s container if it still runs (its job was cancelled); its
        thread then records how it ended."""
        from kitaru_docker.engine import connect

        with contextlib.suppress(Exception):
            connect(self.docker_host, 30).containers.get(self._container_name(name)).remove(
                force=True
            )

    def problems(self) -> list[str]:
        """A line per unit that failed: the engine's error, or its exit code and the last
        line it printed."""
        lines = []
        with self._lock:
            units = list(self.units.values())
        for u in units:
            if u.error is not None:
                lines.append(f"{u.role} unit {u.name} did not run: {u.error}")
            elif u.ended and u.exit_code:
                last = [x for x in u.output.strip().splitlines() if x.strip()]
                tail = f": {last[-1].strip()}" if last else ""
                lines.append(f"{u.role} unit {u.name} exited {u.exit_code}{tail}")
        return lines

    def summary(self, kind: str) -> list[str]:
        with self._lock:
            units = list(self.units.values())
        return [f"{kind} {u.name} ({u.role}) ran in the engine: "
                + (f"exit {u.exit_code}, {u.seconds:.1f} s" if u.ended else "still running")
                for u in units]  # fmt: skip

    def busy(self) -> bool:
        """A unit started here has not ended yet."""
        with self._lock:
            return any(not u.ended for u in self.units.values())

    def output_of(self, name: str) -> str:
        with self._lock:
            unit = self.units.get(name)
        return unit.output if unit is not None else ""

    def close(self) -> None:
        """Remove what still runs (the smoke run is over)."""
        with contextlib.suppress(Exception):
            from kitaru_docker.engine import connect

            client = connect(self.docker_host, 30)
            for c in client.containers.list(filters={"label": f"kitaru.smoke={self._run_id}"}):
                c.remove(force=True)
        for thread in self._threads:
            thread.join(timeout=5)


@contextlib.contextmanager
def docker_registry(ctx: SmokeContext, components: list[ComponentUse]) -> Iterator[StoodIn]:
    """The ``docker`` builder pushes to the smoke run's registry (``--registry``) in place of
    the stack's; the ``docker`` orchestrator runs on the smoke run's engine as it is."""
    stood = StoodIn()
    for use in components:
        if use.type == "container_builder":
            if ctx.registry is None:
                raise ConfigError("the stack's docker builder needs a registry to push to",
                                  hint="kitaru smoke --registry HOST:PORT (see docs/ci.md)")  # fmt: skip
            original = str(use.config.get("registry") or "")
            path = original.split("/", 1)[1] if "/" in original else "kitaru"
            registry = f"{ctx.registry}/{path}"
            stood.config[use.type] = {"registry": registry, "base_url": ctx.docker_host}
            stood.notes[use.type] = f"pushes to {registry} (in place of {original})"
        elif use.type == "orchestrator":
            stood.config[use.type] = {"base_url": ctx.docker_host}
            stood.notes[use.type] = f"its containers run on the engine at {ctx.docker_host}"
    yield stood
