"""Kitaru's MCP server: the CLI's verbs as tools for an agent (``kitaru mcp``, ``/mcp``).

Modules: ``schemas`` (the tools' typed outputs), ``errors`` (tool errors with the CLI's
lines), ``tools`` and ``tools_workspace`` (the tool functions, over ``KitaruClient`` and
``kitaru.server.actions`` like the CLI and REST), ``server`` (an ``MCPServer`` of them, stdio),
``http`` (streamable HTTP at ``/mcp`` on the Kitaru server, with its API keys).

Importing this package costs nothing: the ``mcp`` SDK (``kitaru[mcp]``) is imported only by
``server`` and, when a client first calls ``/mcp``, by ``http``.
"""

#: where ``/mcp`` keeps the principal whose API key sent a request, in the request's ASGI scope
PRINCIPAL = "kitaru.principal"
