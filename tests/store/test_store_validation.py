"""Both stores refuse the same names: a NUL (PostgreSQL text cannot hold one; SQLite could)
is one UsageError from every store method that takes a name, id or key, on SQLite and on
PostgreSQL alike, instead of a stored NUL on one and a ``psycopg.DataError`` on the other."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kitaru.errors import UsageError
from kitaru.store.access import ApiKey, Principal
from kitaru.store.base import ComponentRecord
from kitaru.store.deployments import Deployment
from kitaru.store.records import SAVE, Call
from tests.store.conftest import pg_database, pg_url  # noqa: F401 - the "postgres" store

NUL = "a\x00b"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        from kitaru.store.sqlite import SQLiteStore

        s: Any = SQLiteStore(tmp_path / "k.db")
    else:
        from kitaru.store.postgres import PostgresStore

        s = PostgresStore(request.getfixturevalue("pg_url"))
    yield s
    s.close()


def _deployment(flow: str) -> Deployment:
    return Deployment(flow, 0, "m", "f", None, None, "local", None, {}, {}, "h", 0.0)


CALLS: dict[str, Callable[[Any, int], Any]] = {
    "create_execution": lambda s, pk: s.create_execution(
        flow=NUL, module="m", qualname="f", source_file=None, root=None, inputs={}
    ),
    "get_execution": lambda s, pk: s.get_execution(NUL),
    "list_executions flow": lambda s, pk: s.list_executions(flow=NUL),
    "list_executions status": lambda s, pk: s.list_executions(status=NUL),
    "put_call": lambda s, pk: s.put_call(pk, Call(NUL, SAVE, "completed", 1)),
    "find_calls": lambda s, pk: s.find_calls(pk, NUL),
    "get_call": lambda s, pk: s.get_call(pk, NUL),
    "memory_put": lambda s, pk: s.memory_put(
        "namespace", "default", NUL, serializer=None, type_name=None, value=None
    ),
    "memory_get": lambda s, pk: s.memory_get("namespace", NUL, "k"),
    "memory_list": lambda s, pk: s.memory_list("namespace", NUL),
    "memory_history": lambda s, pk: s.memory_history(NUL, "default", "k"),
    "put_component": lambda s, pk: s.put_component(
        ComponentRecord("orchestrator", NUL, "local", {})
    ),
    "get_component": lambda s, pk: s.get_component("orchestrator", NUL),
    "list_components": lambda s, pk: s.list_components(NUL),
    "delete_component": lambda s, pk: s.delete_component(NUL, "x"),
    "stacks_using_component": lambda s, pk: s.stacks_using_component("orchestrator", NUL),
    "put_stack": lambda s, pk: s.put_stack("s", {"orchestrator": NUL}),
    "get_stack": lambda s, pk: s.get_stack(NUL),
    "delete_stack": lambda s, pk: s.delete_stack(NUL),
    "put_principal": lambda s, pk: s.put_principal(
        Principal("p", "user", "admin", "default", 0.0, NUL)
    ),
    "get_principal": lambda s, pk: s.get_principal(NUL),
    "list_principals": lambda s, pk: s.list_principals(NUL),
    "put_api_key": lambda s, pk: s.put_api_key(ApiKey("k1", "p", "sha", 0.0, None, NUL)),
    "get_api_key": lambda s, pk: s.get_api_key(NUL),
    "list_api_keys": lambda s, pk: s.list_api_keys(NUL),
    "revoke_api_key": lambda s, pk: s.revoke_api_key(NUL, 0.0),
    "add_deployment": lambda s, pk: s.add_deployment(_deployment(NUL), tag="default"),
    "get_deployment": lambda s, pk: s.get_deployment(NUL, 1),
    "list_deployments": lambda s, pk: s.list_deployments(NUL),
    "tag_version": lambda s, pk: s.tag_version("f", NUL),
    "set_tag": lambda s, pk: s.set_tag("f", NUL, 1),
}


@pytest.mark.parametrize("method", sorted(CALLS))
def test_every_store_refuses_a_nul_in_a_name(store: Any, method: str) -> None:
    ex = store.create_execution(
        flow="f", module="m", qualname="f", source_file=None, root=None, inputs={}
    )
    with pytest.raises(UsageError, match="contains a NUL character") as exc:
        CALLS[method](store, ex.pk)
    assert exc.value.hint and "\n" not in exc.value.message
