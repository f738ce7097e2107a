"""The MCP server: the toolbox's tools on an ``MCPServer`` of the official SDK (``kitaru[mcp]``),
and ``serve_stdio`` for ``kitaru mcp``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from kitaru.mcp.errors import error_text
from kitaru.mcp.tools import ExecutionTools, Marks
from kitaru.mcp.tools_workspace import WorkspaceTools

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from kitaru.client import KitaruClient

INSTRUCTIONS = """Kitaru: durable executions of Python agent flows. Executions are journaled:
a crashed one resumes where it stopped (executions_resume), a failed one is retried in place
(executions_retry), any one can be replayed with changes (executions_replay). An execution with
status `waiting` needs an answer: read its pending_wait (question, input_schema, example) and
call executions_input. Tools that start work return at once unless wait=true."""


class Toolbox(ExecutionTools, WorkspaceTools):
    """Every tool, over one client (and ``kitaru serve``'s runner, if any)."""

    def __init__(self, client: KitaruClient, runner: Any = None) -> None:
        self.client = client
        self.runner = runner


def tools(
    toolbox: object, *, read_only: bool = False, where: str = "local"
) -> Iterator[tuple[str, Callable[..., Any], Marks]]:
    """``(name, bound method, marks)`` of the toolbox's tools offered ``where`` (``local``:
    ``kitaru mcp``; ``server``: ``/mcp``), only the reading ones when ``read_only``."""
    for name in sorted(dir(type(toolbox))):
        marks = getattr(getattr(type(toolbox), name), "__kitaru_tool__", None)
        if not isinstance(marks, Marks) or (read_only and marks.writes):
            continue
        if marks.where in ("any", where):
            yield name, getattr(toolbox, name), marks


class Threads:
    """The worker threads tools run in: their own pool, so tools that wait for an execution
    (up to ``timeout_s``) never hold the threads the server's REST routes run in."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._limiter: Any = None

    def limiter(self) -> Any:
        import anyio

        if self._limiter is None:  # made in the event loop, on first use
            self._limiter = anyio.CapacityLimiter(self.size)
        return self._limiter


def guarded(fn: Callable[..., Any], threads: Threads) -> Callable[..., Any]:
    """``fn`` run in one of ``threads``, answering a failure with a tool error whose text is
    exactly the CLI's ``error:``/``hint:`` lines (a raised ToolError would get the SDK's
    ``Error executing tool`` prefix). The signature is ``fn``'s, so the SDK builds the same
    schemas."""
    import anyio.to_thread
    from mcp.types import CallToolResult, TextContent

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs),
                                                  limiter=threads.limiter())  # fmt: skip
        except Exception as exc:
            text = TextContent(type="text", text=error_text(exc))
            return CallToolResult(content=[text], is_error=True)

    return call


def hints(name: str, marks: Marks) -> Any:
    """The tool's MCP annotations: read-only or not, destructive or not, never open-world."""
    from mcp.types import ToolAnnotations

    # cancel and abort end an execution for good; the other writes add versions or executions
    destructive = name in ("executions_cancel", "executions_abort", "memory_delete")
    return ToolAnnotations(read_only_hint=not marks.writes,
                           destructive_hint=destructive if marks.writes else None,
                           open_world_hint=False)  # fmt: skip


def build(
    client: KitaruClient | None = None, *, read_only: bool = False, runner: Any = None,
    where: str = "local", toolbox: object | None = None,
) -> MCPServer[Any]:  # fmt: skip
    """An ``MCPServer`` with the tools offered ``where`` (all of them, or only the reading
    ones), over ``client`` (default: this process's store, as the CLI's)."""
    from mcp.server.mcpserver import MCPServer

    from kitaru.client import KitaruClient
    from kitaru.version import __version__

    box = toolbox if toolbox is not None else Toolbox(client or KitaruClient(), runner)
    mode = " Read-only: only the reading tools are offered." if read_only else ""
    server: MCPServer[Any] = MCPServer("kitaru", version=__version__,
                                       instructions=INSTRUCTIONS + mode,
                                       log_level="WARNING")  # fmt: skip
    threads = Threads()
    for name, fn, marks in tools(box, read_only=read_only, where=where):
        server.add_tool(guarded(fn, threads), name=name, annotations=hints(name, marks),
                        structured_output=True)  # fmt: skip
    return server


def serve_stdio(*, read_only: bool = False) -> None:
    """Serve MCP over this process's stdin and stdout (``kitaru mcp``). While it serves, the
    SDK points fd 1 at stderr, so a flow's prints (or a worker's) never reach the wire."""
    build(read_only=read_only).run("stdio")
