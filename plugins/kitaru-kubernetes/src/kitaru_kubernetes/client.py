"""What the plugin's flavors share: one connection to a cluster, and one-line errors.

:class:`KubernetesClient` loads a kubeconfig file and context (or the pod's in-cluster service
account) into a client configuration of its own — never the ``kubernetes`` package's global
default, so two components may talk to two clusters — and builds its API objects on first use.
:meth:`KubernetesClient.error` turns whatever a call raised into a one-line
:class:`~kitaru.errors.ConfigError`: *Forbidden* names the verb, the resource and the namespace
(and what to grant), an unreachable API server is named with a hint, and so on.

Nothing here imports ``kubernetes`` at module level: :mod:`kitaru_kubernetes.plugin` and the
config classes must stay import-light.
"""

from __future__ import annotations

import json
import os
import threading
from typing import TYPE_CHECKING, Any

from kitaru.errors import ConfigError, describe

if TYPE_CHECKING:
    from kitaru_kubernetes.config import KubernetesClusterConfig

#: connect fast: a wrong or stopped API server should fail in seconds, not minutes
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0
#: urllib3 retries of a failed connection (one more try, then the one-line error)
RETRIES = 1
#: set to 1 in the pods of the ``kubernetes`` orchestrator (``units_in_cluster``): inside them
#: every flavor of the plugin uses the pod's service account, whatever kubeconfig/context the
#: stack names (a path on the machine that registered the stack, not in the pod)
IN_CLUSTER_ENV = "KITARU_KUBERNETES_IN_CLUSTER"


class KubernetesClient:
    """A connection to the cluster of ``config`` for the component ``owner`` (``secret store
    'prod'``), made on first use, once even when threads race for it."""

    def __init__(self, config: KubernetesClusterConfig, owner: str) -> None:
        self.config = config
        self.owner = owner
        self._api_client: Any = None
        self._lock = threading.Lock()

    # -- connection ----------------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        return self.config.namespace

    @property
    def in_cluster(self) -> bool:
        """Whether the pod's service account is used (configured, or in a Kitaru unit's pod)."""
        return self.config.in_cluster or os.environ.get(IN_CLUSTER_ENV) == "1"

    @property
    def source(self) -> str:
        """Where the connection comes from, for messages: ``kubeconfig PATH, context C``."""
        if self.in_cluster:
            return "in-cluster service account"
        path = self.config.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        context = f"context {self.config.context}" if self.config.context else "current context"
        return f"kubeconfig {path}, {context}"

    @property
    def server(self) -> str:
        """The API server's URL (loads the configuration)."""
        return str(self.api_client().configuration.host)

    @property
    def timeout(self) -> tuple[float, float]:
        """``_request_timeout`` for every call: (connect, read) seconds."""
        return (CONNECT_TIMEOUT, READ_TIMEOUT)

    def api_client(self) -> Any:
        """The ``kubernetes.client.ApiClient`` (raises a one-line ConfigError when the
        kubeconfig or the in-cluster environment is missing or broken)."""
        if self._api_client is None:
            with self._lock:
                if self._api_client is None:
                    from kubernetes import client

                    self._api_client = client.ApiClient(self._configuration())
        return self._api_client

    def core(self) -> Any:
        """``CoreV1Api`` (Secrets, Pods, logs)."""
        from kubernetes import client

        return client.CoreV1Api(self.api_client())

    def batch(self) -> Any:
        """``BatchV1Api`` (Jobs)."""
        from kubernetes import client

        return client.BatchV1Api(self.api_client())

    def _configuration(self) -> Any:
        from kubernetes import client
        from kubernetes import config as kube_config
        from kubernetes.config.config_exception import ConfigException

        configuration = client.Configuration()
        if self.in_cluster:
            try:
                kube_config.load_incluster_config(client_configuration=configuration)
            except ConfigException as exc:
                raise ConfigError(
                    f"{self.owner}: no in-cluster Kubernetes configuration: {_line(str(exc))}",
                    hint="in_cluster: true works only in a pod with a service account token "
                    "mounted; outside a cluster set kubeconfig (and context) instead",
                ) from None
        else:
            path = self.config.kubeconfig
            if path is not None:
                path = os.path.expanduser(path)
                if not os.path.isfile(path):
                    raise ConfigError(
                        f"{self.owner}: kubeconfig file {path} does not exist",
                        hint="set kubeconfig to a readable kubeconfig file, or in_cluster: true "
                        "in a pod",
                    )
            try:
                kube_config.load_kube_config(config_file=path, context=self.config.context,
                                             client_configuration=configuration,
                                             persist_config=False)  # fmt: skip
            except (ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
                raise self._kubeconfig_error(path, exc) from None
        configuration.retries = RETRIES
        return configuration

    def _kubeconfig_error(self, path: str | None, exc: BaseException) -> ConfigError:
        from kubernetes import config as kube_config

        hint = "check the kubeconfig file (kubectl config view) or set kubeconfig/context"
        if self.config.context:
            try:
                contexts, _ = kube_config.list_kube_config_contexts(config_file=path)
                names = ", ".join(sorted(c["name"] for c in contexts)) or "none"
                hint = f"contexts in the kubeconfig: {names}"
            except Exception:  # the file itself is unreadable: keep the general hint
                pass
        return ConfigError(
            f"{self.owner}: cannot load the Kubernetes configuration ({self.source}): "
            f"{_line(str(exc)) or type(exc).__name__}",
            hint=hint,
        )

    # -- errors --------------------------------------------------------------------------------

    def error(
        self, exc: BaseException, *, verb: str, resource: str, name: str | None = None,
        grant: str | None = None,
    ) -> Exception:  # fmt: skip
        """The one-line error for ``exc``, raised by the API call ``verb`` on ``resource``
        (``get`` on ``secrets``, the name ``name``) in this client's namespace.

        ``grant`` is what to give the caller's account when the API server says Forbidden (the
        RBAC rule, in words). A :class:`~kitaru.errors.KitaruError` passes through unchanged.
        """
        from kitaru.errors import KitaruError

        if isinstance(exc, KitaruError):
            return exc
        what = f"{resource}/{name}" if name else resource
        where = f"namespace {self.namespace!r}"
        status = getattr(exc, "status", None)
        if isinstance(status, int) and status:
            detail = _api_message(exc)
            server = self._server_or_source()
            if status == 403:
                rule = grant or f"the verb {verb!r} on {resource}"
                return ConfigError(
                    f"{self.owner}: Forbidden: cannot {verb} {what} in {where} ({server}): "
                    f"{detail}",
                    hint=f"grant its account {rule} in {where} (a Role and RoleBinding: "
                    "see plugins/kitaru-kubernetes/rbac/)",
                )
            if status == 401:
                return ConfigError(
                    f"{self.owner}: Unauthorized: the API server {server} rejected the "
                    f"credentials ({self.source}): {detail}",
                    hint="refresh the kubeconfig's credentials (or the service account token)",
                )
            return ConfigError(
                f"{self.owner}: cannot {verb} {what} in {where} ({server}): HTTP {status} "
                f"{getattr(exc, 'reason', '') or ''}: {detail}".replace(":  :", ":"),
                hint=f"the API server refused the request ({self.source})",
            )
        if _is_connection_error(exc):
            return self.unreachable(exc)
        return ConfigError(
            f"{self.owner}: cannot {verb} {what} in {where} ({self._server_or_source()}): "
            f"{describe(exc)}",
            hint=f"check the cluster and the configuration ({self.source})",
        )

    def unreachable(self, exc: BaseException) -> ConfigError:
        """The API server did not answer: one line naming it, with a hint."""
        return ConfigError(
            f"{self.owner}: the Kubernetes API server {self._server_or_source()} is "
            f"unreachable: {_connection_reason(exc)}",
            hint=f"is the cluster running and reachable from here? the server comes from "
            f"{self.source} (`kubectl cluster-info` checks the same)",
        )

    def _server_or_source(self) -> str:
        if self._api_client is not None:
            return str(self._api_client.configuration.host)
        return self.source


def _line(text: str) -> str:
    """The first non-empty line of ``text``, whitespace squeezed."""
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def _api_message(exc: BaseException) -> str:
    """The API server's own message (the Status body's ``message``), on one line."""
    body = getattr(exc, "body", None)
    if body:
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
        if message:
            return _line(str(message))
    return _line(str(getattr(exc, "reason", "") or "")) or type(exc).__name__


def _is_connection_error(exc: BaseException) -> bool:
    import urllib3.exceptions

    return isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError))


def _connection_reason(exc: BaseException) -> str:
    """Why a connection failed, without urllib3's pool/retry wrapping."""
    import urllib3.exceptions

    reason: BaseException = exc
    while isinstance(reason, urllib3.exceptions.MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    text = str(reason)
    # urllib3: "<HTTPSConnection(host=..., port=...)>: Failed to establish a new connection:
    # [Errno 111] Connection refused": keep what follows the object's repr
    if ">: " in text:
        text = text.split(">: ", 1)[1]
    return f"{type(reason).__name__}: {_line(text)}" if text else type(reason).__name__
