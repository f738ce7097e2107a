"""``/api/v1/schedules`` on a real server: create (of a deployed flow), list, show with its
fires, pause, resume, delete; bad cron, time zone and unknown flows are one-line 400/404s;
member keys act on them, requests without a key get nothing."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import Server
from tests.server.test_server_auth import http, new_key


def test_schedules_over_rest(connected: Server) -> None:
    from kitaru.deployments import deploy
    from kitaru.testing.flows import tiny

    deploy(tiny)
    key = connected.admin_key
    body: dict[str, Any] = {"flow": tiny.name, "cron": "*/5 * * * *", "tz": "Europe/Paris",
                            "inputs": {"x": 2}, "name": "every-five", "catchup": "once"}  # fmt: skip
    status, created = http(connected, "POST", "/api/v1/schedules", key, body)
    assert status == 200, created
    assert created["name"] == "every-five" and created["cron"] == "*/5 * * * *"
    assert created["next_fire"] > 0 and not created["paused"]
    status, listed = http(connected, "GET", "/api/v1/schedules", key)
    assert status == 200 and [s["name"] for s in listed] == ["every-five"]
    status, shown = http(connected, "GET", "/api/v1/schedules/every-five", key)
    assert status == 200 and shown["fires"] == [] and shown["inputs"] == {"x": 2}

    status, paused = http(connected, "POST", "/api/v1/schedules/every-five/pause", key)
    assert status == 200 and paused["paused"]
    status, resumed = http(connected, "POST", "/api/v1/schedules/every-five/resume", key)
    assert status == 200 and not resumed["paused"]

    member = new_key(connected, "schedule-bot")["key"]  # members act, as on executions
    assert http(connected, "POST", "/api/v1/schedules/every-five/pause", member)[0] == 200
    assert http(connected, "POST", "/api/v1/schedules/every-five/resume", member)[0] == 200
    assert http(connected, "GET", "/api/v1/schedules")[0] == 401  # no key: nothing

    for bad, where in (({"cron": "every minute"}, "cron"), ({"tz": "Mars/Olympus"}, "Mars"),
                       ({"flow": "nope"}, "nope")):  # fmt: skip
        status, error = http(connected, "POST", "/api/v1/schedules", key,
                             {**body, "name": "bad", **bad})  # fmt: skip
        assert status in (400, 404) and where in error["error"]["message"], (bad, error)
        assert "\n" not in error["error"]["message"] and error["error"]["hint"]

    status, deleted = http(connected, "DELETE", "/api/v1/schedules/every-five", key)
    assert status == 200 and deleted == {"deleted": "every-five"}
    assert http(connected, "GET", "/api/v1/schedules/every-five", key)[0] == 404
