"""``kitaru mcp``: an MCP server over stdio, for an agent on this machine (docs/mcp.md)."""

from __future__ import annotations

import click


@click.command("mcp")
@click.option("--read-only", is_flag=True,
              help="Offer only the reading tools: nothing can be run, answered or changed.")  # fmt: skip
def mcp(read_only: bool) -> None:
    """Serve Kitaru's tools to an MCP client over stdin/stdout.

    The tools are the CLI's verbs: list, inspect, answer, resume, retry, replay and cancel
    executions; run flows and invoke deployments; artifacts, memory, stacks, flavors and
    plugins. They use this machine's store, or the server you are logged in to, like every
    other command. Needs kitaru[mcp].
    """
    from kitaru.mcp.server import serve_stdio

    serve_stdio(read_only=read_only)
