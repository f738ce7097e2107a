"""``/mcp`` on a real ``kitaru server start``, with the SDK's ClientSession over streamable
HTTP: the server's API keys (none, admin, member, revoked) and REST's role rules."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO
from tests.mcp.conftest import call, http_session, refused, stdio_session, text
from tests.mcp.test_stdio import READING, WRITING
from tests.server.conftest import Server, start_server, stop

pytestmark = [pytest.mark.anyio, pytest.mark.xdist_group("mcp-server")]

ACCESS = {"auth_whoami", "auth_service_accounts_list", "auth_api_keys_list"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("mcp-server") / "home")
    assert srv.admin_key, srv.log.read_text()
    yield srv
    stop(srv)


def rest(server: Server, method: str, path: str, key: str | None = None, **body: Any) -> Any:
    r = httpx.request(method, f"{server.url}/api/v1{path}", json=body or None, timeout=30,
                      headers={"Authorization": f"Bearer {key or server.admin_key}"})  # fmt: skip
    return r.status_code, r.json()


def member_key(server: Server, name: str) -> tuple[str, str]:
    """A new member service account's ``(key id, key)``, made through REST by the admin."""
    assert rest(server, "POST", "/auth/service-accounts", name=name, role="member")[0] == 200
    status, made = rest(server, "POST", "/auth/api-keys", principal=name)
    assert status == 200, made
    return made["key_id"], made["key"]


def deploy_seed(server: Server, home: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "kitaru.cli", "deploy",
                          "examples/review_flow.py:review_flow"], cwd=REPO,
                         env=server.env(KITARU_HOME=str(home)), capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr


async def test_tools_over_http_have_output_schemas(server: Server) -> None:
    async with http_session(server.url, server.admin_key) as s:
        tools = (await s.list_tools()).tools
    # a file on the server's machine is not run on a client's say (REST has no such route)
    assert {t.name for t in tools} == (READING | WRITING | ACCESS) - {"flows_run"}
    assert all(t.output_schema for t in tools)


async def test_seed_deployment_invoked_waits_is_answered_and_replayed(
    server: Server, tmp_path: Path
) -> None:
    deploy_seed(server, tmp_path / "client-home")
    async with http_session(server.url, server.admin_key) as s:
        listed = await call(s, "deployments_list", flow="review_flow")
        assert [d["version"] for d in listed["deployments"]] == [1]
        started = await call(s, "deployments_invoke", flow="review_flow",
                             inputs={"topic": "Durable agents"}, wait=True, timeout_s=90)  # fmt: skip
        eid = started["execution_id"]
        assert started["status"] == "waiting", started
        assert started["pending_wait"]["name"] == "approve_draft"
        wrong = await refused(s, "executions_input", execution_id=eid, value="yes")
        assert wrong.startswith("error: invalid input for wait 'approve_draft'")
        done = await call(s, "executions_input", execution_id=eid, value=True, wait=True,
                          timeout_s=90)  # fmt: skip
        assert done["status"] == "completed", done
        replay = await call(s, "executions_replay", execution_id=eid,
                            overrides={"checkpoint.draft": "An edited draft"}, wait=True,
                            timeout_s=90)  # fmt: skip
        assert (replay["status"], replay["result"]) == ("completed", "An edited draft")
    # REST sees the same executions: one store, one journal
    status, shown = rest(server, "GET", f"/executions/{replay['execution_id']}")
    assert status == 200 and shown["replay_of"] == eid


async def test_no_key_and_a_bad_key_are_refused_like_rest(server: Server) -> None:
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    accept = {"Accept": "application/json, text/event-stream"}
    for headers, message in (({}, "an API key is required"),
                             ({"Authorization": "Bearer kitaru_nope_nope"}, "invalid API key")):  # fmt: skip
        r = httpx.post(server.url + "/mcp", json=hello, headers={**accept, **headers}, timeout=30)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["message"] == message
        same = httpx.get(f"{server.url}/api/v1/executions", headers=headers, timeout=30)
        assert (same.status_code, same.json()["error"]["message"]) == (401, message)
    with pytest.raises(Exception):  # noqa: B017 - the SDK raises its transport's error, wrapped
        async with http_session(server.url, None) as s:
            await s.list_tools()


async def test_a_member_key_cannot_call_admin_tools_and_a_revoked_one_nothing(
    server: Server,
) -> None:
    key_id, key = member_key(server, "mcp-bot")
    async with http_session(server.url, key) as s:
        me = await call(s, "auth_whoami")
        assert (me["name"], me["role"]) == ("mcp-bot", "member")
        denied = await refused(s, "auth_service_accounts_list")
        status, body = rest(server, "GET", "/auth/service-accounts", key)
        assert status == 403
        assert denied == f"error: {body['error']['message']}\nhint: {body['error']['hint']}"
        assert denied == "error: mcp-bot is not an admin\nhint: ask an admin of this workspace"
        own = await call(s, "auth_api_keys_list")
        assert {k["principal"] for k in own["api_keys"]} == {"mcp-bot"}
        # what REST lets any key do, MCP does too
        await call(s, "executions_list")
        assert (await call(s, "memory_set", key="k", value=1, namespace="bots"))["version"] == 1
    async with http_session(server.url, server.admin_key) as s:
        everyone = await call(s, "auth_service_accounts_list")
        assert {"admin", "mcp-bot"} <= {p["name"] for p in everyone["principals"]}
        assert len((await call(s, "auth_api_keys_list"))["api_keys"]) >= 2
    assert rest(server, "POST", f"/auth/api-keys/{key_id}/revoke")[0] == 200
    r = httpx.post(server.url + "/mcp", json={}, headers={"Authorization": f"Bearer {key}"},
                   timeout=30)  # fmt: skip
    assert r.status_code == 401
    assert r.json()["error"]["message"] == f"API key {key_id} was revoked"
    with pytest.raises(Exception):  # noqa: B017
        async with http_session(server.url, key) as s:
            await s.list_tools()


async def test_errors_over_http_carry_the_cli_lines(server: Server) -> None:
    async with http_session(server.url, server.admin_key) as s:
        missing = await refused(s, "executions_get", execution_id="ffffffffff")
        assert missing == ("error: no execution with id 'ffffffffff'\n"
                           "hint: list executions with `kitaru executions list`")  # fmt: skip
        result = await s.call_tool("deployments_invoke", {"flow": "no_such_flow"})
        assert result.is_error and text(result).startswith("error: ")


async def test_kitaru_mcp_on_stdio_uses_the_server_it_is_connected_to(
    server: Server, tmp_path: Path
) -> None:
    env = server.env(KITARU_HOME=str(tmp_path / "client-home"))
    async with stdio_session(env=env) as s:
        run = await call(s, "flows_run", target="examples/review_flow.py:review_flow",
                         inputs={"topic": "Connected"}, wait=True, timeout_s=90)  # fmt: skip
        assert run["status"] == "waiting", run
        done = await call(s, "executions_input", execution_id=run["execution_id"], value=False,
                          wait=True, timeout_s=90)  # fmt: skip
        assert (done["status"], done["result"]) == ("completed", "Rejected")
    status, shown = rest(server, "GET", f"/executions/{run['execution_id']}")
    assert status == 200 and shown["status"] == "completed"  # journaled in the server's store
