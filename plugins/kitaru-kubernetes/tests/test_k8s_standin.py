"""The cluster of ``scripts/standins/k8s.sh`` itself, as the orchestrator will use it: found
running at once by a second call; pods pull images from the local registry of
``scripts/standins/podman.sh`` (an image that is not there fails at once with ErrImagePull); pods
reach a server of this host (on 10.244.0.1 from the pod network, on 127.0.0.1 with
hostNetwork)."""

from __future__ import annotations

import http.server
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from k8s_standin import BUSYBOX, REPO, TIMINGS, run_pod, start_cluster

#: the host's address on the pods' bridge (the script's CNI config)
HOST_ON_BRIDGE = "10.244.0.1"
PODMAN = REPO / "scripts" / "standins" / "podman.sh"


def test_a_second_call_finds_it_running_at_once(kubeconfig: str) -> None:
    started = time.monotonic()
    proc = start_cluster()
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == kubeconfig
    assert "already running" in proc.stderr
    assert seconds < 5
    TIMINGS["already running (s)"] = round(seconds, 2)


@pytest.fixture(scope="module")
def registry() -> str:
    """The local registry (podman.sh sets it up; 77: podman cannot run here)."""
    proc = subprocess.run(["bash", str(PODMAN)], capture_output=True, text=True, timeout=1500)
    if proc.returncode == 77:
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    values = dict(
        line.removeprefix("export ").split("=", 1)
        for line in proc.stdout.splitlines()
        if line.startswith("export ")
    )
    return values["KITARU_DOCKER_REGISTRY"]


@pytest.mark.parametrize("host", ["registry", "localhost"])
def test_a_pod_pulls_its_image_from_the_local_registry(
    cluster: Any, namespace: str, registry: str, host: str
) -> None:
    """``podman push`` to 127.0.0.1:5001, then a pod with imagePullPolicy Always (a real pull:
    the tag is new) runs it, named by the registry's address or as localhost:5001."""
    tag = uuid.uuid4().hex[:12]
    pushed = f"{registry}/kitaru/k8s-pull-test:{tag}"
    subprocess.run(["podman", "tag", "localhost/kitaru/busybox:static", pushed], check=True)
    try:
        subprocess.run(["podman", "push", "-q", "--tls-verify=false", pushed], check=True,
                       capture_output=True, timeout=120)  # fmt: skip
    finally:
        subprocess.run(["podman", "rmi", pushed], capture_output=True)
    image = pushed if host == "registry" else pushed.replace(registry.split(":")[0], "localhost")
    started = time.monotonic()
    phase, logs = run_pod(cluster, namespace, {
        "containers": [{"name": "main", "image": image, "imagePullPolicy": "Always",
                        "command": ["sh", "-c", "echo pulled and ran"]}],
    })  # fmt: skip
    assert (phase, logs.strip()) == ("Succeeded", "pulled and ran")
    TIMINGS[f"pod from the registry ({host}) (s)"] = round(time.monotonic() - started, 2)


def test_an_image_missing_from_the_registry_fails_at_once(
    cluster: Any, namespace: str, registry: str
) -> None:
    started = time.monotonic()
    phase, _ = run_pod(cluster, namespace, {
        "containers": [{"name": "main", "image": f"{registry}/kitaru/not-there:{uuid.uuid4().hex}",
                        "imagePullPolicy": "Always", "command": ["true"]}],
    }, timeout=60)  # fmt: skip
    assert phase in ("ErrImagePull", "ImagePullBackOff")
    assert time.monotonic() - started < 30


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from the host"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def host_server(request: pytest.FixtureRequest) -> Iterator[int]:
    """An HTTP server of this process on ``request.param`` (an address), on a free port."""
    server = http.server.ThreadingHTTPServer((request.param, 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _get(host: str, port: int) -> str:
    # busybox's wget crashes in this image: nc speaks the HTTP
    return f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {host} {port} | tail -n 1"


@pytest.mark.parametrize("host_server", ["0.0.0.0"], indirect=True)
def test_a_pod_reaches_a_host_server_on_the_bridge_address(
    cluster: Any, namespace: str, host_server: int
) -> None:
    phase, logs = run_pod(cluster, namespace, {
        "containers": [{"name": "main", "image": BUSYBOX, "imagePullPolicy": "Never",
                        "command": ["sh", "-c", _get(HOST_ON_BRIDGE, host_server)]}],
    })  # fmt: skip
    assert (phase, logs.strip()) == ("Succeeded", "hello from the host")


@pytest.mark.parametrize("host_server", ["127.0.0.1"], indirect=True)
def test_a_host_network_pod_reaches_a_server_on_127_0_0_1(
    cluster: Any, namespace: str, host_server: int
) -> None:
    phase, logs = run_pod(cluster, namespace, {
        "hostNetwork": True,
        "containers": [{"name": "main", "image": BUSYBOX, "imagePullPolicy": "Never",
                        "command": ["sh", "-c", _get("127.0.0.1", host_server)]}],
    })  # fmt: skip
    assert (phase, logs.strip()) == ("Succeeded", "hello from the host")


def test_the_host_is_not_its_pods_loopback(cluster: Any, namespace: str) -> None:
    """Without hostNetwork, 127.0.0.1 in a pod is the pod's own: a host server there is not
    reachable (why the orchestrator must give units a host address, or hostNetwork)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        phase, logs = run_pod(cluster, namespace, {
            "containers": [{"name": "main", "image": BUSYBOX, "imagePullPolicy": "Never",
                            "command": ["sh", "-c", f"nc -w 2 127.0.0.1 {port} </dev/null 2>/dev/null "
                                        "&& echo reached || echo refused"]}],
        })  # fmt: skip
    assert (phase, logs.strip()) == ("Succeeded", "refused")


def test_a_machine_that_cannot_run_it_exits_77_saying_why() -> None:
    """What the tests skip on (here: not root), the reason on stderr's last line."""
    import os
    import shutil

    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to run the script as another user")
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         "env", "HOME=/tmp", "bash", str(REPO / "scripts" / "standins" / "k8s.sh")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 77, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].endswith("needs root for containerd, the "
                                                         "kubelet and apt-get (running as uid "
                                                         "65534)")  # fmt: skip
