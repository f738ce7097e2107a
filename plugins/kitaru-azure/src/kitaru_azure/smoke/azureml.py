"""What runs the command jobs the AzureML fake records, in a smoke run: the part of AzureML's
scheduler the fake does not have (it records a job as ``NotStarted`` and runs nothing).

:class:`AzureMLJobs` is the smoke run's :class:`~kitaru.components.standins.UnitRunner`: each
:meth:`~AzureMLJobs.poll` reads the fake's jobs and starts every new one once, as AzureML runs a
command job — its ``command`` through ``sh -c`` in the image of its environment, with its
``environmentVariables`` and what the compute gives every job (its managed identity,
``MSI_ENDPOINT``/``MSI_SECRET``: here the fake's, and the fake's CA) — as a container of the
engine (:class:`kitaru_docker.smoke.ContainerUnits`). It moves the job through AzureML's
statuses: ``Running`` when it starts it, ``Completed`` on exit 0, ``Failed`` otherwise (its
output then the job's ``user_logs``, :meth:`FakeAzure.set_logs`); a job cancelled through the
API (``CancelRequested``) has its container removed and becomes ``Canceled``. No queueing,
provisioning or preemption: that state machine is hand-written.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kitaru_docker.smoke import ContainerUnits

    from kitaru_azure.smoke.fake import FakeAzure


class AzureMLJobs:
    """Runs every command job of ``fake`` exactly once in ``units`` (see the module doc).
    ``environment`` is what the compute gives each job; ``volumes`` what it mounts (the CA)."""

    def __init__(
        self, fake: FakeAzure, units: ContainerUnits, *, environment: dict[str, str],
        volumes: dict[str, dict[str, str]] | None = None,
    ) -> None:  # fmt: skip
        self.fake = fake
        self.units = units
        self.environment = dict(environment)
        self.volumes = dict(volumes or {})

    def _jobs(self) -> dict[str, dict[str, Any]]:
        with self.fake.lock:
            return copy.deepcopy(self.fake.jobs)

    def poll(self) -> None:
        """Start the jobs recorded since the last call; record the ended ones' statuses."""
        for name, job in self._jobs().items():
            props = job["properties"]
            status = props.get("status")
            if status == "NotStarted" and not self.units.seen(name):
                self.fake.set_status(name, "Running")  # before it starts: AzureML's order
                self.units.start(
                    name, role=(props.get("tags") or {}).get("kitaru-role", "job"),
                    image=self.fake.job_image(job), entrypoint=["sh", "-c"],
                    command=[props["command"]], volumes=self.volumes,
                    environment={**self.environment, **(props.get("environmentVariables") or {})},
                )  # fmt: skip
            elif status == "CancelRequested":
                self.units.stop(name)  # AzureML stops a cancelled job
                self.fake.set_status(name, "Canceled")
        jobs = self._jobs()
        for unit in list(self.units.units.values()):
            ended = jobs.get(unit.name)
            if unit.ended and ended is not None and ended["properties"].get("status") == "Running":
                self.fake.set_logs(unit.name, unit.output)  # AzureML uploads its user_logs
                self.fake.set_status(unit.name, "Completed" if unit.exit_code == 0 else "Failed")

    def problems(self) -> list[str]:
        return self.units.problems()

    def summary(self) -> list[str]:
        return self.units.summary("AzureML job")

    def busy(self) -> bool:
        return self.units.busy()

    def close(self) -> None:
        self.units.close()
