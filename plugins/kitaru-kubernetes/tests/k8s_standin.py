"""Helpers of these tests around the real cluster of ``scripts/standins/k8s.sh``: an admin
client, namespaces, service accounts and their kubeconfigs, pods run to the end."""

from __future__ import annotations

import base64
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "standins" / "k8s.sh"
RBAC = REPO / "plugins" / "kitaru-kubernetes" / "rbac"
#: preloaded into the cluster by the script (never pulled)
BUSYBOX = "busybox:1.35"
#: wall seconds of the steps, printed in the terminal summary
TIMINGS: dict[str, float] = {}
#: the first start on a fresh machine builds Kubernetes (apt-get, the Debian source, one
#: `go build`: ~8 min on 2 cores); pytest-timeout counts fixture setup
SETUP_TIMEOUT = 1800


def start_cluster() -> subprocess.CompletedProcess[str]:
    """Run the script: started, or found running (exit 0, the kubeconfig's path last on stdout),
    77 when this machine cannot run it (the reason last on stderr), else failed."""
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True,
                          timeout=SETUP_TIMEOUT - 60)  # fmt: skip


def admin(kubeconfig: str) -> Any:
    """An ``ApiClient`` as the cluster's admin (system:masters)."""
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration,
                            persist_config=False)  # fmt: skip
    return client.ApiClient(configuration)


def create_namespace(api: Any, prefix: str = "kitaru-test") -> str:
    from kubernetes import client

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(api).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
    )
    return name


def delete_namespace(api: Any, name: str) -> None:
    """Asynchronous on the server: the call returns at once."""
    from kubernetes import client

    try:
        client.CoreV1Api(api).delete_namespace(name)
    except Exception:
        pass


def manifests(path: Path, namespace: str) -> list[dict[str, Any]]:
    """The objects of a YAML file of ``rbac/``, moved to ``namespace``."""
    text = path.read_text().replace("namespace: default", f"namespace: {namespace}")
    return [doc for doc in yaml.safe_load_all(text) if doc]


def apply(api: Any, objects: list[dict[str, Any]]) -> None:
    from kubernetes import utils

    for obj in objects:
        utils.create_from_dict(api, obj)


def service_account_kubeconfig(
    api: Any, kubeconfig: str, namespace: str, account: str, path: Path
) -> Path:
    """A kubeconfig for ``account`` (its token, which the 1.20 token controller puts in a Secret
    of its own a moment after the account is created)."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    token = ""
    deadline = time.monotonic() + 30
    while not token:
        for ref in core.read_namespaced_service_account(account, namespace).secrets or []:
            data = core.read_namespaced_secret(ref.name, namespace).data or {}
            token = base64.b64decode(data.get("token", "")).decode()
        if not token:
            assert time.monotonic() < deadline, f"no token for service account {account}"
            time.sleep(0.2)
    admin_config = yaml.safe_load(Path(kubeconfig).read_text())
    cluster = admin_config["clusters"][0]["cluster"]
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kitaru", "cluster": cluster}],
                "users": [{"name": account, "user": {"token": token}}],
                "contexts": [
                    {
                        "name": account,
                        "context": {"cluster": "kitaru", "user": account, "namespace": namespace},
                    }
                ],
                "current-context": account,
            }
        )
    )
    return path


def run_pod(
    api: Any, namespace: str, spec: dict[str, Any], timeout: float = 120
) -> tuple[str, str]:
    """Create a pod (``spec`` is its ``spec``), wait for it to end; returns (phase, logs). An
    image that cannot be pulled ends it too, with the waiting reason as its phase."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    name = f"t-{uuid.uuid4().hex[:8]}"
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", **spec}}  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        try:
            core.create_namespaced_pod(namespace, body)
            break
        except client.exceptions.ApiException as exc:
            # a Pod right after its namespace: "No API token found for service account
            # default" until the token controller has run (Jobs retry this by themselves)
            if exc.status != 500 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    while True:
        pod = core.read_namespaced_pod(name, namespace)
        phase = pod.status.phase
        if phase in ("Succeeded", "Failed"):
            break
        waiting = [
            s.state.waiting.reason
            for s in pod.status.container_statuses or []
            if s.state
            and s.state.waiting
            and s.state.waiting.reason
            in ("ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError")
        ]
        if waiting:
            return waiting[0], ""
        assert time.monotonic() < deadline, f"pod {name} still {phase} after {timeout}s"
        time.sleep(0.2)
    return phase, core.read_namespaced_pod_log(name, namespace)
