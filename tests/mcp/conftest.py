"""MCP clients for the tests: the SDK's own ``ClientSession`` over stdio (a spawned
``kitaru mcp``) and over streamable HTTP (a real ``kitaru server start``), and the CLI's stderr
to compare tool errors with."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult

from tests.conftest import REPO, subprocess_env


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def stdio_session(
    *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    """A session with ``kitaru mcp ARGS`` spawned in the repository (the seed example's
    relative path works), on this test's KITARU_HOME unless ``env`` says otherwise."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "kitaru.cli", "mcp", *args],
                                   env=env or subprocess_env(), cwd=str(REPO))  # fmt: skip
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def http_session(url: str, key: str | None) -> AsyncIterator[ClientSession]:
    """A session with the server's ``/mcp``, sending ``key`` as a bearer token (if any)."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120)) as http,
        streamable_http_client(url + "/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def text(result: CallToolResult) -> str:
    """The text of a tool result (an error's ``error:``/``hint:`` lines)."""
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def call(session: ClientSession, tool: str, /, **arguments: Any) -> dict[str, Any]:
    """A tool's structured result; fails the test with the tool's error text if it failed."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    return result.structured_content


async def refused(session: ClientSession, tool: str, /, **arguments: Any) -> str:
    """The error text of a tool call that must fail."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return text(result)


def cli_error(*args: str, env: dict[str, str] | None = None) -> str:
    """What ``kitaru ARGS`` prints on stderr when it fails (its error: and hint: lines)."""
    out = subprocess.run([sys.executable, "-m", "kitaru.cli", *args], cwd=REPO,
                         env=env or subprocess_env(), capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode != 0, out.stdout
    return out.stderr.strip()
