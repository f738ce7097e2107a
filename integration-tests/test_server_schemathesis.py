"""Generated requests against a real server, on PostgreSQL and on its embedded SQLite.

- Schemathesis: every operation of the server's OpenAPI schema gets generated requests (its
  examples, boundary values and random ones; a fixed seed, a bounded number per operation),
  authenticated with the admin key. No answer may be a 5xx, and every answer must be what the
  schema documents (status code, content type, body).
- A small deterministic fuzzer: a NUL or an unpaired surrogate in every path parameter, query
  parameter and string body field of every operation. Random generation rarely draws a NUL
  for each field in a bounded run; PostgreSQL answered 500 (``psycopg.DataError``) to these.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.server.conftest import Server, start_server, stop

#: generated cases per operation in the fuzzing phase (the examples and coverage phases add
#: their own, bounded by the schema); both stores together take well under a minute
MAX_EXAMPLES = 12
SEED = 13

SEED_DATA = """
import kitaru
from kitaru import checkpoint, flow

@checkpoint
def shout(text: str) -> str:
    kitaru.save("shouted", text.upper())
    return text.upper()

@flow
def loud(text: str) -> str:
    kitaru.memory.set("greeting", text)
    return shout(text)

if __name__ == "__main__":
    print(loud("hello"))
"""


@pytest.fixture(scope="module", params=["postgres", "sqlite"])
def seeded_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server on PostgreSQL (the module's e2e server), then one on its embedded SQLite, each
    with an execution, an artifact and a memory key: both must answer alike."""
    if request.param == "postgres":
        server: Server = request.getfixturevalue("e2e_server")
    else:
        server = start_server(tmp_path_factory.mktemp("sqlite-server") / "home")
    try:
        where = tmp_path_factory.mktemp("seed")
        (where / "seed.py").write_text(SEED_DATA)
        out = subprocess.run([sys.executable, "seed.py"], cwd=where, env=server.env(),
                             capture_output=True, text=True, timeout=120)  # fmt: skip
        assert out.returncode == 0 and out.stdout.strip() == "HELLO", out.stderr
        with urllib.request.urlopen(server.url + "/openapi.json", timeout=10) as r:
            assert json.loads(r.read()) == schema.raw_schema  # the tests run what is served
        yield server
    finally:
        if request.param == "sqlite":
            stop(server)


@pytest.fixture(scope="module")
def seed_ids(seeded_server: Server) -> dict[str, str]:
    req = urllib.request.Request(
        seeded_server.url + "/api/v1/executions",
        headers={"Authorization": f"Bearer {seeded_server.admin_key}"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return {"execution": json.loads(r.read())[0]["id"]}


def _schema() -> Any:
    """The OpenAPI schema the server serves, built from the application's code (schemathesis
    parametrizes at collection time, before any server runs; the fixture checks it is the one
    served)."""
    from kitaru.server.app import create_app

    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True},
                   "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
    })  # fmt: skip
    return schemathesis.openapi.from_dict(create_app(None).openapi(), config=config)


schema = _schema()


@pytest.mark.xdist_group("schemathesis")
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_generated_requests_get_documented_answers_and_never_a_server_error(
    case: schemathesis.Case, seeded_server: Server
) -> None:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    case.call_and_validate(
        base_url=seeded_server.url,
        headers={"Authorization": f"Bearer {seeded_server.admin_key}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance],
    )  # fmt: skip


# -- a small deterministic fuzzer: hostile text in every parameter and body string --------------
#: values for path parameters that lead somewhere (so the body is read, not a 404 first)
PATH_VALUES = {"scope": "namespace", "name": "default", "key": "greeting", "flow": "loud",
               "method": "get_execution", "key_id": "000000000000"}  # fmt: skip
HOSTILE_TEXT = ["a\x00b", "\x00", "a\ud800b"]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rpartition("/")[2]]
    return schema


def _string_fields(spec: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    props = _resolve(spec, schema).get("properties", {})
    out = []
    for name, prop in props.items():
        types = [prop.get("type")] + [s.get("type") for s in prop.get("anyOf", [])]
        if "string" in types or (not types[0] and not prop.get("anyOf")):  # str or Any
            out.append(name)
    return out


def _hostile_requests() -> list[tuple[str, str, str, str, Any]]:
    """``(id, method, path template, where, body)``: one request per (operation, parameter or
    body field, hostile value); ``where`` names what holds the hostile value."""
    spec = _schema().raw_schema
    out = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            body_schema = (op.get("requestBody", {}).get("content", {})
                           .get("application/json", {}).get("schema"))  # fmt: skip
            base_body: Any = None
            if body_schema is not None:
                required = _resolve(spec, body_schema).get("required", [])
                base_body = {name: True for name in required}  # a value of any type
            for value in HOSTILE_TEXT:
                for p in op.get("parameters", []):
                    if value == "a\ud800b":  # a URL cannot carry one (it is UTF-8)
                        continue
                    out.append((method.upper(), path, f"{p['in']}.{p['name']}", value, base_body))
                if body_schema is not None:
                    for field in _string_fields(spec, body_schema):
                        out.append((method.upper(), path, f"body.{field}", value,
                                    {**(base_body or {}), field: value}))  # fmt: skip
    return [(f"{m} {p} {w} {v!r}", m, p, w, (v, b)) for m, p, w, v, b in out]


HOSTILE = _hostile_requests()


@pytest.mark.xdist_group("schemathesis")
@pytest.mark.parametrize(("method", "path", "where", "payload"), [h[1:] for h in HOSTILE],
                         ids=[h[0] for h in HOSTILE])  # fmt: skip
def test_hostile_text_is_refused_with_a_4xx_never_a_500(
    seeded_server: Server,
    seed_ids: dict[str, str],
    method: str,
    path: str,
    where: str,
    payload: tuple[str, Any],
) -> None:
    value, body = payload
    kind, _, name = where.partition(".")
    params = {**PATH_VALUES, "execution_id": seed_ids["execution"], "a": seed_ids["execution"],
              "b": seed_ids["execution"]}  # fmt: skip
    query = ""
    if kind == "path":
        params[name] = value
    elif kind == "query":
        query = "?" + urllib.parse.urlencode({name: value})
    url = seeded_server.url + path
    for k, v in params.items():
        url = url.replace("{" + k + "}", urllib.parse.quote(v, safe="")).replace(
            "{" + k + ":path}", urllib.parse.quote(v, safe="")
        )
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url + query,
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {seeded_server.admin_key}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, answer = r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        status, answer = e.code, json.loads(e.read() or b"null")
    assert status < 500, answer
    if status >= 400:
        assert set(answer) == {"error"} and {"type", "message", "hint"} == set(answer["error"])
    if kind in ("path", "query") and "\x00" in value:
        assert status == 400 and "NUL" in answer["error"]["message"], answer
