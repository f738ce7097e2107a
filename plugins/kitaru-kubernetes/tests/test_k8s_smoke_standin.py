"""kitaru-kubernetes's stand-in of ``kitaru smoke`` (``kitaru_kubernetes.smoke``): a local
cluster, only one that is configured. Found through the plugin's ``kitaru_standins`` hook and
started with a :class:`SmokeContext`, it refuses in one line a remote cluster (nothing
contacted), ``in_cluster``, a missing kubeconfig, a local address where nothing answers and a
namespace Kubernetes would refuse; ``KITARU_SMOKE_KUBECONFIG`` declares a cluster local. On the
real cluster of ``scripts/standins/k8s.sh`` (the session's ``kubeconfig`` fixture: skipped
where it cannot run) it points both flavors at it, creates the stack's namespace and service
account (rbac/job-pods.yaml's rules), needs no runner, and the secret store works there."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from kitaru.components.standins import ComponentUse, SmokeContext, StoodIn
from kitaru.errors import ConfigError
from kitaru.testing import build_component
from kitaru.testing.services import free_port

if TYPE_CHECKING:
    from tests.server.conftest import Server

RBAC = Path(__file__).resolve().parents[1] / "rbac"
TEMPLATE = Path(__file__).resolve().parents[3] / "stacks" / "kubernetes.yaml"


def components(**cluster: Any) -> list[ComponentUse]:
    """stacks' kubernetes template as a CI resolves it, on the cluster ``cluster`` names."""
    return [
        ComponentUse("orchestrator", "kubernetes", {
            "namespace": "kitaru", "image": "", "server_url": "https://kitaru.acme.example",
            "service_account": "kitaru-job", "host_network": False,
            "api_key": "{{secret:kitaru-server.api_key}}",
            "environment": {"AWS_REGION": "eu-west-1"},
            "resources": {"limits": {"nvidia.com/gpu": "1"}}, **cluster}),
        ComponentUse("secret_store", "kubernetes", {"namespace": "kitaru", **cluster}),
    ]  # fmt: skip


def starter() -> Any:
    from kitaru.plugins.manager import plugin_manager

    found = {plugin_manager().standin_for(u.type, u.flavor) for u in components()}
    (standin,) = found
    assert standin is not None and standin.provider == "kitaru-kubernetes"
    return standin.load()


def kubeconfig_for(path: Path, server: str) -> str:
    """A kubeconfig with one context, ``ci``, on ``server`` (a token user)."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "ci",
        "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "ci", "context": {"cluster": "c", "user": "u"}}]}))  # fmt: skip
    return str(path)


def context(tmp_path: Path, server_url: str = "http://127.0.0.1:9") -> SmokeContext:
    return SmokeContext(stack="k8s", workdir=tmp_path / "smoke", server_url=server_url,
                        docker_host=None, registry="127.0.0.1:5001")  # fmt: skip


def refusal(tmp_path: Path, uses: list[ComponentUse]) -> str:
    with pytest.raises(ConfigError) as caught, starter()(context(tmp_path), uses):
        pass
    assert "\n" not in caught.value.message
    return caught.value.message


@pytest.fixture(autouse=True)
def no_declared_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KITARU_SMOKE_KUBECONFIG", raising=False)


@pytest.mark.parametrize(
    ("server", "local"),
    [("https://127.0.0.1:6443", True), ("https://127.0.1.1:6443", True),
     ("https://localhost:6443", True), ("https://[::1]:6443", True),
     ("https://10.0.0.5:6443", False), ("https://k8s.acme.example", False),
     ("https://0.0.0.0:6443", False)],
)  # fmt: skip
def test_local_means_a_loopback_api_server(server: str, local: bool) -> None:
    from kitaru_kubernetes.smoke import is_loopback

    assert is_loopback(server) is local


def test_a_remote_cluster_is_refused_in_one_line_without_being_contacted(tmp_path: Path) -> None:
    remote = kubeconfig_for(tmp_path / "prod.kc", "https://k8s.acme.example:6443")
    message = refusal(tmp_path, components(kubeconfig=remote))
    assert message.startswith("no local cluster configured for the kubernetes orchestrator: ")
    assert "https://k8s.acme.example:6443, not at this machine" in message


def test_no_kubeconfig_and_in_cluster_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing.kc"))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config either
    message = refusal(tmp_path, components())
    assert message.startswith("no local cluster configured for the kubernetes orchestrator: ")
    message = refusal(tmp_path, [components(in_cluster=True)[1]])
    assert message == ("no local cluster configured for the kubernetes secret store: it uses "
                       "in_cluster: true (the pod's own cluster)")  # fmt: skip


def test_a_local_address_where_nothing_answers_is_refused(tmp_path: Path) -> None:
    down = kubeconfig_for(tmp_path / "down.kc", f"https://127.0.0.1:{free_port()}")
    message = refusal(tmp_path, components(kubeconfig=down))
    assert "the cluster at https://127.0.0.1:" in message and "does not answer" in message


def test_kitaru_smoke_kubeconfig_declares_a_cluster_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any address counts then (here one that does not resolve: refused for not answering, not
    for being remote); the stack's own kubeconfig is not used."""
    declared = kubeconfig_for(tmp_path / "ci.kc", "https://k8s.ci.invalid:6443")
    monkeypatch.setenv("KITARU_SMOKE_KUBECONFIG", declared)
    remote = kubeconfig_for(tmp_path / "prod.kc", "https://k8s.acme.example:6443")
    message = refusal(tmp_path, components(kubeconfig=remote))
    assert "the cluster at https://k8s.ci.invalid:6443" in message and "does not answer" in message


def test_a_namespace_kubernetes_would_refuse_is_one_line_naming_the_component(
    tmp_path: Path,
) -> None:
    uses = components(namespace="Kitaru_Prod")
    message = refusal(tmp_path, uses)
    assert message.startswith("smoke stack k8s: orchestrator (flavor 'kubernetes'): config key "
                              "'namespace': String should match pattern")  # fmt: skip


def test_the_service_account_rules_are_rbac_job_pods_yaml_s() -> None:
    from kitaru_kubernetes.smoke import JOB_POD_RULES

    (role,) = [d for d in yaml.safe_load_all((RBAC / "job-pods.yaml").read_text())
               if d and d["kind"] == "Role"]  # fmt: skip
    assert role["rules"] == JOB_POD_RULES


def test_the_templates_empty_endpoint_does_not_hide_the_standins_from_the_pods(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """stacks/kubernetes.yaml gives the pods ``AWS_ENDPOINT_URL: ${AWS_ENDPOINT_URL:-}``: empty
    in a CI job, so unset; the smoke run's rewrite gives them moto's (the S3 stand-in's)."""
    from kitaru.smoke.run import _rewrite
    from kitaru.stack.loader import load_stack_file

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in {"KITARU_K8S_REGISTRY": "registry.example.com/kitaru",
                       "AWS_REGION": "eu-west-1", "KITARU_S3_PATH": "s3://b/k"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    spec = load_stack_file(TEMPLATE)
    assert spec.components["orchestrator"].config["environment"]["AWS_ENDPOINT_URL"] == ""
    moto = StoodIn(environment={"AWS_ENDPOINT_URL": "http://127.0.0.1:5555", "AWS_REGION": "us-east-1"})  # fmt: skip
    rewritten = _rewrite(spec, [moto], "http://127.0.0.1:1", None, Path("/tmp"))
    environment = rewritten.components["orchestrator"].config["environment"]
    assert environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5555"
    assert environment["AWS_REGION"] == "eu-west-1"  # the stack's own value wins
    assert "KUBERNETES_SERVICE_HOST" not in environment


# -- the repo's local cluster ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from tests.job_standins import kitaru_server

    with kitaru_server(tmp_path_factory.mktemp("smoke-server") / "home") as srv:
        yield srv


def test_the_local_cluster_stands_in_creating_the_namespace_and_service_account(
    kubeconfig: str, cluster: Any, server: Server, tmp_path: Path,
) -> None:  # fmt: skip
    from kitaru_kubernetes.smoke import JOB_POD_RULES
    from kubernetes import client

    namespace = f"kitaru-smoke-{uuid.uuid4().hex[:8]}"
    uses = components(kubeconfig=kubeconfig, context="", namespace=namespace)
    try:
        with starter()(context(tmp_path, server.url), uses) as stood:
            assert stood.runner is None  # the cluster runs the Jobs itself
            orchestrator = stood.config["orchestrator"]
            assert set(orchestrator) == {"kubeconfig", "context", "host_network", "environment"}
            assert orchestrator["kubeconfig"] == kubeconfig and orchestrator["host_network"]
            assert orchestrator["environment"] == {
                "AWS_REGION": "eu-west-1", "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                "KUBERNETES_SERVICE_PORT": "6443"}  # fmt: skip
            assert set(stood.config["secret_store"]) == {"kubeconfig", "context"}
            assert "namespace " + namespace + " (namespace " in stood.notes["orchestrator"]
            assert "serviceaccount kitaru-job created" in stood.notes["orchestrator"]
            assert any("nvidia.com/gpu" in line for line in stood.limits)
            # the secret store, as the smoke run then uses it: on the local cluster
            secrets = build_component("secret_store", "kubernetes",
                                      **{**uses[1].config, **stood.config["secret_store"]})  # fmt: skip
            secrets.set("kitaru-server", {"api_key": server.admin_key})
            assert secrets.resolve("{{secret:kitaru-server.api_key}}") == server.admin_key
        role = client.RbacAuthorizationV1Api(cluster).read_namespaced_role("kitaru-job", namespace)
        assert [(r.api_groups, r.resources, r.verbs) for r in role.rules] == [
            (r["apiGroups"], r["resources"], r["verbs"]) for r in JOB_POD_RULES
        ]
        with starter()(context(tmp_path, server.url), uses) as again:  # nothing to create now
            assert "created" not in again.notes["orchestrator"]
    finally:
        client.CoreV1Api(cluster).delete_namespace(namespace)
