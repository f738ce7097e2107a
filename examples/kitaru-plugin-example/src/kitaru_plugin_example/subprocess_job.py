"""The ``subprocess-job`` orchestrator: each unit of work is a detached process on this machine.

Built on :class:`~kitaru.components.job_orchestrator.JobOrchestrator`, like the cloud flavors:
the base decides what a unit runs and records it, maps unit states to the execution's status and
waits for checkpoint units; this module starts, inspects, stops and reads processes.

A process has no image: ``image`` names the Python that runs the units (default: this one), an
environment with kitaru and the flow's code. Each unit has a folder ``<folder>/<name>/``:
``group`` (its process group), ``lock`` (locked while one of its processes runs), ``log``,
``exit`` (its exit code) and ``stopped``. ``UnitSpec.time_limit`` is not enforced here.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from kitaru.components.base import OptionalStr
from kitaru.components.job_orchestrator import (
    JobOrchestrator,
    JobOrchestratorConfig,
    UnitSpec,
    UnitState,
)
from kitaru.components.orchestrator import Capabilities
from kitaru.errors import ConfigError

if TYPE_CHECKING:
    from kitaru.store.records import Execution

#: ``sh -c WRAPPER EXIT_FILE COMMAND...``: the command and then writing its exit code to
#: EXIT_FILE, in the background: the shell returns at once and the unit is nobody's child
WRAPPER = '("$@"; echo $? > "$0.tmp"; mv "$0.tmp" "$0") &'


class SubprocessJobOrchestratorConfig(JobOrchestratorConfig):
    """``environment`` is inherited; ``server_url`` is not used (see ``environment()``)."""

    #: the Python that runs the units (it needs kitaru and the flow's code)
    image: OptionalStr = Field(default_factory=lambda: sys.executable)
    #: where the units' folders go (default: ``$KITARU_HOME/units``)
    folder: OptionalStr = None
    #: seconds a unit gets to end after SIGTERM, before SIGKILL
    stop_timeout: float = Field(default=10.0, ge=0)


class SubprocessJobOrchestrator(JobOrchestrator):
    config: SubprocessJobOrchestratorConfig
    # no container image: `kitaru build` and `kitaru deploy` build none for this stack
    capabilities = Capabilities(needs_image=False, isolated_checkpoints=True)
    poll_longest = 0.5  # asking a process costs nothing

    # -- what a unit gets -----------------------------------------------------------------------
    # The base requires a server: a remote unit reaches the control plane through one only. A
    # process of this machine inherits this one's environment and where its state lives
    # (KITARU_HOME, KITARU_DB_URL; KITARU_SERVER_URL and KITARU_API_KEY or the saved login).
    units_on_this_machine = True

    def server_url(self) -> str:
        from kitaru.connection import configured

        here = configured()
        return here[0] if here else ""  # no server needed: the embedded store will do

    def check_server_access(self) -> None:
        """Units inherit this process's access, whatever it is."""

    def environment(self, execution: Execution) -> dict[str, str]:
        from kitaru.config import settings

        env = settings().child_env()
        env.update({k: v for k, v in self.config.environment.items() if v != ""})
        # the image's secret environment (and api_key if set), as references the unit resolves
        env.update(self.secret_environment(execution))
        return {**env, "PYTHONUNBUFFERED": "1"}

    def folder(self, name: str) -> Path:
        from kitaru.config import settings

        return Path(self.config.folder or settings().home / "units") / name

    # -- units ----------------------------------------------------------------------------------
    def submit_unit(self, spec: UnitSpec) -> dict[str, Any]:
        unit = self.folder(spec.name)
        unit.mkdir(parents=True)
        command = [spec.image, "-m", "kitaru.entrypoint", *spec.arguments]
        with open(unit / "lock", "wb") as lock, open(unit / "log", "wb") as log:
            fcntl.flock(lock, fcntl.LOCK_EX)  # its processes inherit the lock: held while one runs
            shell = subprocess.Popen(
                ["/bin/sh", "-c", WRAPPER, str(unit / "exit"), *command], env=spec.environment,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                pass_fds=(lock.fileno(),), start_new_session=True,  # a group to signal as one
            )  # fmt: skip
        shell.wait()  # the shell only starts the unit in the background
        (unit / "group").write_text(str(shell.pid))  # the group's id: the shell's pid
        return {"process_group": shell.pid, "log": str(unit / "log")}

    def unit_state(self, name: str) -> UnitState:
        unit = self.folder(name)
        if not (unit / "group").exists():
            return UnitState("gone", f"no unit folder {unit}")
        alive = self._alive(unit)  # before reading `exit`: it is written before the end
        if (unit / "exit").exists():
            code = int((unit / "exit").read_text())
            if code == 0:
                return UnitState("succeeded")
            last = [r["line"].strip() for r in self.unit_logs(name) if r["line"].strip()][-1:]
            return UnitState("failed", ": ".join([f"exit code {code}", *last]))
        if alive:
            return UnitState("running")
        if (unit / "stopped").exists():
            return UnitState("stopped", "stopped by the orchestrator")
        return UnitState("failed", "ended without an exit code (killed)")

    def stop_unit(self, name: str) -> None:
        unit = self.folder(name)
        (unit / "stopped").touch()
        group = int((unit / "group").read_text())
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not self._alive(unit):  # ended (and its group id may be another's by now)
                return
            with suppress(ProcessLookupError):
                os.killpg(group, sig)
            deadline = time.monotonic() + self.config.stop_timeout
            while self._alive(unit) and time.monotonic() < deadline:
                time.sleep(0.05)

    def unit_logs(self, name: str) -> list[dict[str, Any]]:
        log = self.folder(name) / "log"
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        return [{"stream": "unit", "line": line} for line in lines]

    @staticmethod
    def _alive(unit: Path) -> bool:
        # a process of the unit holds the lock; an ended one (even unreaped) and a pid's next
        # owner hold nothing
        with open(unit / "lock", "rb") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
        return False

    def verify(self) -> None:
        """The units' Python exists."""
        image = self.config.image or ""
        if not (os.access(image, os.X_OK) or shutil.which(image)):
            raise ConfigError(f"orchestrator {self.name!r}: no Python at {image!r}",
                              hint="set `image` to a Python that has kitaru installed")  # fmt: skip
