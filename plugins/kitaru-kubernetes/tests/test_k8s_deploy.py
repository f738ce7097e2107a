"""``kitaru deploy --stack kubernetes`` end to end on the real cluster, with the seed's
``review_flow`` (examples/review_flow.py, unchanged) and the stack registered from the plugin's
template (``kitaru stack register NAME --template kubernetes``):

build (podman, FROM the offline runtime image) -> push to the local registry the cluster pulls
from -> invoke -> a Job's pod runs the flow to its wait -> ``kitaru executions input ID --value
true`` -> a resume Job completes it. Then a pod deleted mid-run (while the server is paused
with SIGSTOP, so the pod is surely between two checkpoints): the execution crashes, the
server's recovery sweep submits a resume Job by itself, it finishes, and the checkpoint that
had completed before the kill did not run again. The Jobs carry the template's secret
environment (the S3 keys) and the API key as secretKeyRefs, their values nowhere in the spec.

Fakes: none on the Kubernetes side; S3 is moto, the LLM the offline gateway (the template's
default when it names none)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from k8s_e2e import REGISTRY
from k8s_standin import REPO

if TYPE_CHECKING:
    from conftest import Cluster

SEED = REPO / "examples" / "review_flow.py"
STACK = "kubernetes-e2e"
pytestmark = pytest.mark.timeout(1500)


def kitaru(*args: str, env: dict[str, str], cwd: Path | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def until(check: Any, what: str, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return value


def test_the_seed_flow_deployed_to_the_kubernetes_template_stack(
    connected: Cluster, cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubernetes import client

    from kitaru.client import KitaruClient
    from kitaru.deployments import invoke
    from kitaru.store import default_store

    # one client account with both Roles (what docs/stacks/kubernetes.md tells users to do)
    rbac = client.RbacAuthorizationV1Api(cluster)
    rbac.create_namespaced_role_binding(connected.namespace, {
        "metadata": {"name": "kitaru-orchestrator-secrets"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "kitaru-secret-store"},
        "subjects": [{"kind": "ServiceAccount", "name": "kitaru-orchestrator",
                      "namespace": connected.namespace}]})  # fmt: skip
    cache = tmp_path / "cache"  # this checkout's Kitaru wheel, as in the base image
    (cache / "wheels").mkdir(parents=True)
    for wheel in connected.image.wheels.glob("kitaru-*.whl"):
        shutil.copy2(wheel, cache / "wheels")
    env = connected.env(
        KITARU_K8S_KUBECONFIG=str(connected.orchestrator_kubeconfig),
        KITARU_K8S_NAMESPACE=connected.namespace, KITARU_K8S_REGISTRY=f"{REGISTRY}/kitaru-k8s",
        KITARU_K8S_SERVER_URL=connected.server.url, KITARU_K8S_HOST_NETWORK="true",
        KITARU_K8S_API_HOST="127.0.0.1", KITARU_K8S_API_PORT="6443",
        KITARU_S3_PATH=f"s3://{connected.bucket}/deploy", DOCKER_HOST=connected.image.docker_host,
        KITARU_CACHE=str(cache), KITARU_LEASE_TTL="3", KITARU_HEARTBEAT_INTERVAL="1",
    )  # fmt: skip
    kitaru("stack", "register", STACK, "--template", "kubernetes", env=env)
    kitaru("secret", "set", "--stack", STACK, "kitaru-server",
           f"api_key={connected.server.admin_key}", env=env)  # fmt: skip
    # values of their own (moto takes any key): the test below finds them nowhere in a Job
    s3_keys = {"access_key_id": f"akid-{uuid.uuid4().hex}",
               "secret_access_key": f"sak-{uuid.uuid4().hex}"}  # fmt: skip
    kitaru("secret", "set", "--stack", STACK, "s3", *(f"{k}={v}" for k, v in s3_keys.items()),
           env=env)  # fmt: skip

    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(SEED, project / "review_flow.py")  # the seed program, unchanged
    (project / "pyproject.toml").write_text(f'[project]\nname = "seed"\nversion = "0"\n\n'
                                            f'[tool.kitaru.image]\nbase_image = '
                                            f'"{connected.image.tag}"\n')  # fmt: skip
    started = time.monotonic()
    out = kitaru("deploy", f"{project / 'review_flow.py'}:review_flow", "--stack", STACK,
                 env=env, cwd=project)  # fmt: skip
    print(f"kitaru deploy (podman build + push): {time.monotonic() - started:.1f} s")
    assert f"pushing {REGISTRY}/kitaru-k8s/review_flow:" in out, out

    for key in ("KITARU_LEASE_TTL", "KITARU_HEARTBEAT_INTERVAL"):  # passed on to the pods
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("KITARU_STACK", STACK)
    store = default_store()
    started = time.monotonic()
    handle = invoke("review_flow", {"topic": "Durable agents"})
    image = store.get_execution(handle.id).options["deployment"]["image"]
    assert image.startswith(f"{REGISTRY}/kitaru-k8s/review_flow@sha256:")
    until(lambda: store.get_execution(handle.id).status == "waiting", "never reached its wait")
    print(f"invoke -> a pod ran it to the wait: {time.monotonic() - started:.1f} s")
    kitaru("executions", "input", handle.id, "--value", "true", env=env)
    result = handle.wait(timeout=180)
    assert isinstance(result, str) and result.startswith("[offline answer")
    units = store.get_execution(handle.id).metadata["units"]
    assert [u["role"] for u in units] == ["run", "resume"] and units[0]["image"] == image
    # the template's secret environment reached the pods as secretKeyRefs, no value in the Job
    job = client.BatchV1Api(cluster).read_namespaced_job(units[0]["name"], connected.namespace)
    (container,) = job.spec.template.spec.containers
    refs = {e.name: (e.value_from.secret_key_ref.name, e.value_from.secret_key_ref.key)
            for e in container.env if e.value_from and e.value_from.secret_key_ref}  # fmt: skip
    assert refs == {"AWS_ACCESS_KEY_ID": ("kitaru-s3", "access_key_id"),
                    "AWS_SECRET_ACCESS_KEY": ("kitaru-s3", "secret_access_key"),
                    "KITARU_API_KEY": ("kitaru-kitaru-server", "api_key")}, refs  # fmt: skip
    spec = str(job.to_dict())
    for value in (*s3_keys.values(), connected.server.admin_key):
        assert value not in spec

    # -- a pod deleted mid-run -----------------------------------------------------------------
    # Deterministic "mid-run": the pods run at 1/20 of a core (a LimitRange), and once research
    # completed the server is paused (SIGSTOP), so the pod blocks on its next call to it; the
    # pod is deleted, and the server continues once the pod is gone.
    core = client.CoreV1Api(cluster)
    core.create_namespaced_limit_range(connected.namespace, {
        "metadata": {"name": "slow"}, "spec": {"limits": [{"type": "Container",
        "default": {"cpu": "50m"}, "defaultRequest": {"cpu": "50m"}}]}})  # fmt: skip
    server = connected.server.process
    try:
        killed = invoke("review_flow", {"topic": "Pods die"})
        pk = store.get_execution(killed.id).pk
        job = store.get_execution(killed.id).metadata["units"][0]["name"]
        deadline = time.monotonic() + 300
        while not (research := [c for c in store.load_journal(pk).values()
                                if c.name == "research" and c.status == "completed"]):  # fmt: skip
            assert time.monotonic() < deadline, "research never completed"
        os.kill(server.pid, signal.SIGSTOP)
        try:
            (pod,) = core.list_namespaced_pod(connected.namespace,
                                              label_selector=f"job-name={job}").items  # fmt: skip
            core.delete_namespaced_pod(pod.metadata.name, connected.namespace,
                                       grace_period_seconds=1)  # fmt: skip
            # not 0: a force delete drops the object before the kubelet has killed the
            # container; with a grace period the pod is listed until its process is dead
            until(lambda: pod.metadata.name not in [p.metadata.name for p in core.list_namespaced_pod(
                connected.namespace, label_selector=f"job-name={job}").items], "pod not gone")  # fmt: skip
        finally:
            os.kill(server.pid, signal.SIGCONT)
    finally:
        core.delete_namespaced_limit_range("slow", connected.namespace)
    assert store.get_execution(killed.id).status == "running"  # killed before its wait
    # the Job replaces the deleted pod; the replacement finds the execution no longer pending
    # and exits. Nobody resumes it by hand: the server's recovery sweep (once per lease TTL)
    # finds the crash and hands the execution to its orchestrator again, a resume Job
    until(lambda: store.get_execution(killed.id).status == "waiting", "never recovered",
          timeout=300)  # fmt: skip
    kitaru("executions", "input", killed.id, "--value", "true", env=env)
    assert isinstance(killed.wait(timeout=180), str)
    info = KitaruClient().executions.get(killed.id)
    (again,) = [c for c in store.load_journal(pk).values() if c.name == "research"]
    assert again == research[0]  # completed once, never run again
    assert [c.call_id for c in info.llm_calls] == ["research/llm", "draft/llm"]
    roles = [u["role"] for u in info.metadata["units"]]
    assert roles[0] == "run" and roles.count("resume") >= 2, roles
