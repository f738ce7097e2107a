"""The Job of one unit, as the ``kubernetes`` orchestrator hands it to the API, without a
cluster: every pod setting of the config lands where batch/v1 reads it (checked through the
``kubernetes`` client's own ``V1Job`` model, which drops a misspelt key), secret references
become ``secretKeyRef``s with no value anywhere, and a unit of a traced execution joins its
trace (``TRACEPARENT``). The on-cluster tests (test_k8s_orchestrator.py) read real Jobs back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kitaru.components.job_orchestrator import SECRET_ENV, SECRET_STORE_ENV
from kitaru.store.records import Execution
from kitaru.testing import build_component
from kitaru.tracecontext import METADATA_KEY, TRACEPARENT_ENV

NAMESPACE = "kitaru"
IMAGE = "registry.example.com/kitaru/flow:1"
#: every pod setting, none at its default
SETTINGS: dict[str, Any] = {
    "image_pull_secrets": ["regcred", "mirror-creds"],
    "image_pull_policy": "Always",
    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                  "limits": {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "1"}},
    "node_selector": {"kubernetes.io/arch": "amd64", "pool": "agents"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "agents",
                     "effect": "NoSchedule"},
                    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute",
                     "tolerationSeconds": 30}],
    "annotations": {"team": "agents", "cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
    "labels": {"app": "kitaru"},
    "service_account": "kitaru-job",
    "host_network": True,
    "ttl_seconds_after_finished": 600,
    "active_deadline_seconds": 7200,
}  # fmt: skip
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def orchestrator(secrets: Any = None, **config: Any) -> Any:
    return build_component("orchestrator", "kubernetes", name="k8s-manifest", secrets=secrets,
                           namespace=NAMESPACE, image=IMAGE, server_url="https://kitaru.example",
                           api_key="{{secret:kitaru-server.api_key}}", **config)  # fmt: skip


def execution(**fields: Any) -> Execution:
    return Execution(pk=1, id="exec-1", flow="tiny", status="pending", module="m",
                     qualname="tiny", source_file=None, root=None, inputs={}, created_at=0.0,
                     **fields)  # fmt: skip


def as_job(manifest: dict[str, Any]) -> Any:
    """The manifest read as the API reads it: the client's ``V1Job`` (unknown keys dropped)."""
    from kubernetes.client import ApiClient

    return ApiClient().deserialize(json.dumps(manifest), "V1Job", None)


@pytest.fixture(autouse=True)
def kubernetes_secret_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """The units' secret store, as a stack gives it: ``kubernetes`` in the Jobs' namespace."""
    store = {"flavor": "kubernetes", "config": {"namespace": NAMESPACE}}
    monkeypatch.setenv(SECRET_STORE_ENV, json.dumps(store))
    monkeypatch.delenv(TRACEPARENT_ENV, raising=False)


def test_every_pod_setting_lands_where_kubernetes_reads_it() -> None:
    from kubernetes.client import ApiClient

    k8s = orchestrator(**SETTINGS)
    manifest = k8s.job_manifest(k8s.unit_spec(execution(), "run"))
    # no key the API would drop: the V1Job model reads every one of them back
    assert ApiClient().sanitize_for_serialization(as_job(manifest)) == manifest
    job = as_job(manifest)
    assert (job.api_version, job.kind) == ("batch/v1", "Job")
    assert job.metadata.namespace == NAMESPACE
    assert (job.spec.backoff_limit, job.spec.active_deadline_seconds) == (0, 7200)
    assert job.spec.ttl_seconds_after_finished == 600
    pod = job.spec.template.spec
    assert [s.name for s in pod.image_pull_secrets] == ["regcred", "mirror-creds"]
    assert pod.node_selector == {"kubernetes.io/arch": "amd64", "pool": "agents"}
    assert [(t.key, t.operator, t.value, t.effect, t.toleration_seconds)
            for t in pod.tolerations] == [("dedicated", "Equal", "agents", "NoSchedule", None),
                                          ("nvidia.com/gpu", "Exists", None, "NoExecute", 30)]  # fmt: skip
    assert (pod.service_account_name, pod.host_network) == ("kitaru-job", True)
    assert pod.restart_policy == "Never"
    (container,) = pod.containers
    assert (container.image, container.image_pull_policy) == (IMAGE, "Always")
    assert container.resources.requests == {"cpu": "500m", "memory": "1Gi"}
    assert container.resources.limits == {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "1"}
    assert container.command == ["python", "-m", "kitaru.entrypoint"]
    assert container.args == ["run", "exec-1"]
    for meta in (job.metadata, job.spec.template.metadata):  # the Job and its pods
        assert meta.annotations == SETTINGS["annotations"]
        assert meta.labels == {"app": "kitaru", "kitaru-execution": "exec-1",
                               "kitaru-role": "run", "kitaru-orchestrator": "k8s-manifest"}  # fmt: skip


def test_unset_settings_leave_kubernetes_its_defaults() -> None:
    k8s = orchestrator(ttl_seconds_after_finished=None)
    manifest = k8s.job_manifest(k8s.unit_spec(execution(), "run"))
    pod = manifest["spec"]["template"]["spec"]
    assert "serviceAccountName" not in pod  # the namespace's default account
    assert "imagePullPolicy" not in pod["containers"][0]  # IfNotPresent, Always for :latest
    assert "ttlSecondsAfterFinished" not in manifest["spec"]  # kept
    assert (pod["imagePullSecrets"], pod["nodeSelector"], pod["tolerations"]) == ([], {}, [])
    assert pod["containers"][0]["resources"] == {}
    job = as_job(manifest).spec.template.spec
    assert (job.node_selector, job.tolerations, job.image_pull_secrets) == ({}, [], [])


def test_secret_references_become_secret_key_refs_with_no_value_in_the_job() -> None:
    """The config's secret environment, the image's (recorded on the execution) and the API
    key each become a ``secretKeyRef``; the orchestrator could resolve them all (a resolver is
    given) but no value reaches the spec, nor the references' plumbing variables."""
    values = {"{{secret:s3.access_key_id}}": "AKIA-ACCESS-VALUE",
              "{{secret:s3.secret_access_key}}": "SECRET-ACCESS-VALUE",
              "{{secret:llm.openai}}": "sk-openai-value",
              "{{secret:kitaru-server.api_key}}": "kit_api_key_value"}  # fmt: skip
    k8s = orchestrator(secrets=values.__getitem__, secret_environment={
        "AWS_ACCESS_KEY_ID": "{{secret:s3.access_key_id}}",
        "AWS_SECRET_ACCESS_KEY": "{{secret:s3.secret_access_key}}"})  # fmt: skip
    image_secrets = {"OPENAI_API_KEY": "{{secret:llm.openai}}"}
    manifest = k8s.job_manifest(k8s.unit_spec(
        execution(options={"secret_environment": image_secrets}), "run"))  # fmt: skip
    (container,) = as_job(manifest).spec.template.spec.containers
    env = {e.name: e for e in container.env}
    refs = {name: (e.value_from.secret_key_ref.name, e.value_from.secret_key_ref.key)
            for name, e in env.items() if e.value_from is not None}  # fmt: skip
    assert refs == {"AWS_ACCESS_KEY_ID": ("kitaru-s3", "access_key_id"),
                    "AWS_SECRET_ACCESS_KEY": ("kitaru-s3", "secret_access_key"),
                    "OPENAI_API_KEY": ("kitaru-llm", "openai"),
                    "KITARU_API_KEY": ("kitaru-kitaru-server", "api_key")}  # fmt: skip
    assert all(env[name].value is None for name in refs)
    assert SECRET_ENV not in env and SECRET_STORE_ENV not in env
    text = json.dumps(manifest)
    for value in values.values():
        assert value not in text


def test_another_namespaces_store_leaves_references_to_the_pod(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ``kubernetes`` store of another namespace: a secretKeyRef cannot reach it, so the pod
    resolves the references itself (still no value in the spec)."""
    store = {"flavor": "kubernetes", "config": {"namespace": "elsewhere"}}
    monkeypatch.setenv(SECRET_STORE_ENV, json.dumps(store))
    k8s = orchestrator(secret_environment={"AWS_ACCESS_KEY_ID": "{{secret:s3.access_key_id}}"})
    manifest = k8s.job_manifest(k8s.unit_spec(execution(), "run"))
    env = {e["name"]: e for e in manifest["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert not any("valueFrom" in e for e in env.values())
    assert json.loads(env[SECRET_ENV]["value"]) == {
        "AWS_ACCESS_KEY_ID": "{{secret:s3.access_key_id}}",
        "KITARU_API_KEY": "{{secret:kitaru-server.api_key}}"}  # fmt: skip
    assert json.loads(env[SECRET_STORE_ENV]["value"]) == store


def test_a_unit_of_a_traced_execution_joins_its_trace() -> None:
    """A unit driving the execution carries the trace the execution recorded; an isolated
    checkpoint's unit, started inside its checkpoint's span, carries that span."""
    from opentelemetry.sdk.trace import TracerProvider

    k8s = orchestrator()
    traced = execution(metadata={METADATA_KEY: TRACE})

    def env_of(role: str, *extra: str) -> dict[str, str]:
        manifest = k8s.job_manifest(k8s.unit_spec(traced, role, *extra))
        (container,) = as_job(manifest).spec.template.spec.containers
        return {e.name: e.value for e in container.env}

    assert env_of("resume")[TRACEPARENT_ENV] == TRACE
    assert TRACEPARENT_ENV not in {e["name"] for e in k8s.job_manifest(k8s.unit_spec(
        execution(), "run"))["spec"]["template"]["spec"]["containers"][0]["env"]}  # fmt: skip
    tracer = TracerProvider().get_tracer("test")  # not the global provider
    with tracer.start_as_current_span("checkpoint slow") as span:
        inner = span.get_span_context()
        parent = env_of("checkpoint", "slow", "-")[TRACEPARENT_ENV]
    assert parent.split("-")[1:3] == [f"{inner.trace_id:032x}", f"{inner.span_id:016x}"]
