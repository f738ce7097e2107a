"""rbac/orchestrator.yaml and rbac/job-pods.yaml on the real cluster (RBAC on): the contract
(test_k8s_orchestrator.py) already runs under them — the client as ``kitaru-orchestrator``, the
pods as ``kitaru-job``. Here each rule is removed in turn: the operation that needs it fails with
a one-line Forbidden error naming the verb, the resource and the namespace.

Fakes: none (S3 is moto)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from k8s_e2e import IN_CLUSTER_API
from k8s_standin import RBAC, run_pod

from kitaru.errors import ConfigError, ExecutionFailed
from kitaru.testing import run_on

if TYPE_CHECKING:
    from conftest import Cluster

FILES = {"kitaru-orchestrator": "orchestrator.yaml", "kitaru-job": "job-pods.yaml"}
#: (resource, verb) of each rule of the two Roles
CLIENT = [("jobs", "create"), ("jobs", "get"), ("jobs", "list"), ("jobs", "delete"),
          ("pods", "list"), ("pods/log", "get")]  # fmt: skip
PODS = [("jobs", "create"), ("jobs", "get"), ("jobs", "delete"), ("pods", "list")]


def rules_of(path: str) -> list[dict[str, Any]]:
    (role,) = [
        d for d in yaml.safe_load_all((RBAC / path).read_text()) if d and d["kind"] == "Role"
    ]
    return list(role["rules"])


def without(rules: list[dict[str, Any]], resource: str, verb: str) -> list[dict[str, Any]]:
    out = []
    for rule in rules:
        verbs = [v for v in rule["verbs"] if not (resource in rule["resources"] and v == verb)]
        if verbs:
            out.append({**rule, "verbs": verbs})
    return out


@pytest.fixture
def role_without(cluster: Any, e2e: Cluster) -> Iterator[Callable[[str, str, str], None]]:
    """Patch a Role of the module's namespace to lack one rule; restored afterwards."""
    from kubernetes import client

    rbac = client.RbacAuthorizationV1Api(cluster)
    patched: list[str] = []

    def remove(role: str, resource: str, verb: str) -> None:
        rules = without(rules_of(FILES[role]), resource, verb)
        rbac.patch_namespaced_role(role, e2e.namespace, {"rules": rules})
        patched.append(role)

    yield remove
    for role in patched:
        full = rules_of(FILES[role])
        rbac.patch_namespaced_role(role, e2e.namespace, {"rules": full})


def test_the_roles_grant_what_the_files_say() -> None:
    assert rules_of("orchestrator.yaml") == [
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list", "delete"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    ]  # fmt: skip
    assert [(r["resources"], r["verbs"]) for r in rules_of("job-pods.yaml")] == [
        (["secrets"], ["get"]), (["jobs"], ["create", "get", "delete"]), (["pods"], ["list"])]  # fmt: skip


def forbidden(call: Callable[[], object]) -> str:
    """The one-line error of ``call`` once the removed rule took effect (moments)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            call()
        except (ConfigError, ExecutionFailed) as exc:
            text = f"{exc} {getattr(exc, 'hint', '') or ''}"
            if "Forbidden" in text or time.monotonic() > deadline:
                return text
        else:
            assert time.monotonic() < deadline, "still allowed 15 s after the rule was removed"
        time.sleep(0.3)


@pytest.mark.parametrize(("resource", "verb"), CLIENT, ids=lambda v: str(v))
def test_each_client_rule_is_needed(
    connected: Cluster, role_without: Callable[[str, str, str], None], resource: str, verb: str
) -> None:
    from kitaru.runtime.stacks import stack_of
    from kitaru.store import default_store
    from kitaru.testing.flows import tiny

    orchestrator = stack_of(connected.stack).orchestrator
    handle = run_on(orchestrator, tiny, {"x": 1})  # a Job to read, with every rule
    handle.wait(timeout=120)
    (unit,) = default_store().get_execution(handle.id).metadata["units"]
    name = unit["name"]
    role_without("kitaru-orchestrator", resource, verb)
    operations: dict[tuple[str, str], Callable[[], object]] = {
        ("jobs", "create"): lambda: run_on(orchestrator, tiny, {"x": 2}),
        ("jobs", "get"): lambda: orchestrator.unit_state(name),
        ("jobs", "list"): orchestrator.verify,
        ("jobs", "delete"): lambda: orchestrator.stop_unit(name),
        ("pods", "list"): lambda: orchestrator.unit_logs(name),
        ("pods/log", "get"): lambda: orchestrator.unit_logs(name),
    }
    text = forbidden(operations[(resource, verb)])
    assert "\n" not in text
    assert f"Forbidden: cannot {verb} {resource}" in text, text
    assert f"namespace {connected.namespace!r}" in text and "rbac" in text, text


@pytest.mark.parametrize(("resource", "verb"), PODS, ids=lambda v: str(v))
def test_each_job_pod_rule_is_needed(
    connected: Cluster, role_without: Callable[[str, str, str], None], resource: str, verb: str
) -> None:
    """An isolated checkpoint started from inside a pod (its Job created, read, its pod listed,
    deleted once its reply is read) fails with the pod's Forbidden line."""
    from kitaru.runtime.stacks import stack_of
    from kitaru.testing.flows import apart

    role_without("kitaru-job", resource, verb)
    orchestrator = stack_of(connected.stack).orchestrator
    text = forbidden(lambda: run_on(orchestrator, apart, {"x": 1}).wait(timeout=120))
    assert f"Forbidden: cannot {verb} {resource}" in text, text
    assert f"system:serviceaccount:{connected.namespace}:kitaru-job" in text, text


def test_job_pods_read_secrets_only_with_their_rule(
    connected: Cluster, cluster: Any, role_without: Callable[[str, str, str], None]
) -> None:
    """What a unit does with a reference the kubelet does not resolve (a flow's LLM key through
    the stack's ``kubernetes`` secret store): read the Secret with its own account."""
    from kitaru.runtime.stacks import stack_of

    stack_of(connected.stack).secret_store.set("svc", {"token": "s3cr3t-value"})
    code = ("import os; from kitaru.stack.unit_secrets import export_secret_environment as e\n"
            "try:\n  e(); print('resolved', len(os.environ['TOKEN']))\n"
            "except Exception as exc: print(exc)")  # fmt: skip
    env = {**IN_CLUSTER_API, "KITARU_KUBERNETES_IN_CLUSTER": "1",
           "KITARU_SECRET_ENV": json.dumps({"TOKEN": "{{secret:svc.token}}"}),
           "KITARU_SECRET_STORE": json.dumps({"flavor": "kubernetes",
                                              "config": {"namespace": connected.namespace}})}  # fmt: skip
    spec = {"serviceAccountName": "kitaru-job", "hostNetwork": True, "containers": [{
        "name": "unit", "image": connected.image.tag, "command": ["python", "-c", code],
        "env": [{"name": k, "value": v} for k, v in env.items()]}]}  # fmt: skip
    phase, logs = run_pod(cluster, connected.namespace, spec)
    assert (phase, logs.strip()) == ("Succeeded", "resolved 12"), logs
    role_without("kitaru-job", "secrets", "get")
    time.sleep(2)  # the authorizer's cache
    phase, logs = run_pod(cluster, connected.namespace, spec)
    line = logs.strip()
    assert "\n" not in line and "Forbidden: cannot get secrets/kitaru-svc" in line, logs
