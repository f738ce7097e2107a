"""``/api/v1/schedules``: cron schedules of deployed flows (create, list, show, pause, resume,
delete). The server's own scheduler fires them (see :mod:`kitaru.schedules`)."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kitaru import schedules
from kitaru.store.schedules import Schedule


class NewSchedule(BaseModel):
    flow: str = Field(min_length=1, max_length=200)
    cron: str = Field(min_length=1, max_length=200)
    tz: str = Field(default="UTC", max_length=100)
    inputs: dict[str, Any] = Field(default_factory=dict)
    name: str | None = Field(default=None, max_length=200)
    tag: str = Field(default="default", max_length=100)
    catchup: Literal["skip", "once", "all"] = "skip"
    max_catchup: int = Field(default=10, ge=1, le=schedules.MAX_CATCHUP)
    paused: bool = False


def _out(s: Schedule) -> dict[str, Any]:
    return dataclasses.asdict(s)


def add(api: APIRouter, store: Any) -> None:
    r = APIRouter(prefix="/schedules", tags=["schedules"])

    @r.post("")
    def create(body: NewSchedule) -> dict[str, Any]:
        """Create (or replace, by name) a schedule of a deployed flow."""
        return _out(schedules.create(**body.model_dump(), store=store))

    @r.get("")
    def list_all() -> list[dict[str, Any]]:
        return [_out(s) for s in schedules.list_schedules(store=store)]

    @r.get("/{name}")
    def show(name: str) -> dict[str, Any]:
        found = _out(schedules.get(name, store=store))
        found["fires"] = [{"fire_time": t, "execution_id": e}
                          for t, e in store.schedule_fires(name, 20)]  # fmt: skip
        return found

    @r.post("/{name}/pause")
    def pause(name: str) -> dict[str, Any]:
        return _out(schedules.pause(name, store=store))

    @r.post("/{name}/resume")
    def resume(name: str) -> dict[str, Any]:
        return _out(schedules.resume(name, store=store))

    @r.delete("/{name}")
    def delete(name: str) -> dict[str, Any]:
        schedules.delete(name, store=store)
        return {"deleted": name}

    api.include_router(r)
