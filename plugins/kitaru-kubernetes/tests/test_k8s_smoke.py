"""``kitaru smoke examples/review_flow.py:review_flow --stack kubernetes --answer
approve_draft=true`` as a user's CI runs it: ``stacks/kubernetes.yaml`` (unchanged) registered
with production values (a namespace, a registry, a server URL, an eu-west-1 bucket; no
endpoint), ``KUBECONFIG`` on the CI machine's own cluster (here scripts/standins/k8s.sh's, on
127.0.0.1, its node this machine, as a k3s on the runner would be), a project whose pyproject names the offline runtime
image as its base, podman as the engine and ``podman.sh``'s registry, which the cluster pulls
from. The smoke run must point the orchestrator and the secret store at that local cluster
(kitaru-kubernetes's ``kitaru_standins``: the namespace and the ``kitaru-job`` account created,
pods on the host network), stand moto in for S3 (kitaru-aws's), push the image to the run's
registry in place of the team's (kitaru-docker's), run the run and resume Jobs on the cluster,
answer the wait and print its report with exit code 0. A flow importing a package the image
lacks must fail it with exit code 1 and a one-line reason naming the package.

Skipped where the cluster or podman cannot run (their scripts exit 77)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s_e2e import REGISTRY, RuntimeImage
from k8s_standin import REPO, TIMINGS, delete_namespace

pytestmark = pytest.mark.timeout(1800)  # a first cluster start, podman.sh and wheelhouse
TEMPLATE = REPO / "stacks" / "kubernetes.yaml"
SEED = REPO / "examples" / "review_flow.py"
#: what a user's CI job exports for stacks/kubernetes.yaml (none of it exists on this machine)
PRODUCTION = {
    "KITARU_K8S_REGISTRY": "registry.example.com/kitaru",
    "KITARU_K8S_SERVER_URL": "https://kitaru.acme.example",
    "AWS_REGION": "eu-west-1",
    "KITARU_S3_PATH": "s3://acme-kitaru-ci/kitaru",
}
_NOT_THE_RUNNERS = ("AWS_", "KITARU_SERVER", "KITARU_API_KEY", "KITARU_STACK", "KITARU_K8S_",
                    "KITARU_SMOKE_", "KUBECONFIG")  # fmt: skip


@pytest.fixture
def namespace(cluster: Any) -> Iterator[str]:
    """The stack's namespace: production-like, absent from the cluster (the smoke run creates
    it), deleted afterwards."""
    name = f"acme-kitaru-{uuid.uuid4().hex[:8]}"
    yield name
    if not os.environ.get("KITARU_K8S_KEEP"):  # set it to look at the Jobs after a failure
        delete_namespace(cluster, name)


@pytest.fixture
def project(runtime: RuntimeImage, tmp_path: Path) -> Path:
    """The user's project: the seed flow, unchanged, and the base image of its pyproject."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy2(SEED, folder / "review_flow.py")
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "seed"\nversion = "0"\n\n'
        f'[tool.kitaru.image]\nbase_image = "{runtime.tag}"\n'
    )
    return folder


def ci_env(kubeconfig: str, runtime: RuntimeImage, namespace: str, tmp: Path) -> dict[str, str]:
    """The CI job's environment: no Kitaru server, no AWS endpoint or keys of its own; its
    kubeconfig is the local cluster's."""
    cache = tmp / "cache"  # this checkout's Kitaru wheel, as in the base image
    (cache / "wheels").mkdir(parents=True, exist_ok=True)
    for wheel in runtime.wheels.glob("kitaru-*.whl"):
        shutil.copy2(wheel, cache / "wheels")
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_THE_RUNNERS)}
    env.update(PRODUCTION, KITARU_K8S_NAMESPACE=namespace, KUBECONFIG=kubeconfig,
               DOCKER_HOST=runtime.docker_host, KITARU_SMOKE_REGISTRY=REGISTRY,
               KITARU_CACHE=str(cache))  # fmt: skip
    return env


def kitaru(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=1200)  # fmt: skip


def smoke(env: dict[str, str], project: Path, what: str) -> subprocess.CompletedProcess[str]:
    done = kitaru("stack", "register", "kubernetes", "--file", str(TEMPLATE), env=env, cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    started = time.monotonic()
    done = kitaru("smoke", "review_flow.py:review_flow", "--stack", "kubernetes",
                  "--answer", "approve_draft=true", env=env, cwd=project)  # fmt: skip
    TIMINGS[what] = round(time.monotonic() - started, 1)
    print(done.stdout)
    return done


def test_smoke_run_of_the_seed_flow_on_the_kubernetes_stack_passes_on_the_local_cluster(
    kubeconfig: str, cluster: Any, runtime: RuntimeImage, namespace: str, project: Path,
    tmp_path: Path, isolated_kitaru_home: Path,
) -> None:  # fmt: skip
    from kubernetes import client

    env = ci_env(kubeconfig, runtime, namespace, tmp_path)
    done = smoke(env, project, "kitaru smoke --stack kubernetes (s)")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    out = done.stdout
    assert out.startswith("kitaru smoke review_flow on stack 'kubernetes': passed"), out
    lines = out.splitlines()

    def line(start: str) -> str:
        (found,) = [x for x in lines if x.strip().startswith(start)]
        return found

    (execution,) = re.findall(r"^  execution (\w+): completed$", out, re.M)
    cluster_at = "the local cluster at https://127.0.0.1:6443"
    assert (f"kubernetes → {cluster_at} runs the Jobs itself, namespace {namespace} (namespace "
            f"{namespace}, serviceaccount kitaru-job created)") in line("orchestrator")  # fmt: skip
    assert f"kubernetes → Secrets of {cluster_at}, namespace {namespace}" in line("secret_store")
    assert line("artifact_store").endswith("(S3); bucket acme-kitaru-ci created")
    assert "s3 → moto " in line("artifact_store")
    assert (f"docker → pushes to {REGISTRY}/kitaru (in place of "
            f"{PRODUCTION['KITARU_K8S_REGISTRY']})") in line("container_builder")  # fmt: skip
    assert "kitaru-server.api_key = the smoke run's server key" in out
    assert "s3.access_key_id = a placeholder" in out
    assert "waits answered: approve_draft" in out and "LLM: 2 call(s)" in out
    assert "times: stand-ins" in out and "deploy (build + push)" in out
    assert "the local cluster's node must be this machine" in out
    assert "result: " in out and "Rejected" not in out
    # no stand-in runs the Jobs: the report lists the units the orchestrator recorded
    units = [x.strip() for x in lines if x.startswith("  unit: ")]
    assert [u.split()[1] for u in units] == ["run", "resume"], out
    assert all(u.endswith(": succeeded") for u in units), out

    # the units ran on the cluster, as Jobs of the stack's namespace: the run, then the resume
    jobs = client.BatchV1Api(cluster).list_namespaced_job(
        namespace, label_selector=f"kitaru-execution={execution}").items  # fmt: skip
    jobs.sort(key=lambda j: j.metadata.creation_timestamp)
    assert [j.metadata.labels["kitaru-role"] for j in jobs] == ["run", "resume"], jobs
    assert all(j.status.succeeded == 1 for j in jobs), [j.status for j in jobs]
    pod = jobs[0].spec.template.spec
    assert pod.host_network and pod.service_account_name == "kitaru-job"
    assert pod.containers[0].image.startswith(f"{REGISTRY}/kitaru/review_flow@sha256:")
    # the server's key reached the pods as a secretKeyRef of the stack's secret store
    refs = {e.name: e.value_from.secret_key_ref.name for e in pod.containers[0].env
            if e.value_from and e.value_from.secret_key_ref}  # fmt: skip
    assert refs["KITARU_API_KEY"] == "kitaru-kitaru-server", refs


def test_a_flow_importing_a_package_missing_from_the_image_fails_naming_it(
    kubeconfig: str, cluster: Any, runtime: RuntimeImage, namespace: str, project: Path,
    tmp_path: Path, isolated_kitaru_home: Path,
) -> None:  # fmt: skip
    flow = project / "review_flow.py"
    flow.write_text("import pytest  # a dev dependency here, not in the image\n" + flow.read_text())
    env = ci_env(kubeconfig, runtime, namespace, tmp_path)
    done = smoke(env, project, "kitaru smoke --stack kubernetes, package missing (s)")
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    assert "FAILED" in done.stdout.splitlines()[0]
    (reason,) = [x for x in done.stdout.splitlines() if x.startswith("  reason:")]
    assert reason.startswith("  reason: the execution crashed: kitaru-run-"), reason
    assert reason.endswith("cannot import the flow's code from /app/review_flow.py: "
                           "ModuleNotFoundError: No module named 'pytest'"), reason  # fmt: skip
    # the status the cluster told, not the one stored before the pod failed
    assert re.search(r"^  execution \w+: crashed$", done.stdout, re.M), done.stdout
