"""``rbac/secret-store.yaml`` applied on the real cluster (RBAC on): the secret store works as
its ServiceAccount, through a kubeconfig and through the in-cluster path; every rule is needed
(removing a verb makes its operation fail with a one-line Forbidden error naming the verb, the
resource and the namespace); an account with no Role can do nothing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_standin import RBAC, apply, manifests, service_account_kubeconfig

from kitaru.components.secret_store import SecretStore
from kitaru.errors import ConfigError, NotFound
from kitaru.testing import build_component

ACCOUNT = "kitaru-secret-store"
VERBS = ["get", "list", "create", "update", "delete"]


@pytest.fixture(scope="module")
def restricted(
    cluster: Any, kubeconfig: str, namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The kubeconfig of the ServiceAccount of ``rbac/secret-store.yaml``."""
    apply(cluster, manifests(RBAC / "secret-store.yaml", namespace))
    return service_account_kubeconfig(cluster, kubeconfig, namespace, ACCOUNT,
                                      tmp_path_factory.mktemp("sa") / "kubeconfig")  # fmt: skip


def as_account(path: Path, namespace: str) -> SecretStore:
    return build_component("secret_store", "kubernetes", kubeconfig=str(path),
                           namespace=namespace)  # fmt: skip


def test_the_yaml_grants_only_secrets_in_one_namespace() -> None:
    docs = [d for d in yaml.safe_load_all((RBAC / "secret-store.yaml").read_text()) if d]
    assert sorted(d["kind"] for d in docs) == ["Role", "RoleBinding", "ServiceAccount"]
    (role,) = [d for d in docs if d["kind"] == "Role"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": VERBS}]


def test_the_store_works_as_its_service_account(restricted: Path, namespace: str) -> None:
    secrets = as_account(restricted, namespace)
    name = f"rbac-{uuid.uuid4().hex[:6]}"
    secrets.verify()
    secrets.set(name, {"api_key": "a"})
    secrets.set(name, {"api_key": "b"})  # update
    assert secrets.get(name) == {"api_key": "b"}
    assert name in secrets.list()
    secrets.delete(name)
    with pytest.raises(NotFound):
        secrets.get(name)


def test_in_cluster_config_with_the_service_account(
    restricted: Path, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``in_cluster: true`` as a pod would run it: the token and CA files the kubelet mounts and
    the KUBERNETES_SERVICE_* variables (pointed at the host's API server: this cluster has no
    kube-proxy for the ``kubernetes`` Service)."""
    import base64

    from kubernetes.config import incluster_config

    config = yaml.safe_load(restricted.read_text())
    (tmp_path / "token").write_text(config["users"][0]["user"]["token"])
    ca = config["clusters"][0]["cluster"]["certificate-authority-data"]
    (tmp_path / "ca.crt").write_bytes(base64.b64decode(ca))
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(tmp_path / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(tmp_path / "ca.crt"))
    host, port = config["clusters"][0]["cluster"]["server"].removeprefix("https://").split(":")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
    secrets = build_component("secret_store", "kubernetes", in_cluster=True, namespace=namespace)
    name = f"incluster-{uuid.uuid4().hex[:6]}"
    secrets.set(name, {"k": "v"})
    assert secrets.get(name) == {"k": "v"}
    secrets.delete(name)
    assert secrets.describe()["source"] == "in-cluster service account"


@pytest.fixture
def without_verb(cluster: Any, namespace: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The Role minus one verb (restored afterwards)."""
    from kubernetes import client

    rbac = client.RbacAuthorizationV1Api(cluster)
    verb = request.param

    def rules(verbs: list[str]) -> dict[str, Any]:
        return {"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": verbs}]}

    rbac.patch_namespaced_role(ACCOUNT, namespace, rules([v for v in VERBS if v != verb]))
    yield verb
    rbac.patch_namespaced_role(ACCOUNT, namespace, rules(VERBS))


def eventually_forbidden(call: Callable[[], object]) -> ConfigError:
    """RBAC changes reach the API server's authorizer within moments: retry until they have."""
    deadline = time.monotonic() + 15
    while True:
        try:
            call()
        except ConfigError as exc:
            if "Forbidden" in str(exc) or time.monotonic() > deadline:
                return exc
        else:
            assert time.monotonic() < deadline, "still allowed 15 s after the rule was removed"
        time.sleep(0.2)


@pytest.mark.parametrize("without_verb", VERBS, indirect=True)
def test_each_rule_is_needed(restricted: Path, namespace: str, without_verb: str) -> None:
    verb = without_verb
    secrets = as_account(restricted, namespace)
    existing = f"kept-{uuid.uuid4().hex[:6]}"
    if verb != "create":
        secrets.set(existing, {"k": "v"})  # needs only `create`, which this Role still has
    operations: dict[str, Callable[[], object]] = {
        "get": lambda: secrets.get(existing),
        "list": secrets.list,
        "create": lambda: secrets.set(f"new-{uuid.uuid4().hex[:6]}", {"k": "v"}),
        "update": lambda: secrets.set(existing, {"k": "w"}),
        "delete": lambda: secrets.delete(existing),
    }
    error = eventually_forbidden(operations[verb])
    text = f"{error} {error.hint}"
    assert "\n" not in text
    assert f"Forbidden: cannot {verb} secrets" in str(error), text
    assert f"namespace {namespace!r}" in str(error), text
    assert f"this call: {verb}" in (error.hint or "")
    assert "rbac" in (error.hint or "")


def test_an_account_without_a_role_may_do_nothing(
    cluster: Any, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    from kubernetes import client

    account = f"nobody-{uuid.uuid4().hex[:6]}"
    client.CoreV1Api(cluster).create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=account))
    )
    path = service_account_kubeconfig(cluster, kubeconfig, namespace, account,
                                      tmp_path / "kubeconfig")  # fmt: skip
    secrets = as_account(path, namespace)
    with pytest.raises(ConfigError) as info:
        secrets.get("llm")
    message = str(info.value)
    assert "Forbidden: cannot get secrets/kitaru-llm" in message
    assert f"system:serviceaccount:{namespace}:{account}" in message
    with pytest.raises(ConfigError, match="Forbidden: cannot list secrets"):
        secrets.verify()
