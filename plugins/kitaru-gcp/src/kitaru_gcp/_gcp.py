"""What the flavors share: credentials, reachability and one-line error messages.

Nothing here imports a ``google`` module at module level: :mod:`kitaru_gcp.config` and
:mod:`kitaru_gcp.plugin` must stay import-light, and the imports below run only when a flavor
is used.
"""

from __future__ import annotations

import json
import re
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kitaru.errors import ConfigError

if TYPE_CHECKING:
    from kitaru.components.base import StackComponent
    from kitaru_gcp.config import GCPConfig

#: one scope for every API: what a principal may do is decided by its IAM roles
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
#: seconds to open a connection in verify(): a wrong endpoint fails in seconds, not minutes
CONNECT_TIMEOUT = 5.0
#: seconds an API call may take
CALL_TIMEOUT = 60.0
#: GCS and Secret Manager name the refused permission in their 403 messages
_PERMISSION = re.compile(r"\b((?:storage|secretmanager|aiplatform)\.[A-Za-z]+\.[A-Za-z]+)\b")


def credentials_for(component: StackComponent, config: GCPConfig) -> tuple[Any, str | None]:
    """``(credentials, project)`` for the config: ``None`` for anonymous access,
    else a google-auth credentials object; the project is the config's, else the credentials'.

    A reference's value (a credentials JSON) is never shown: errors name the reference."""
    project = config.project
    if config.anonymous:
        return None, project
    if config.credentials:
        info = _credentials_json(component, config.credentials)
        kind = info.get("type")
        if not isinstance(kind, str) or kind not in _LOADERS:
            raise ConfigError(
                f"{component.name!r}: {config.credentials} holds credentials of type {kind!r}; "
                f"a reference takes {' or '.join(map(repr, _LOADERS))}",
                hint="for workload identity federation or impersonation use application "
                "default credentials (leave `credentials` empty)",
            )
        try:
            credentials = _LOADERS[kind](info)
        except Exception as exc:
            # the message of a failed key parse may quote the key: name the type only
            raise ConfigError(
                f"{component.name!r}: {config.credentials} is not a usable {kind} key: "
                f"{type(exc).__name__}",
                hint="store a key file's JSON in it as Google issued it "
                '(`kitaru secret set NAME key="$(cat key.json)"`)',
            ) from None
        return credentials, project or info.get("project_id") or info.get("quota_project_id")
    try:
        import google.auth

        credentials, found = google.auth.default(scopes=SCOPES)
    except Exception as exc:
        raise ConfigError(
            f"{component.name!r}: no application default credentials ({describe_error(exc)})",
            hint="run `gcloud auth application-default login`, set "
            "GOOGLE_APPLICATION_CREDENTIALS, or set `credentials` to a {{secret:name.key}} "
            "reference holding a service-account key",
        ) from None
    return credentials, project or found


def _service_account(info: dict[str, Any]) -> Any:
    from google.oauth2 import service_account

    return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)


def _authorized_user(info: dict[str, Any]) -> Any:
    from google.oauth2 import credentials

    return credentials.Credentials.from_authorized_user_info(info, scopes=SCOPES)


#: the credentials JSON a reference may hold, by its ``type``: a type-specific loader each (a
#: generic loader would also accept configurations that run commands or fetch URLs)
_LOADERS = {"service_account": _service_account, "authorized_user": _authorized_user}


def _credentials_json(component: StackComponent, reference: str) -> dict[str, Any]:
    value = component.secret(reference)
    try:
        info = json.loads(value)
    except ValueError:
        info = None
    if not isinstance(info, dict):
        raise ConfigError(
            f"{component.name!r}: {reference} is not a credentials JSON object",
            hint="store a service-account key file's JSON in it "
            '(`kitaru secret set NAME key="$(cat key.json)"`)',
        )
    return info


def check_reachable(endpoint: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Open (and close) a TCP connection to ``endpoint``'s host and port: raises OSError in at
    most ``timeout`` seconds when nothing answers there. The client libraries retry a refused
    connection for half a minute; ``verify()`` should say so in seconds."""
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    socket.create_connection((parts.hostname or "", port), timeout=timeout).close()


def refused_permission(exc: BaseException, default: str) -> str:
    """The permission a 403 names (``storage.objects.get``), else ``default``."""
    found = _PERMISSION.search(str(exc))
    return found.group(1) if found else default


def describe_error(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line (:func:`kitaru.errors.describe`), cut to ``limit``."""
    from kitaru.errors import describe

    return describe(exc, limit)


def where(project: str | None, endpoint_url: str | None, default_endpoint: str) -> str:
    """``project p, http://127.0.0.1:9023``: what an error names to say where it was."""
    return f"project {project or '(default)'}, {endpoint_url or default_endpoint}"
