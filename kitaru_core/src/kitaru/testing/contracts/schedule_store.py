"""Metadata store contract, the schedules part (:class:`~kitaru.store.schedules.ScheduleStore`):
definitions, pausing, what is due, and the compare-and-set fire that starts each fire time's
execution exactly once however many schedulers race for it.

Use :class:`kitaru.testing.MetadataStoreContract`, which includes these tests; a store that
keeps no schedules skips them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from kitaru.errors import NotFound
from kitaru.store.base import MetadataStore
from kitaru.store.schedules import Schedule, ScheduleStore


def _schedules(store: MetadataStore) -> Any:
    if not isinstance(store, ScheduleStore):
        pytest.skip(f"{type(store).__name__} keeps no schedules")
    return store


def _execution() -> dict[str, Any]:
    return {"flow": "tiny", "module": "m", "qualname": "tiny", "source_file": None,
            "root": None, "inputs": {"x": 1}, "options": {"stack": "local"}}  # fmt: skip


def _fires(found: list[Any]) -> list[tuple[float, str]]:
    return [(float(t), str(e)) for t, e in found]  # pairs, whatever carried them


class ScheduleStoreContract:
    """Mixed into :class:`~kitaru.testing.contracts.metadata_store.MetadataStoreContract`."""

    def test_schedules_are_put_read_listed_replaced_and_deleted(self, store: MetadataStore) -> None:
        s = _schedules(store)
        first = s.put_schedule(Schedule(name="nightly", flow="tiny", tag="default",
                                        cron="0 3 * * *", tz="Europe/Paris", inputs={"x": 1},
                                        catchup="once", next_fire=1000.0))  # fmt: skip
        assert (first.cron, first.tz, first.inputs, first.catchup) == (
            "0 3 * * *",
            "Europe/Paris",
            {"x": 1},
            "once",
        )
        assert first.created_at > 0 and first.next_fire == 1000.0 and not first.paused
        s.put_schedule(Schedule(name="hourly", flow="tiny", tag="v2", cron="0 * * * *",
                                tz="UTC", next_fire=2000.0))  # fmt: skip
        replaced = s.put_schedule(Schedule(name="nightly", flow="tiny", tag="default",
                                           cron="0 4 * * *", tz="UTC", next_fire=1500.0))  # fmt: skip
        assert replaced.cron == "0 4 * * *" and replaced.next_fire == 1500.0
        assert [x.name for x in s.list_schedules()] == ["hourly", "nightly"]
        assert s.get_schedule("absent") is None
        s.delete_schedule("hourly")
        assert [x.name for x in s.list_schedules()] == ["nightly"]
        with pytest.raises(NotFound):
            s.delete_schedule("hourly")

    def test_paused_and_future_schedules_are_not_due(self, store: MetadataStore) -> None:
        s = _schedules(store)
        now = time.time()
        for name, next_fire in (("past", now - 60), ("future", now + 3600), ("held", now - 30)):
            s.put_schedule(Schedule(name=name, flow="tiny", tag="default", cron="* * * * *",
                                    tz="UTC", next_fire=next_fire))  # fmt: skip
        held = s.set_schedule_paused("held", True, None)
        assert held.paused and held.next_fire is None
        assert [x.name for x in s.due_schedules(now)] == ["past"]
        resumed = s.set_schedule_paused("held", False, now - 1)
        assert not resumed.paused
        assert [x.name for x in s.due_schedules(now)] == ["past", "held"]  # oldest fire first
        with pytest.raises(NotFound):
            s.set_schedule_paused("absent", True, None)

    def test_a_fire_time_starts_its_execution_once(self, store: MetadataStore) -> None:
        s = _schedules(store)
        s.put_schedule(Schedule(name="tick", flow="tiny", tag="default", cron="* * * * *",
                                tz="UTC", next_fire=60.0))  # fmt: skip
        ids = [uuid.uuid4().hex[:12] for _ in range(3)]
        created = s.fire_schedule("tick", expected_next=60.0, next_fire=180.0,
                                  fires=[(60.0, ids[0]), (120.0, ids[1])],
                                  execution=_execution())  # fmt: skip
        assert created == ids[:2]
        for execution_id, fire_time in zip(ids[:2], (60.0, 120.0), strict=True):
            ex = store.get_execution(execution_id)
            assert ex.status == "pending" and ex.flow == "tiny"
            assert ex.metadata["schedule"] == "tick" and ex.metadata["fire_time"] == fire_time
        # a scheduler that read the old next fire time loses the compare-and-set
        assert s.fire_schedule("tick", expected_next=60.0, next_fire=180.0,
                               fires=[(60.0, ids[2])], execution=_execution()) is None  # fmt: skip
        # a fire time already recorded starts nothing again, even with a new id
        assert s.fire_schedule("tick", expected_next=180.0, next_fire=240.0,
                               fires=[(120.0, ids[2])], execution=_execution()) == []  # fmt: skip
        assert _fires(s.schedule_fires("tick")) == [(120.0, ids[1]), (60.0, ids[0])]
        assert _fires(s.schedule_fires("tick", 1)) == [(120.0, ids[1])]
        assert s.get_schedule("tick").next_fire == 240.0

    def test_racing_schedulers_fire_each_time_once(self, store: MetadataStore) -> None:
        from kitaru.testing.contracts.metadata_store_more import run_together

        s = _schedules(store)
        s.put_schedule(Schedule(name="race", flow="tiny", tag="default", cron="* * * * *",
                                tz="UTC", next_fire=600.0))  # fmt: skip
        results = run_together(4, lambda i: s.fire_schedule(
            "race", expected_next=600.0, next_fire=660.0,
            fires=[(600.0, f"race{i}{uuid.uuid4().hex[:6]}")], execution=_execution()))  # fmt: skip
        assert not [r for r in results if isinstance(r, BaseException)], results
        winners = [r for r in results if r]
        assert len(winners) == 1 and results.count(None) == 3, results
        assert [e for _, e in _fires(s.schedule_fires("race"))] == winners[0]
        assert s.get_schedule("race").next_fire == 660.0

    def test_paused_schedules_do_not_fire(self, store: MetadataStore) -> None:
        s = _schedules(store)
        s.put_schedule(Schedule(name="quiet", flow="tiny", tag="default", cron="* * * * *",
                                tz="UTC", next_fire=60.0, paused=True))  # fmt: skip
        assert s.fire_schedule("quiet", expected_next=60.0, next_fire=120.0,
                               fires=[(60.0, uuid.uuid4().hex[:12])],
                               execution=_execution()) is None  # fmt: skip
        assert s.schedule_fires("quiet") == []
