"""Cron schedules: next fire times (DST-correct), catch-up policies, the CLI, and exactly one
execution per fire time with three schedulers firing at once, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kitaru.schedules import due_fire_times, next_fire_after
from kitaru.store.deployments import Deployment
from kitaru.store.schedules import Schedule
from tests.conftest import subprocess_env

BERLIN = ZoneInfo("Europe/Berlin")


def _at(*parts: int) -> float:
    return datetime(*parts, tzinfo=BERLIN).timestamp()  # type: ignore[misc]


def test_next_fire_follows_daylight_saving() -> None:
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST; a daily 02:30 fires at the first time after
    spring = next_fire_after("30 2 * * *", "Europe/Berlin", _at(2026, 3, 29, 0, 0))
    assert datetime.fromtimestamp(spring, BERLIN).strftime("%H:%M %Z") == "03:00 CEST"
    # hourly stays hourly in UTC across the change (no hour lost or doubled)
    t, hours = _at(2026, 3, 29, 0, 0), []
    for _ in range(4):
        t = next_fire_after("0 * * * *", "Europe/Berlin", t)
        hours.append(t)
    assert [b - a for a, b in itertools.pairwise(hours)] == [3600.0] * 3


def _schedule(catchup: str, next_fire: float, max_catchup: int = 3) -> Schedule:
    return Schedule(name="s", flow="f", tag="default", cron="*/10 * * * *", tz="UTC",
                    catchup=catchup, max_catchup=max_catchup, next_fire=next_fire)  # fmt: skip


def test_catch_up_policies() -> None:
    base = 1_800_000_000.0  # a multiple of 600: a fire time of */10
    now = base + 3600 + 5  # six fire times missed, the latest 5 s ago
    due, nxt = due_fire_times(_schedule("all", base), now)
    assert due == [base + 2400, base + 3000, base + 3600] and nxt == base + 4200  # bounded: 3
    assert due_fire_times(_schedule("once", base), now)[0] == [base + 3600]
    assert due_fire_times(_schedule("skip", base), now)[0] == [base + 3600]  # on time: fires
    late = base + 3600 + 300  # the latest was 5 minutes ago: skip fires nothing
    assert due_fire_times(_schedule("skip", base), late)[0] == []
    assert due_fire_times(_schedule("once", base), late)[0] == [base + 3600]


_FIRER = """
import sys, time
from kitaru.schedules import fire_due
from kitaru.store import open_store
store = open_store(sys.argv[1])
end = float(sys.argv[2])
while time.time() < end:
    fire_due(store)
    time.sleep(0.01)
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "sched.db")
    url: str = request.getfixturevalue("pg_url")
    return url


def test_three_schedulers_start_each_fire_time_once(db_url: str) -> None:
    from kitaru import schedules
    from kitaru.store import open_store

    store: Any = open_store(db_url)
    store.add_deployment(Deployment(flow="tick", version=0, module="m", qualname="tick",
                                    source_file=None, root=None, stack="local", image=None,
                                    parameters={"type": "object", "properties": {}},
                                    options={}, code_hash="x", created_at=time.time()),
                         tag="default")  # fmt: skip
    # every second; "all" so that a fire time a busy scheduler noticed late still fires
    schedules.create("tick", cron="* * * * * *", catchup="all", max_catchup=50, store=store)
    end = time.time() + 5
    procs = [subprocess.Popen([sys.executable, "-c", _FIRER, db_url, str(end)],
                              env=subprocess_env()) for _ in range(3)]  # fmt: skip
    for p in procs:
        assert p.wait(timeout=120) == 0
    fires = store.schedule_fires("tick", 1000)
    executions = [e for e in store.list_executions(flow="tick", limit=1000)]
    assert len(fires) >= 3, "the schedulers fired (about 5 fire times in 5 s)"
    per_time = Counter(e.metadata["fire_time"] for e in executions)
    assert all(n == 1 for n in per_time.values()), per_time  # exactly one each
    assert sorted(per_time) == sorted(t for t, _ in fires)
    assert {e.id for e in executions} == {i for _, i in fires}
    times = sorted(per_time)
    assert [b - a for a, b in itertools.pairwise(times)] == [1.0] * (len(times) - 1)
    assert all(e.status == "pending" for e in executions)
    store.close()


FLOW = """
from kitaru import flow

@flow
def nightly(n: int = 1) -> int:
    return n
"""


def kitaru(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kitaru.cli", *args], cwd=cwd,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)  # fmt: skip


def test_cli_create_list_pause_resume_delete(tmp_path: Path) -> None:
    (tmp_path / "jobs.py").write_text(FLOW)
    made = kitaru("schedule", "create", "jobs.py:nightly", "--cron", "0 3 * * *",
                  "--tz", "Europe/Berlin", "--input", '{"n": 4}', cwd=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "schedule nightly: nightly@default at '0 3 * * *' (Europe/Berlin)" in made.stdout
    listed = kitaru("schedule", "list", "-o", "json", cwd=tmp_path)
    item = json.loads(listed.stdout)["items"][0]
    assert (item["name"], item["inputs"], item["paused"]) == ("nightly", {"n": 4}, False)
    next_fire = datetime.fromisoformat(item["next_fire"].replace("Z", "+00:00"))  # ISO-8601 UTC
    assert "03:00" in next_fire.astimezone(BERLIN).isoformat()
    assert "paused" in kitaru("schedule", "pause", "nightly", cwd=tmp_path).stdout
    assert "next" in kitaru("schedule", "resume", "nightly", cwd=tmp_path).stdout
    bad = kitaru("schedule", "create", "nightly", "--cron", "not cron", cwd=tmp_path)
    assert bad.returncode != 0 and "invalid cron expression" in bad.stderr
    wrong = kitaru("schedule", "create", "nightly", "--cron", "* * * * *", "--input",
                   '{"n": "x"}', cwd=tmp_path)  # fmt: skip
    assert wrong.returncode != 0 and "inputs do not match" in wrong.stderr
    assert kitaru("schedule", "delete", "nightly", "--yes", cwd=tmp_path).returncode == 0
    gone = kitaru("schedule", "show", "nightly", cwd=tmp_path)
    assert gone.returncode != 0 and "no schedule named 'nightly'" in gone.stderr
