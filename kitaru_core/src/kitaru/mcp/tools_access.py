"""The tools only the server's ``/mcp`` offers: who the calling key is, and the workspace's
service accounts and API keys (never a key's secret), with REST's ``/api/v1/auth`` rules:
listing principals is for admins, a member lists its own keys only.

The other tools need any valid key, as every other REST route does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mcp.server.mcpserver import Context

from kitaru.client import KitaruClient
from kitaru.mcp import PRINCIPAL, schemas
from kitaru.mcp.server import Toolbox
from kitaru.mcp.tools import tool
from kitaru.store.access import Principal


def caller(ctx: Context[Any, Any]) -> Principal:
    """The principal whose key sent this request (set by :class:`kitaru.mcp.http.Endpoint`)."""
    from kitaru.errors import AuthError

    request = ctx.request_context.request
    found = getattr(request, "scope", {}).get(PRINCIPAL)
    if not isinstance(found, Principal):  # never reached through /mcp: it authenticates first
        raise AuthError("an API key is required", hint="send `Authorization: Bearer <key>`")
    return found


class ServerToolbox(Toolbox):
    """Every tool, plus the access tools, over the server's store."""

    def __init__(self, client: KitaruClient, runner: Any, access: Any) -> None:
        super().__init__(client, runner)
        self.access = access

    @tool(writes=False, where="server")
    def auth_whoami(self, ctx: Context[Any, Any]) -> schemas.Principal:
        """The user or service account of the API key this session uses, and its role
        (`GET /api/v1/auth/me`)."""
        return schemas.Principal.of(dataclasses.asdict(caller(ctx)))

    @tool(writes=False, where="server", admin=True)
    def auth_service_accounts_list(self, ctx: Context[Any, Any]) -> schemas.Principals:
        """Every user and service account of the workspace (admins only, as in REST)."""
        from kitaru.server.auth import require_admin

        require_admin(caller(ctx))
        found = [schemas.Principal.of(dataclasses.asdict(p)) for p in self.access.list_principals()]
        return schemas.Principals(principals=found)

    @tool(writes=False, where="server")
    def auth_api_keys_list(self, ctx: Context[Any, Any]) -> schemas.ApiKeys:
        """API keys (never their secrets): all of them for an admin, one's own for a member
        (`kitaru auth api-keys list`)."""
        from kitaru.server.routes_access import _key

        me = caller(ctx)
        mine = None if me.role == "admin" else me.name
        found = [schemas.ApiKey.of(_key(k)) for k in self.access.list_api_keys(mine)]
        return schemas.ApiKeys(api_keys=found)
