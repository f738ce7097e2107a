"""The server validates at the boundary: names and ids in paths, queries and bodies, and the
store RPC's arguments (by the store methods' type annotations). A bad request gets a 4xx with
the documented ``{"error": {"type", "message", "hint"}}`` body, never a 500, and SQLite and
PostgreSQL answer every request below the same way. Before, PostgreSQL answered 500
(``psycopg.DataError``: text cannot contain NUL) where SQLite answered 200 or 404."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.store.conftest import pg_database, pg_url  # noqa: F401 - the "postgres" store

NUL = "a\x00b"


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[TestClient]:
    """The server's application over a fresh store of each kind, with an admin key, one
    waiting execution (id in ``api.execution_id``) and one service account ``bot``."""
    from kitaru.server import auth
    from kitaru.server.app import create_app
    from kitaru.store.records import WAIT, Call

    if request.param == "sqlite":
        from kitaru.store.sqlite import SQLiteStore

        store: Any = SQLiteStore(tmp_path / "kitaru.db")
    else:
        from kitaru.store.postgres import PostgresStore

        store = PostgresStore(request.getfixturevalue("pg_url"))
    key = auth.bootstrap(store)
    auth.create_principal(store, "bot", kind="service_account")
    ex = store.create_execution(flow="f", module="m", qualname="f", source_file=None, root=None,
                                inputs={}, status="waiting",
                                calls=[Call("approve", WAIT, "pending", 1)])  # fmt: skip
    client = TestClient(create_app(store), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {key}"
    client.execution_id = ex.id  # type: ignore[attr-defined]
    yield client
    store.close()


def _error(response: Any) -> dict[str, Any]:
    """The documented error body: one ``error`` object with a one-line message."""
    body = response.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"type", "message", "hint"}, err
    assert isinstance(err["message"], str) and "\n" not in err["message"], err
    return err  # type: ignore[no-any-return]


# (method, path, JSON body) -> 400 UsageError naming what was wrong
NUL_REQUESTS = [
    ("GET", "/api/v1/executions/a%00b", None),
    ("GET", "/api/v1/executions?flow=a%00b", None),
    ("GET", "/api/v1/executions?status=a%00b", None),
    ("GET", "/api/v1/deployments?flow=a%00b", None),
    ("GET", "/api/v1/components?type=a%00b", None),
    ("GET", "/api/v1/memory/namespace/a%00b", None),
    ("PUT", "/api/v1/memory/namespace/default/a%00b", {"value": 1}),
    ("GET", "/api/v1/memory/namespace/default/a%00b", None),
    ("GET", "/api/v1/memory/namespace/default/a%00b/history", None),
    ("DELETE", "/api/v1/memory/namespace/default/a%00b", None),
    ("POST", "/api/v1/deployments/a%00b/invoke", {}),
    ("POST", "/api/v1/auth/api-keys/a%00b/revoke", None),
    ("POST", "/api/v1/auth/api-keys", {"principal": NUL}),
    ("POST", "/api/v1/auth/api-keys", {"principal": "bot", "label": NUL}),
    ("POST", "/api/v1/auth/service-accounts", {"name": NUL}),
    ("POST", "/api/v1/auth/service-accounts", {"name": "ok", "description": NUL}),
    ("POST", "/api/v1/executions/{id}/input", {"value": True, "name": NUL}),
    ("POST", "/api/v1/executions/{id}/abort", {"name": NUL}),
    ("POST", "/api/v1/executions/{id}/replay", {"from": NUL}),
    ("GET", "/api/v1/executions/{id}/artifacts/a%00b", None),
    ("POST", "/api/v1/store/get_execution", {"args": [NUL]}),
    ("POST", "/api/v1/store/memory_get", {"args": ["namespace", "default", NUL]}),
    ("POST", "/api/v1/store/list_executions", {"kwargs": {"flow": NUL}}),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL_REQUESTS,
                         ids=[f"{m} {p} {json.dumps(b)}" for m, p, b in NUL_REQUESTS])  # fmt: skip
def test_a_nul_in_a_name_is_a_400_on_every_store(
    api: TestClient, method: str, path: str, body: Any
) -> None:
    path = path.replace("{id}", api.execution_id)  # type: ignore[attr-defined]
    response = api.request(method, path, json=body)
    assert response.status_code == 400, response.text
    err = _error(response)
    assert err["type"] == "UsageError" and "NUL" in err["message"] and err["hint"], err


# the store RPC with arguments of the wrong type: 400 naming the method and the argument
RPC_BAD_ARGUMENTS = [
    ("get_execution", {"args": [{"x": 1}]}, "execution_id"),
    ("get_execution", {"args": [1.5]}, "execution_id"),
    ("get_execution", {"args": []}, "execution_id"),
    ("list_executions", {"kwargs": {"limit": "abc"}}, "limit"),
    ("list_executions", {"kwargs": {"flow": 2.5}}, "flow"),
    ("list_executions", {"kwargs": {"nope": 1}}, "nope"),
    ("read_logs", {"args": [10**30]}, "pk"),
    ("read_logs", {"args": ["abc"]}, "pk"),
    ("set_status", {"args": ["abc", "running"]}, "pk"),
    ("memory_get", {"args": ["namespace", "default", {"x": 1}]}, "key"),
    (
        "put_call",
        {
            "args": [
                1,
                {
                    "__t": "Call",
                    "call_id": {"x": 1},
                    "kind": "save",
                    "status": "completed",
                    "seq": "abc",
                },
            ]
        },
        "call",
    ),
    ("put_blob", {"args": [{"__t": "Blob", "sha256": 1, "size": "big", "uri": None}]}, "blob"),
    ("get_blob", {"args": [{"__b": "AAA="}]}, "sha256"),
    ("create_execution", {"kwargs": {"flow": "f"}}, "module"),
    (
        "acquire_lease",
        {"args": [1, "me", "long"], "kwargs": {"statuses": ["running"], "set_status": None}},
        "ttl",
    ),
]


@pytest.mark.parametrize(("method", "body", "names"), RPC_BAD_ARGUMENTS,
                         ids=[f"{m} {json.dumps(b)}" for m, b, _ in RPC_BAD_ARGUMENTS])  # fmt: skip
def test_store_rpc_with_wrong_argument_types_is_a_one_line_400(
    api: TestClient, method: str, body: Any, names: str
) -> None:
    response = api.post(f"/api/v1/store/{method}", json=body)
    assert response.status_code == 400, response.text
    err = _error(response)
    assert err["type"] == "UsageError", err
    assert err["message"].startswith(f"store.{method}: ") and names in err["message"], err
    assert len(err["message"]) < 300, err


def test_store_rpc_still_answers_well_typed_calls(api: TestClient) -> None:
    eid = api.execution_id  # type: ignore[attr-defined]
    got = api.post("/api/v1/store/get_execution", json={"args": [eid]})
    assert got.status_code == 200 and got.json()["result"]["id"] == eid
    pk = got.json()["result"]["pk"]
    listed = api.post("/api/v1/store/list_executions", json={"kwargs": {"flow": "f", "limit": 5}})
    assert [e["id"] for e in listed.json()["result"]] == [eid]
    journal = api.post("/api/v1/store/put_calls", json={"args": [pk, [
        {"__t": "Call", "call_id": "x", "kind": "save", "status": "completed", "seq": 2,
         "value": {"__b": "AAE="}}]]})  # fmt: skip
    assert journal.status_code == 200, journal.text
    call = api.post("/api/v1/store/get_call", json={"args": [pk, "x"]}).json()["result"]
    assert call["value"] == {"__b": "AAE="} and call["seq"] == 2
    leases = api.post("/api/v1/store/renew_leases", json={"args": ["nobody", 10]})
    assert leases.json() == {"result": {}}


# FastAPI's own request validation: the same error shape, 422 (the body or a parameter does
# not match the OpenAPI schema); unknown routes and methods too
def test_request_validation_errors_have_the_error_shape(api: TestClient) -> None:
    eid = api.execution_id  # type: ignore[attr-defined]
    malformed = api.post(f"/api/v1/executions/{eid}/input", content=b"{not json",
                         headers={"Content-Type": "application/json"})  # fmt: skip
    assert malformed.status_code == 422
    assert _error(malformed)["type"] == "UsageError"
    assert "JSON" in _error(malformed)["message"]
    wrong_query = api.get("/api/v1/executions?limit=abc")
    assert wrong_query.status_code == 422
    assert _error(wrong_query)["message"].startswith("query.limit: ")
    missing = api.post(f"/api/v1/executions/{eid}/input", json={})
    assert missing.status_code == 422 and "body.value" in _error(missing)["message"]
    bad_scope = api.get("/api/v1/memory/nowhere/x")
    assert bad_scope.status_code == 422 and _error(bad_scope)["type"] == "UsageError"
    unknown = api.get("/api/v1/no/such/route")
    assert unknown.status_code == 404 and _error(unknown)["type"] == "NotFound"
    wrong_method = api.delete("/api/v1/executions")
    assert wrong_method.status_code == 405 and _error(wrong_method)["type"] == "UsageError"


def test_an_unexpected_failure_is_a_500_with_the_error_shape(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = api.app.state.store  # type: ignore[attr-defined]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "list_executions", broken)
    response = api.get("/api/v1/executions")
    assert response.status_code == 500
    err = _error(response)
    assert err["type"] == "InternalError" and "RuntimeError" in err["message"], err
