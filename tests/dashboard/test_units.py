"""The pure parts of the dashboard: forms from JSON schemas, timeline lanes, listing (on
SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from kitaru.models import CallInfo, ExecutionInfo
from kitaru.server.dashboard import schema_form
from kitaru.server.dashboard.timeline import lanes, svg
from kitaru.store.listing import ExecutionFilter, SqlListing, count_by_status, page_executions
from tests.store.conftest import pg_database, pg_url  # noqa: F401 - the "postgres" store


def test_a_boolean_wait_is_two_radios_and_reads_back() -> None:
    f = schema_form.build({"type": "boolean"})
    assert (f.kind, f.required, f.name) == ("boolean", True, "value")
    assert schema_form.read(f, {"value": "true"}) is True
    with pytest.raises(schema_form.FormError, match="required"):
        schema_form.read(f, {})


def test_objects_enums_numbers_optionals_and_refs() -> None:
    schema = {
        "$defs": {"Mode": {"enum": ["fast", "careful"], "type": "string"}},
        "type": "object", "required": ["mode", "n"],
        "properties": {"mode": {"$ref": "#/$defs/Mode"},
                       "n": {"type": "integer", "minimum": 1, "maximum": 9},
                       "ratio": {"anyOf": [{"type": "number"}, {"type": "null"}]},
                       "tags": {"type": "array", "items": {"type": "string"}}},
    }  # fmt: skip
    f = schema_form.build(schema)
    kinds = {c.name: (c.kind, c.required) for c in f.children}
    assert kinds == {"value.mode": ("enum", True), "value.n": ("integer", True),
                     "value.ratio": ("number", False), "value.tags": ("json", False)}  # fmt: skip
    n = f.children[1]
    assert n.attrs == {"min": 1, "max": 9, "step": "1"}
    got = schema_form.read(f, {"value.mode": '"careful"', "value.n": "3", "value.tags": '["a"]'})
    assert got == {"mode": "careful", "n": 3, "tags": ["a"]}
    with pytest.raises(schema_form.FormError, match=r"value\.n"):
        schema_form.read(f, {"value.mode": '"fast"', "value.n": "three"})


def _call(call_id: str, start: float, end: float, kind: str = "checkpoint") -> CallInfo:
    return CallInfo(call_id, call_id.partition("#")[0], kind, "completed", 0, start, end,
                    end - start, 1, "json", "int", 1, "1")  # fmt: skip


def test_overlapping_calls_get_lanes_and_sequential_ones_share_one() -> None:
    info = ExecutionInfo("e" * 12, "f", "completed", 0, 0, 3, 3, None, None, None, None, {}, None)
    info.calls = [_call("a", 0, 1), _call("sq", 1, 2), _call("sq#2", 1, 2), _call("sq#3", 1.1, 2),
                  _call("b", 2, 3)]  # fmt: skip
    assert [b.lane for b in lanes(info, now=3)] == [0, 0, 1, 2, 0]
    drawn = svg(info, now=3)
    assert 'data-lanes="3"' in drawn
    # the axis's end labels are anchored inwards, so the last one is not cut at the edge
    ticks = re.findall(r'class="tick" text-anchor="(\w+)">([^<]+)<', drawn)
    assert ticks[0] == ("start", "0.00s") and ticks[-1] == ("end", "3.00s"), ticks
    # a run shorter than a second is labelled in milliseconds, not six times 0.00s
    info.calls = [_call("a", 0, 0.02), _call("b", 0.02, 0.05)]
    ticks = re.findall(r'class="tick" text-anchor="(\w+)">([^<]+)<', svg(info, now=1))
    assert [t for _, t in ticks] == ["0.0 ms", "10.0 ms", "20.0 ms", "30.0 ms", "40.0 ms",
                                     "50.0 ms"], ticks  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, kitaru_home: object) -> Iterator[Any]:
    """An empty store of each kind the dashboard lists from (both answer in SQL)."""
    if request.param == "sqlite":
        from kitaru.store import default_store

        yield default_store()
        return
    from kitaru.store.postgres import PostgresStore

    pg = PostgresStore(request.getfixturevalue("pg_url"))
    yield pg
    pg.close()


def test_listing_filters_pages_and_counts(store: Any) -> None:
    assert isinstance(store, SqlListing)  # the store's own queries, not the Python fallback
    made = [store.create_execution(flow=f"flow{i % 2}", module="m", qualname="q",
                                   source_file=None, root=None, inputs={}, status="completed",
                                   options={"stack": "local" if i < 4 else "other"})
            for i in range(7)]  # fmt: skip
    first = page_executions(store, ExecutionFilter(), limit=3)
    assert [e.pk for e in first] == [made[6].pk, made[5].pk, made[4].pk]
    rest = page_executions(store, ExecutionFilter(), before_pk=first[-1].pk, limit=10)
    assert [e.pk for e in rest] == [m.pk for m in reversed(made[:4])]
    assert len(page_executions(store, ExecutionFilter(flow="flow1"))) == 3
    assert len(page_executions(store, ExecutionFilter(stack="other"))) == 3
    assert len(page_executions(store, ExecutionFilter(text="FLOW0"))) == 4
    assert page_executions(store, ExecutionFilter(text=made[2].id[:6]))[0].id == made[2].id
    assert page_executions(store, ExecutionFilter(until=made[0].created_at)) == []
    assert count_by_status(store, ExecutionFilter(flow="flow0")) == {"completed": 4}
    running = store.create_execution(flow="flow0", module="m", qualname="q", source_file=None,
                                     root=None, inputs={}, status="running")  # fmt: skip
    assert count_by_status(store, ExecutionFilter())["crashed"] == 1  # no lease: crashed
    assert [e.id for e in page_executions(store, ExecutionFilter(status="crashed"))] == [running.id]
