"""What the flavors share: the Entra ID credential, reachability and one-line errors.

Nothing here imports an ``azure`` module at module level: :mod:`kitaru_azure.config` and
:mod:`kitaru_azure.plugin` stay import-light; the imports below run when a flavor is used.
"""

from __future__ import annotations

import re
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from kitaru.components.base import StackComponent
    from kitaru_azure.config import AzureConfig

#: seconds to open a connection in verify(): a wrong endpoint fails in seconds, not minutes
CONNECT_TIMEOUT = 5.0
#: Azure's 403s name the refused action (``Microsoft.KeyVault/vaults/secrets/getSecret/action``)
_ACTION = re.compile(r"\b(Microsoft\.[A-Za-z]+/[A-Za-z0-9/]+(?:/action|/read|/write|/delete))\b")


def credential_for(component: StackComponent, config: AzureConfig) -> Any:
    """An azure-identity credential: the service principal of the config (its secret resolved
    through the stack's secret store), else ``DefaultAzureCredential``. A secret's value is
    never shown: errors name the reference."""
    kwargs: dict[str, Any] = {}
    if config.authority_host:
        # a private or sovereign authority: no instance discovery at the public cloud's host
        kwargs |= {"authority": config.authority_host, "disable_instance_discovery": True}
    if config.client_secret:
        from azure.identity import ClientSecretCredential

        secret = component.secret(config.client_secret)
        return ClientSecretCredential(str(config.tenant_id), str(config.client_id), secret,
                                      **kwargs)  # fmt: skip
    from azure.identity import DefaultAzureCredential

    if config.client_id:  # a user-assigned managed identity, or workload identity's client
        kwargs["managed_identity_client_id"] = config.client_id
    if config.tenant_id:
        kwargs["additionally_allowed_tenants"] = [config.tenant_id]
    return DefaultAzureCredential(exclude_interactive_browser_credential=True, **kwargs)


def check_reachable(endpoint: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Open (and close) a TCP connection to ``endpoint``'s host and port: OSError within
    ``timeout`` when nothing answers. The SDKs retry a refused connection for a long while;
    ``verify()`` should say so in seconds."""
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    socket.create_connection((parts.hostname or "", port), timeout=timeout).close()


def refused_action(exc: BaseException, default: str) -> str:
    """The RBAC action a 403 names, else ``default``."""
    found = _ACTION.search(str(exc))
    return found.group(1) if found else default


def is_forbidden(exc: BaseException) -> bool:
    """A 403 from any Azure SDK (azure-core's HttpResponseError carries the status)."""
    return getattr(exc, "status_code", None) == 403


def is_not_found(exc: BaseException) -> bool:
    return getattr(exc, "status_code", None) == 404


def describe_error(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line, cut to ``limit``. azure-core's messages run over several
    lines (``(Code) message\\nCode: ...\\nMessage: ...``): the first line says it all."""
    from kitaru.errors import one_line

    text = str(getattr(exc, "message", None) or exc).strip()
    first = one_line(text.splitlines()[0] if text else "", limit)
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
