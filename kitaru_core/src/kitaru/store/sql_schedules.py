"""Cron schedules (:class:`~kitaru.store.schedules.ScheduleStore`) for both SQL stores."""

from __future__ import annotations

import json
import time
from typing import Any

from kitaru.errors import NotFound
from kitaru.store import rows
from kitaru.store.dialect import placeholders
from kitaru.store.schedules import Schedule, ScheduleStore
from kitaru.store.sql_session import SqlSession
from kitaru.validation import check_names

_S = ("name, flow, tag, cron, tz, inputs, catchup, max_catchup, paused, next_fire, created_at, "
      "updated_at")  # fmt: skip
_NEW_EXECUTION = (
    "INSERT INTO executions (id, flow, status, module, qualname, source_file, root, inputs, "
    f"created_at, options, metadata, epoch) VALUES ({placeholders(12)}) "
    "ON CONFLICT (id) DO NOTHING"
)


def _schedule(r: Any) -> Schedule:
    return Schedule(
        name=r["name"], flow=r["flow"], tag=r["tag"], cron=r["cron"], tz=r["tz"],
        inputs=json.loads(r["inputs"]), catchup=r["catchup"], max_catchup=int(r["max_catchup"]),
        paused=bool(r["paused"]), next_fire=r["next_fire"], created_at=r["created_at"],
        updated_at=r["updated_at"],
    )  # fmt: skip


def _missing(name: str) -> NotFound:
    return NotFound(f"no schedule named {name!r}", hint="see `kitaru schedule list`")


class SqlSchedules(SqlSession, ScheduleStore):
    def put_schedule(self, schedule: Schedule) -> Schedule:
        s = schedule
        check_names(schedule=s.name, flow=s.flow, tag=s.tag, cron=s.cron, tz=s.tz)
        now = time.time()
        self._run(
            f"INSERT INTO schedules ({_S}) VALUES ({placeholders(12)}) ON CONFLICT (name) DO "
            "UPDATE SET flow = excluded.flow, tag = excluded.tag, cron = excluded.cron, "
            "tz = excluded.tz, inputs = excluded.inputs, catchup = excluded.catchup, "
            "max_catchup = excluded.max_catchup, paused = excluded.paused, "
            "next_fire = excluded.next_fire, updated_at = excluded.updated_at",
            (s.name, s.flow, s.tag, s.cron, s.tz, json.dumps(s.inputs), s.catchup, s.max_catchup,
             s.paused, s.next_fire, now, now),
        )  # fmt: skip
        stored = self.get_schedule(s.name)
        assert stored is not None
        return stored

    def get_schedule(self, name: str) -> Schedule | None:
        check_names(schedule=name)
        row = self._one(f"SELECT {_S} FROM schedules WHERE name = ?", (name,))
        return None if row is None else _schedule(row)

    def list_schedules(self) -> list[Schedule]:
        return [_schedule(r) for r in self._all(f"SELECT {_S} FROM schedules ORDER BY name")]

    def delete_schedule(self, name: str) -> None:
        check_names(schedule=name)
        if not self._run("DELETE FROM schedules WHERE name = ?", (name,)):
            raise _missing(name)

    def set_schedule_paused(self, name: str, paused: bool, next_fire: float | None) -> Schedule:
        check_names(schedule=name)
        if not self._run("UPDATE schedules SET paused = ?, next_fire = ?, updated_at = ? "
                         "WHERE name = ?", (paused, next_fire, time.time(), name)):  # fmt: skip
            raise _missing(name)
        found = self.get_schedule(name)
        assert found is not None
        return found

    def due_schedules(self, now: float) -> list[Schedule]:
        found = self._all(f"SELECT {_S} FROM schedules WHERE next_fire <= ? AND NOT paused "
                          "ORDER BY next_fire", (now,))  # fmt: skip
        return [_schedule(r) for r in found]

    def fire_schedule(
        self,
        name: str,
        *,
        expected_next: float,
        next_fire: float,
        fires: list[tuple[float, str]],
        execution: dict[str, Any],
    ) -> list[str] | None:
        check_names(schedule=name)
        e = execution
        now = time.time()
        created: list[str] = []
        with self._session() as tx:
            # the compare-and-set: of several schedulers, the first moves next_fire; the others
            # (PostgreSQL: blocked on the row until it commits) then match nothing
            if not tx.run("UPDATE schedules SET next_fire = ? WHERE name = ? AND next_fire = ? "
                          "AND NOT paused", (next_fire, name, expected_next)):  # fmt: skip
                return None
            for fire_time, execution_id in fires:
                if not tx.run("INSERT INTO schedule_fires (schedule, fire_time, execution_id, "
                              "fired_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                              (name, fire_time, execution_id, now)):  # fmt: skip
                    continue  # this fire time started its execution already
                metadata = {"schedule": name, "fire_time": fire_time}
                if tx.run(_NEW_EXECUTION, (
                    execution_id, e["flow"], "pending", e["module"], e["qualname"],
                    e.get("source_file"), e.get("root"), json.dumps(e.get("inputs") or {}), now,
                    rows.dumps(e.get("options") or {}), rows.dumps(metadata), 0,
                )):  # fmt: skip
                    created.append(execution_id)
        return created

    def schedule_fires(self, name: str, limit: int = 50) -> list[tuple[float, str]]:
        check_names(schedule=name)
        found = self._all("SELECT fire_time, execution_id FROM schedule_fires WHERE schedule = ? "
                          "ORDER BY fire_time DESC LIMIT ?", (name, limit))  # fmt: skip
        return [(float(r["fire_time"]), r["execution_id"]) for r in found]
