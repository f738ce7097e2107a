"""The ``kubernetes`` orchestrator on the real cluster: the orchestrator contract (run, failure,
logs, resume after input, an isolated checkpoint as a Job of its own started from inside a pod,
crash recovery, retry, cancel, every entry point reaching launch), with a real Kitaru server on
the host, under the accounts of rbac/ (the client as ``kitaru-orchestrator``, the pods as
``kitaru-job``); and what the contract does not look at: the Job's spec (deadline, backoff,
labels, secretKeyRef and no secret value), a pod that cannot start failing its execution at
once with one line, cancel deleting the Job, the pod's log.

Fakes: none on the Kubernetes side. S3 is moto (see k8s_e2e.py)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

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


def test_a_unit_is_a_job_with_its_settings_and_no_secret_value(
    connected: Cluster, cluster: Any
) -> None:
    from kitaru.store import default_store
    from kitaru.testing.flows import tiny

    orchestrator = orchestrator_of(connected.stack)
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
    (container,) = pod.containers
    assert container.command == ["python", "-m", "kitaru.entrypoint"]
    assert container.args == ["run", handle.id]
    env = {e.name: e for e in container.env}
    ref = env["KITARU_API_KEY"].value_from.secret_key_ref
    assert (ref.name, ref.key) == ("kitaru-kitaru-server", "api_key")
    assert "KITARU_SECRET_ENV" not in env
    assert connected.server.admin_key not in str(job.to_dict())


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
    assert KitaruClient().executions.get(handle.id)  # still readable


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
    assert orchestrator.unit_state(unit["name"]).phase == "gone"
    orchestrator.stop_unit(unit["name"])  # gone already: nothing to do
