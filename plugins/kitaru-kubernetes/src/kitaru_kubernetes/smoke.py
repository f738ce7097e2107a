"""kitaru-kubernetes's stand-in for ``kitaru smoke``: a local cluster, and only one that is
configured. Nothing is emulated here: the cluster runs the Jobs itself (no runner), keeps the
Secrets, and pulls the image the smoke run pushed (the registry comes from the container
builder's stand-in: ``scripts/standins/k8s.sh``'s cluster pulls from ``127.0.0.1:5001``).

What counts as local:

- the cluster of ``KITARU_SMOKE_KUBECONFIG`` (its current context), whatever its address: the
  CI job declares it local (a kind or k3d cluster, a cluster of a CI service);
- else the stack's ``kubeconfig``/``context`` (or ``$KUBECONFIG``, ``~/.kube/config``), when its
  API server's address is a loopback one (``127.0.0.0/8``, ``localhost``, ``::1``).

A production cluster, ``in_cluster: true``, no kubeconfig, or a local cluster that does not
answer: one line, "no local cluster configured for the kubernetes orchestrator", with a hint.

Rewritten: ``kubeconfig``/``context`` (to the local cluster) and, for the orchestrator,
``host_network: true`` and ``KUBERNETES_SERVICE_HOST``/``_PORT`` in its ``environment``: the
units reach the smoke run's server and the other stand-ins on 127.0.0.1, and the API server
where they are (the cluster's node must be this machine, as k8s.sh's is). Created when the
cluster lacks them: the stack's namespace, and the orchestrator's ``service_account`` with the
rules of ``rbac/job-pods.yaml`` (:data:`JOB_POD_RULES`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from kitaru.components.standins import ComponentUse, SmokeContext, StoodIn
from kitaru.errors import ConfigError, one_line

#: a kubeconfig the CI job declares local (its current context is used)
KUBECONFIG_ENV = "KITARU_SMOKE_KUBECONFIG"
_HINT = (f"start a local cluster (scripts/standins/k8s.sh, k3s, kind...) and point "
         f"KUBECONFIG or {KUBECONFIG_ENV} at its kubeconfig")  # fmt: skip
#: rbac/job-pods.yaml's Role rules, for a service account the local cluster lacks (a test
#: checks they are the file's)
JOB_POD_RULES = [
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "delete"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
]
_NAMES = {"orchestrator": "orchestrator", "secret_store": "secret store"}


def is_loopback(server: str) -> bool:
    """Whether an API server URL names this machine (127.0.0.0/8, ``localhost``, ``::1``)."""
    host = urlsplit(server).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_cluster(use: ComponentUse) -> tuple[dict[str, Any], str]:
    """The config keys that point ``use`` at the local cluster, and its API server's URL; a
    one-line ConfigError when no local cluster is configured (see the module doc)."""
    from kitaru_kubernetes.client import KubernetesClient
    from kitaru_kubernetes.config import KubernetesClusterConfig

    what = f"the kubernetes {_NAMES.get(use.type, use.type)}"
    explicit = os.environ.get(KUBECONFIG_ENV)
    if explicit:
        keys: dict[str, Any] = {"kubeconfig": explicit, "context": None, "in_cluster": False}
    elif use.config.get("in_cluster"):
        raise ConfigError(f"no local cluster configured for {what}: it uses in_cluster: true "
                          "(the pod's own cluster)", hint=_HINT)  # fmt: skip
    else:
        keys = {"kubeconfig": use.config.get("kubeconfig") or None,
                "context": use.config.get("context") or None}  # fmt: skip
    client = KubernetesClient(KubernetesClusterConfig(**keys), f"smoke ({what})")
    try:
        server = client.server
    except ConfigError as exc:  # no kubeconfig, no such context...
        raise ConfigError(f"no local cluster configured for {what}: {exc.message}",
                          hint=_HINT) from None  # fmt: skip
    if not explicit and not is_loopback(server):
        raise ConfigError(f"no local cluster configured for {what}: {client.source} points at "
                          f"{server}, not at this machine (127.0.0.1, localhost)",
                          hint=_HINT + " (a smoke run never uses a remote cluster)")  # fmt: skip
    try:
        from kubernetes import client as k8s

        k8s.VersionApi(client.api_client()).get_code(_request_timeout=(3, 10))
    except Exception as exc:
        raise ConfigError(f"no local cluster configured for {what}: the cluster at {server} "
                          f"({client.source}) does not answer: {one_line(exc, 200)}",
                          hint=_HINT) from None  # fmt: skip
    keys["kubeconfig"] = keys["kubeconfig"] or _kubeconfig_path()
    return keys, server


def _kubeconfig_path() -> str | None:
    """The kubeconfig the client loaded by default (``$KUBECONFIG``'s first file, else
    ``~/.kube/config``), written in the config so units started elsewhere find the same."""
    first = (os.environ.get("KUBECONFIG") or "").split(os.pathsep)[0]
    path = os.path.expanduser(first or "~/.kube/config")
    return path if os.path.isfile(path) else None


@contextlib.contextmanager
def local_kubernetes(ctx: SmokeContext, components: list[ComponentUse]) -> Iterator[StoodIn]:
    """The starter (``kitaru_kubernetes.smoke:local_kubernetes``): see the module doc."""
    from kitaru.stack.model import find_flavor, validate_component_config

    stood = StoodIn()
    for use in components:
        # a namespace Kubernetes would refuse: one line naming the component, before anything
        config: Any = validate_component_config(use.type, find_flavor(use.type, use.flavor),
                                                use.config, source=f"smoke stack {ctx.stack}")  # fmt: skip
        keys, server = local_cluster(use)
        created = _ensure(keys, config, use)
        where = f"namespace {config.namespace}" + (f" ({', '.join(created)} created)" if created else "")  # fmt: skip
        if use.type == "orchestrator":
            api = urlsplit(server)
            environment = {**config.environment, "KUBERNETES_SERVICE_HOST": api.hostname or "",
                           "KUBERNETES_SERVICE_PORT": str(api.port or 443)}  # fmt: skip
            keys |= {"host_network": True, "environment": environment}
            stood.notes[use.type] = (f"the local cluster at {server} runs the Jobs itself, {where}; "
                                     "pods on the node's network (127.0.0.1 is the smoke run's)")  # fmt: skip
            stood.limits.append("the kubernetes orchestrator's pods share the node's network: "
                                "the local cluster's node must be this machine")  # fmt: skip
            stood.limits.extend(_unschedulable(config))
        else:
            stood.notes[use.type] = f"Secrets of the local cluster at {server}, {where}"
        stood.config[use.type] = keys
        ctx.say(f"{use.type} (kubernetes): the local cluster at {server}")
    yield stood


def _ensure(keys: dict[str, Any], config: Any, use: ComponentUse) -> list[str]:
    """Create the namespace (and the orchestrator's service account with rbac/job-pods.yaml's
    rules) when the local cluster lacks them; what was created."""
    from kubernetes import client as k8s

    from kitaru_kubernetes.client import KubernetesClient
    from kitaru_kubernetes.config import KubernetesClusterConfig

    ns = config.namespace
    kube = KubernetesClient(KubernetesClusterConfig(**{**keys, "namespace": ns}),
                            f"{use.type} (kubernetes)")  # fmt: skip
    core, rbac = kube.core(), k8s.RbacAuthorizationV1Api(kube.api_client())
    created: list[str] = []

    def make(kind: str, name: str, read: Any, create: Any) -> None:
        try:
            read()
            return
        except Exception as exc:
            if getattr(exc, "status", None) != 404:
                raise kube.error(exc, verb="get", resource=kind, name=name) from None
        try:
            create()
        except Exception as exc:
            if getattr(exc, "status", None) != 409:  # another run created it meanwhile
                raise kube.error(exc, verb="create", resource=kind, name=name) from None
        created.append(f"{kind.rstrip('s')} {name}")

    meta = {"name": ns, "labels": {"app.kubernetes.io/managed-by": "kitaru"}}
    make("namespaces", ns, lambda: core.read_namespace(ns),
         lambda: core.create_namespace({"metadata": meta}))  # fmt: skip
    account = getattr(config, "service_account", None)
    if use.type == "orchestrator" and account:
        meta = {"name": account, "namespace": ns, "labels": meta["labels"]}
        make("serviceaccounts", account,
             lambda: core.read_namespaced_service_account(account, ns),
             lambda: _account(core, rbac, ns, meta))  # fmt: skip
    return created


def _account(core: Any, rbac: Any, ns: str, meta: dict[str, Any]) -> None:
    name = meta["name"]
    core.create_namespaced_service_account(ns, {"metadata": meta})
    rbac.create_namespaced_role(ns, {"metadata": meta, "rules": JOB_POD_RULES})
    rbac.create_namespaced_role_binding(ns, {
        "metadata": meta, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                      "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}]})  # fmt: skip


def _unschedulable(config: Any) -> list[str]:
    """What the stack asks of its nodes that a local node may not have: listed, kept."""
    asks = []
    if config.node_selector:
        asks.append(f"node_selector {config.node_selector}")
    if config.tolerations:
        asks.append(f"{len(config.tolerations)} toleration(s)")
    extended = {k: v for part in config.resources.values() for k, v in part.items()
                if k not in ("cpu", "memory", "ephemeral-storage")}  # fmt: skip
    if extended:
        asks.append(f"resources {extended}")
    return [f"the kubernetes orchestrator asks for {', '.join(asks)}: kept as they are, a local "
            "node without them leaves the pods Pending"] if asks else []  # fmt: skip
