"""The ``kubernetes`` orchestrator on the real cluster: the orchestrator contract (run, failure,
logs, resume after input, an isolated checkpoint as a Job of its own started from inside a pod,
crash recovery, retry, cancel, every entry point reaching launch), with a real Kitaru server on
the host, under the accounts of rbac/ (the client as ``kitaru-orchestrator``, the pods as
``kitaru-job``); and what the contract does not look at: the Job's spec (deadline, backoff,
labels, the pod settings, secretKeyRef and no secret value) read back, the kubeconfig context
chosen, a pod that cannot start failing its execution at once with one line (as the client and
``kitaru executions show`` tell it), cancel deleting the Job and its pod, the pod's log.
test_k8s_job_manifest.py checks the manifest itself without a cluster.

Fakes: none on the Kubernetes side. S3 is moto (see k8s_e2e.py)."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from kitaru.components.orchestrator import Orchestrator
from kitaru.testing import OrchestratorContract, run_on

if TYPE_CHECKING:
    from conftest import Cluster


def orchestrator_of(stack: str) -> Any:
    from kitaru.runtime.stacks import stack_of

    return stack_of(stack).orchestrator


class TestKubernetesOrchestratorContract(OrchestratorContract):
    execution_timeout = 120.0

    @pytest.fixture
    def orchestrator(self, connected: Cluster) -> Orchestrator:
        return orchestrator_of(connected.stack)  # type: ignore[no-any-return]


def job_of(cluster: Any, namespace: str, name: str) -> Any:
    from kubernetes import client

    return client.BatchV1Api(cluster).read_namespaced_job(name, namespace)


def two_contexts(kubeconfig: Path, context: str, path: Path) -> Path:
    """``kubeconfig`` with a second context, current, whose API server is not there: only a
    client that selects ``context`` reaches the cluster."""
    from kitaru.testing.services import free_port

    config = yaml.safe_load(kubeconfig.read_text())
    nowhere = {"server": f"https://127.0.0.1:{free_port()}", "insecure-skip-tls-verify": True}
    user = config["contexts"][0]["context"]["user"]
    config["clusters"].append({"name": "nowhere", "cluster": nowhere})
    config["contexts"].append(
        {"name": "elsewhere", "context": {"cluster": "nowhere", "user": user}}
    )
    assert context in [c["name"] for c in config["contexts"]]
    config["current-context"] = "elsewhere"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_unit_is_a_job_with_its_settings_and_no_secret_value(
    connected: Cluster, cluster: Any, tmp_path: Path
) -> None:
    """The stack's orchestrator with every pod setting set (and a context that is not the
    kubeconfig's current one): the Job read back has them where Kubernetes reads them, and its
    pod ran with them (scheduled by the node selector onto the node)."""
    from kubernetes import client

    from kitaru.store import default_store
    from kitaru.testing import build_component
    from kitaru.testing.flows import tiny

    core = client.CoreV1Api(cluster)
    (node,) = core.list_node().items
    host = node.metadata.labels["kubernetes.io/hostname"]
    pull = "kitaru-spec-pull"  # an empty dockerconfigjson: the local registry needs none
    core.create_namespaced_secret(connected.namespace, {
        "metadata": {"name": pull}, "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(b'{"auths": {}}').decode()}})  # fmt: skip
    settings: dict[str, Any] = {
        "image_pull_secrets": [pull], "image_pull_policy": "IfNotPresent",
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "1Gi"}},
        "node_selector": {"kubernetes.io/hostname": host},
        "tolerations": [{"key": "kitaru-test", "operator": "Exists", "effect": "NoSchedule"}],
        "annotations": {"kitaru-test/run": connected.run_id},
        "kubeconfig": str(two_contexts(connected.orchestrator_kubeconfig, "kitaru-orchestrator",
                                       tmp_path / "two-contexts.kc")),
        "context": "kitaru-orchestrator",
    }  # fmt: skip
    real = orchestrator_of(connected.stack)
    orchestrator = build_component("orchestrator", "kubernetes", name=real.name,
                                   secrets=real._secrets,
                                   **{**real.config.model_dump(), **settings})  # fmt: skip
    handle = run_on(orchestrator, tiny, {"x": 3})
    assert handle.wait(timeout=120) == 7
    (unit,) = default_store().get_execution(handle.id).metadata["units"]
    job = job_of(cluster, connected.namespace, unit["name"])
    assert job.spec.backoff_limit == 0
    assert job.spec.active_deadline_seconds == 24 * 3600
    assert job.spec.ttl_seconds_after_finished in (600, None)  # 1.20: alpha, dropped if off
    assert job.metadata.labels["kitaru-execution"] == handle.id
    assert job.metadata.labels["kitaru-test"] == connected.run_id
    pod = job.spec.template.spec
    assert pod.service_account_name == "kitaru-job" and pod.host_network
    assert [s.name for s in pod.image_pull_secrets] == [pull]
    assert pod.node_selector == {"kubernetes.io/hostname": host}
    assert [(t.key, t.operator, t.effect) for t in pod.tolerations
            if t.key == "kitaru-test"] == [("kitaru-test", "Exists", "NoSchedule")]  # fmt: skip
    for meta in (job.metadata, job.spec.template.metadata):
        assert meta.annotations["kitaru-test/run"] == connected.run_id
    (container,) = pod.containers
    assert container.image_pull_policy == "IfNotPresent"
    assert container.resources.requests == {"cpu": "10m", "memory": "32Mi"}
    assert container.resources.limits == {"memory": "1Gi"}
    assert container.command == ["python", "-m", "kitaru.entrypoint"]
    assert container.args == ["run", handle.id]
    env = {e.name: e for e in container.env}
    ref = env["KITARU_API_KEY"].value_from.secret_key_ref
    assert (ref.name, ref.key) == ("kitaru-kitaru-server", "api_key")
    assert "KITARU_SECRET_ENV" not in env
    assert connected.server.admin_key not in str(job.to_dict())
    (ran,) = core.list_namespaced_pod(connected.namespace,
                                      label_selector=f"job-name={unit['name']}").items  # fmt: skip
    assert ran.spec.node_name == node.metadata.name
    assert ran.metadata.annotations["kitaru-test/run"] == connected.run_id


def test_a_missing_image_fails_the_execution_at_once_naming_it(connected: Cluster) -> None:
    """ErrImagePull: failed (crashed, with the backend's one-line reason) in seconds, not after
    the Job's deadline."""
    from kitaru.client import KitaruClient
    from kitaru.testing import build_component
    from kitaru.testing.flows import tiny

    real = orchestrator_of(connected.stack)
    missing = "127.0.0.1:5001/kitaru/no-such-image:1"
    broken = build_component("orchestrator", "kubernetes", name="k8s-missing-image",
                             secrets=real._secrets,
                             **{**real.config.model_dump(), "image": missing})  # fmt: skip
    started = time.monotonic()
    handle = run_on(broken, tiny, {"x": 1})
    while (status := broken.status(handle.id)) != "crashed":
        assert time.monotonic() - started < 60, status
        time.sleep(0.5)
    reason = broken.failure(handle.id)
    assert reason and "\n" not in reason and missing in reason, reason
    assert "ErrImagePull" in reason or "ImagePullBackOff" in reason
    print(f"missing image -> crashed in {time.monotonic() - started:.1f} s: {reason}")
    # what users see: the client (and `kitaru executions show`) asks the execution's stack's
    # orchestrator, which reads the same Job
    info = KitaruClient().executions.get(handle.id)
    assert info.status == "crashed", info.status
    assert info.crash_reason and "\n" not in info.crash_reason, info.crash_reason
    assert missing in info.crash_reason, info.crash_reason
    shown = subprocess.run([sys.executable, "-m", "kitaru.cli", "executions", "show", handle.id],
                           env=connected.env(COLUMNS="1000"), capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert shown.returncode == 0, shown.stdout + shown.stderr
    rows = {line.split()[0]: line for line in shown.stdout.splitlines() if line.strip()}
    assert "crashed" in rows["status"].split(), shown.stdout
    assert missing in rows["crashed"], shown.stdout


def test_a_missing_secret_key_fails_at_once_naming_it(connected: Cluster) -> None:
    """CreateContainerConfigError: the api_key's Secret has no such key."""
    from kitaru.testing import build_component
    from kitaru.testing.flows import tiny

    real = orchestrator_of(connected.stack)
    broken = build_component("orchestrator", "kubernetes", name="k8s-missing-key",
                             secrets=real._secrets, **{**real.config.model_dump(),
                             "api_key": "{{secret:kitaru-server.nope}}"})  # fmt: skip
    handle = run_on(broken, tiny, {"x": 1})
    deadline = time.monotonic() + 60
    while broken.status(handle.id) != "crashed":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    reason = broken.failure(handle.id) or ""
    assert "CreateContainerConfigError" in reason and "nope" in reason, reason
    assert "\n" not in reason


def test_cancel_deletes_the_job_and_logs_come_from_the_pod(
    connected: Cluster, cluster: Any
) -> None:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from kitaru.store import default_store
    from kitaru.testing.flows import tiny, waiting

    orchestrator = orchestrator_of(connected.stack)
    handle = run_on(orchestrator, tiny, {"x": 5})
    handle.wait(timeout=120)
    (unit,) = default_store().get_execution(handle.id).metadata["units"]
    assert orchestrator.wait_for(unit["name"], 60).phase == "succeeded"
    lines = [r["line"] for r in orchestrator.unit_logs(unit["name"])]
    assert "tiny flow got 5" in lines, lines

    held = run_on(orchestrator, waiting, {"question": "cancel?"})
    (unit,) = default_store().get_execution(held.id).metadata["units"]
    orchestrator.stop_unit(unit["name"])  # what cancel does to a unit still alive
    with pytest.raises(ApiException) as info:
        for _ in range(50):
            job_of(cluster, connected.namespace, unit["name"])
            time.sleep(0.2)
    assert info.value.status == 404
    # ... and its pod with it (propagation Background: a batch/v1 Job's own default orphans it)
    core = client.CoreV1Api(cluster)
    deadline = time.monotonic() + 90
    while pods := core.list_namespaced_pod(connected.namespace,
                                           label_selector=f"job-name={unit['name']}").items:  # fmt: skip
        assert time.monotonic() < deadline, [(p.metadata.name, p.status.phase) for p in pods]
        time.sleep(0.5)
    assert orchestrator.unit_state(unit["name"]).phase == "gone"
    orchestrator.stop_unit(unit["name"])  # gone already: nothing to do
