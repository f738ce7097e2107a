"""Cron schedules: a deployed flow started at every fire time of a cron expression in a zone.

A separate interface next to :class:`~kitaru.store.base.MetadataStore`, implemented by the SQL
stores and (through the server) the remote store. Exactly one execution per schedule and fire
time, however many schedulers run: :meth:`ScheduleStore.fire_schedule` moves the schedule's
``next_fire`` with a compare-and-set and, in the same transaction, records each fire time under
its unique key ``(schedule, fire_time)`` with the execution it started (whose id is derived from
that key, so even a repeated attempt could not make a second one).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

#: what happens to fire times missed while no scheduler ran
CATCHUP_POLICIES = ("skip", "once", "all")


@dataclass(frozen=True)
class Schedule:
    name: str
    #: the deployed flow it starts, at the version ``tag`` points to at each fire time
    flow: str
    tag: str
    cron: str
    tz: str
    #: the flow's keyword inputs (JSON), checked against the deployment when created
    inputs: dict[str, Any] = field(default_factory=dict)
    #: skip: only fire times not yet overdue; once: the latest missed one; all: each missed
    #: one, at most ``max_catchup`` (the latest)
    catchup: str = "skip"
    max_catchup: int = 10
    paused: bool = False
    #: epoch seconds of the next fire time (None while paused)
    next_fire: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


class ScheduleStore(ABC):
    @abstractmethod
    def put_schedule(self, schedule: Schedule) -> Schedule:
        """Create or replace it (keeps its creation time); returns it as stored."""

    @abstractmethod
    def get_schedule(self, name: str) -> Schedule | None: ...

    @abstractmethod
    def list_schedules(self) -> list[Schedule]:
        """By name."""

    @abstractmethod
    def delete_schedule(self, name: str) -> None:
        """NotFound if absent (its fire records stay: a name reused never refires a time)."""

    @abstractmethod
    def set_schedule_paused(self, name: str, paused: bool, next_fire: float | None) -> Schedule:
        """Pause it, or resume it from ``next_fire``; NotFound if absent."""

    @abstractmethod
    def due_schedules(self, now: float) -> list[Schedule]:
        """Unpaused schedules whose next fire time is at or before ``now``."""

    @abstractmethod
    def fire_schedule(
        self,
        name: str,
        *,
        expected_next: float,
        next_fire: float,
        fires: list[tuple[float, str]],
        execution: dict[str, Any],
    ) -> list[str] | None:
        """If the schedule's next fire time is still ``expected_next``: move it to
        ``next_fire`` and, in the same transaction, record each ``(fire_time, execution_id)``
        and create that pending execution (``execution``: the create_execution fields of the
        flow). Returns the ids created, or None when another scheduler fired it first."""

    @abstractmethod
    def schedule_fires(self, name: str, limit: int = 50) -> list[tuple[float, str]]:
        """The latest ``(fire_time, execution_id)`` of a schedule, newest first."""
