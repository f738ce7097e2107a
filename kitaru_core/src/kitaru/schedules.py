"""Cron schedules: start a deployed flow at every fire time of a cron expression.

``kitaru.schedules.create("report", cron="*/5 * * * *", tz="Europe/Berlin")`` (or
``@flow(schedule="*/5 * * * *")`` on a flow that ``kitaru serve`` serves, or
``kitaru schedule create FILE.py:FLOW --cron ...``) stores a schedule; every ``kitaru serve`` and
``kitaru server start`` runs a :class:`Scheduler` that fires what is due. With several of them
running, each fire time still starts exactly one execution (see
:mod:`kitaru.store.schedules`). Next fire times come from croniter (the ``schedules`` extra),
computed in the schedule's zone, so they follow daylight-saving changes (a local time that does
not exist fires at the first one after it; one that exists twice fires twice).
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import datetime
from typing import Any

from kitaru.errors import NotFound, UsageError
from kitaru.store.deployments import DEFAULT_TAG
from kitaru.store.schedules import CATCHUP_POLICIES, Schedule, ScheduleStore

__all__ = ["Schedule", "Scheduler", "create", "delete", "get", "list_schedules", "next_fire_after",
           "pause", "resume"]  # fmt: skip

#: seconds a fire time may be late and still count as on time (policy ``skip``)
ON_TIME = 60.0
#: the most fire times ``catchup="all"`` may start at once
MAX_CATCHUP = 1000


def _cron(expr: str, tz: str, at: float) -> Any:
    """A croniter positioned at ``at`` in zone ``tz`` (checked: UsageError when invalid)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter  # the `schedules` extra (the CLI names it when missing)

    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {tz!r}", hint="an IANA name: UTC, Europe/Berlin, "
                         "America/New_York") from None  # fmt: skip
    if not croniter.is_valid(expr):
        raise UsageError(f"invalid cron expression {expr!r}",
                         hint="five fields: minute hour day month weekday, e.g. '*/5 * * * *' "
                         "(a sixth field is seconds)")  # fmt: skip
    return croniter(expr, datetime.fromtimestamp(at, zone))


def next_fire_after(cron: str, tz: str, after: float) -> float:
    """The first fire time strictly after ``after`` (epoch seconds)."""
    return float(_cron(cron, tz, after).get_next(float))


def due_fire_times(s: Schedule, now: float) -> tuple[list[float], float]:
    """The fire times to start now under the schedule's catch-up policy, oldest first, and the
    next fire time after ``now``. Walks back from ``now``, so a long outage costs at most
    ``max_catchup`` steps."""
    assert s.next_fire is not None
    back = _cron(s.cron, s.tz, now + 0.001)  # fire times at or before now
    want = 1 if s.catchup != "all" else max(1, min(s.max_catchup, MAX_CATCHUP))
    due: list[float] = []
    while len(due) < want:
        t = float(back.get_prev(float))
        if t < s.next_fire - 0.0005:
            break
        due.append(t)
    due.reverse()
    if s.catchup == "skip":
        due = [t for t in due if now - t <= ON_TIME]
    return due, next_fire_after(s.cron, s.tz, now)


def execution_id_for(schedule: str, fire_time: float) -> str:
    """The execution id of a fire time: derived from the unique key (schedule, fire time)."""
    return hashlib.sha256(f"{schedule}\0{fire_time:.3f}".encode()).hexdigest()[:12]


def _store(store: Any = None) -> Any:
    from kitaru.store import default_store

    s = store if store is not None else default_store()
    if not isinstance(s, ScheduleStore):
        raise UsageError(f"this store ({type(s).__name__}) keeps no schedules")
    return s


def create(
    flow: str, *, cron: str, tz: str = "UTC", inputs: dict[str, Any] | None = None,
    name: str | None = None, tag: str = DEFAULT_TAG, catchup: str = "skip",
    max_catchup: int = 10, paused: bool = False, store: Any = None,
) -> Schedule:  # fmt: skip
    """Schedule the deployed flow ``flow`` (the version ``tag`` points to at each fire time).
    Replaces a schedule of the same ``name`` (default: the flow's name)."""
    from kitaru.deployments import check_inputs, resolve

    s = _store(store)
    if catchup not in CATCHUP_POLICIES:
        raise UsageError(f"unknown catch-up policy {catchup!r}",
                         hint="one of: " + ", ".join(CATCHUP_POLICIES))  # fmt: skip
    if max_catchup < 1:
        raise UsageError("max_catchup must be at least 1")
    values = check_inputs(resolve(flow, tag=tag, store=s), {} if inputs is None else inputs)
    next_fire = None if paused else next_fire_after(cron, tz, time.time())
    if paused:
        _cron(cron, tz, time.time())  # still checked
    stored: Schedule = s.put_schedule(Schedule(
        name=name or flow, flow=flow, tag=tag, cron=cron, tz=tz, inputs=values, catchup=catchup,
        max_catchup=max_catchup, paused=paused, next_fire=next_fire,
    ))  # fmt: skip
    return stored


def get(name: str, *, store: Any = None) -> Schedule:
    found: Schedule | None = _store(store).get_schedule(name)
    if found is None:
        raise NotFound(f"no schedule named {name!r}", hint="see `kitaru schedule list`")
    return found


def list_schedules(*, store: Any = None) -> list[Schedule]:
    found: list[Schedule] = _store(store).list_schedules()
    return found


def pause(name: str, *, store: Any = None) -> Schedule:
    """Stop firing (a paused schedule keeps no next fire time)."""
    paused: Schedule = _store(store).set_schedule_paused(name, True, None)
    return paused


def resume(name: str, *, store: Any = None) -> Schedule:
    """Fire again from the next fire time after now (times passed while paused are skipped)."""
    s = get(name, store=store)
    resumed: Schedule = _store(store).set_schedule_paused(
        name, False, next_fire_after(s.cron, s.tz, time.time())
    )
    return resumed


def delete(name: str, *, store: Any = None) -> None:
    _store(store).delete_schedule(name)


def fire_due(store: Any = None, *, now: float | None = None) -> list[str]:
    """Start every due fire time of every due schedule; returns the ids of the executions this
    call created (pending: ``kitaru serve`` runs them, or :class:`Scheduler` launches them)."""
    from kitaru.deployments import resolve

    s = _store(store)
    now = time.time() if now is None else now
    created: list[str] = []
    for schedule in s.due_schedules(now):
        due, next_fire = due_fire_times(schedule, now)
        fires = [(t, execution_id_for(schedule.name, t)) for t in due]
        execution: dict[str, Any] = {}
        if fires:
            try:
                d = resolve(schedule.flow, tag=schedule.tag, store=s)
            except NotFound as exc:  # the deployment is gone: nothing to start, keep time
                print(f"kitaru: schedule {schedule.name!r}: {exc}", flush=True)
                fires = []
            else:
                from kitaru.runtime.serialization import encode_input

                execution = {"flow": d.flow, "module": d.module, "qualname": d.qualname,
                             "source_file": d.source_file, "root": d.root,
                             "inputs": {k: encode_input(v) for k, v in schedule.inputs.items()},
                             "options": {**d.options, "stack": d.stack, "deployment": {
                                 "version": d.version, "image": d.image}}}  # fmt: skip
        assert schedule.next_fire is not None
        ids = s.fire_schedule(schedule.name, expected_next=schedule.next_fire,
                              next_fire=next_fire, fires=fires, execution=execution)  # fmt: skip
        created += ids or []
    return created


class Scheduler:
    """Fires due schedules every ``interval`` seconds, in a thread of ``kitaru serve`` or the
    server. ``start`` (default: launch on the execution's orchestrator) starts what it created."""

    def __init__(self, store: Any, start: Any = None, interval: float = 1.0) -> None:
        self.store = store
        self.start = start
        self.interval = interval
        self.fired: list[str] = []

    def tick(self) -> list[str]:
        ids = fire_due(self.store)
        for execution_id in ids:
            if self.start is not None:
                self.start(execution_id)
            else:
                from kitaru.runtime.launch import launch

                launch(self.store, self.store.get_execution(execution_id), "invoke", detach=True)
        self.fired += ids
        return ids

    def loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # a bad schedule or a store outage: keep scheduling
                print(f"kitaru: scheduler: {type(exc).__name__}: {exc}", flush=True)
            stop.wait(self.interval)
