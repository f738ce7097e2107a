"""What the end-to-end tests of the ``kubernetes`` orchestrator share: the runtime image (this
checkout's kitaru, kitaru-kubernetes, kitaru-aws and kitaru-docker, installed offline, pushed to the local
registry the cluster pulls from), moto (the S3 the pods and this process share), a Kitaru
server on the host, and the stack that ties them to the cluster.

Nothing is faked on the Kubernetes side: real Jobs, real pods, real RBAC. S3 is moto (the
stand-in every S3 test of this repository uses); the pods reach it, the server and the API
server on the host's 127.0.0.1 through ``hostNetwork`` (the stand-in has no kube-proxy and no
cluster DNS: see scripts/standins/k8s.sh)."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from k8s_standin import REPO, TIMINGS

from kitaru.testing.services import free_port, stop_process, wait_until_serving

REGISTRY = "127.0.0.1:5001"
SITE_PACKAGES = "/opt/kitaru/lib/python3.11/site-packages"
#: moto accepts any key; these reach the pods in plain environment (test only)
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}  # fmt: skip
#: the pods' in-cluster client on the host's API server (no kube-proxy for 10.0.0.1)
IN_CLUSTER_API = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}


def podman_engine() -> str:
    """``DOCKER_HOST`` of scripts/standins/podman.sh (skips the test when it cannot run)."""
    script = REPO / "scripts" / "standins" / "podman.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=1200)
    if done.returncode == 77:  # this machine cannot run podman at all
        pytest.skip(done.stderr.strip().splitlines()[-1])
    assert done.returncode == 0, done.stderr[-3000:]
    exports = dict(line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines()
                   if line.startswith("export "))  # fmt: skip
    return exports["DOCKER_HOST"]


@dataclass(frozen=True)
class RuntimeImage:
    #: the tag pods pull (the local registry)
    tag: str
    #: this checkout's wheels (kitaru, kitaru-kubernetes, kitaru-aws)
    wheels: Path
    docker_host: str


def runtime_image(context: Path) -> RuntimeImage:
    """Built (podman, from the offline Debian + python3 base) once per content, pushed."""
    import docker

    docker_host = podman_engine()
    started = time.monotonic()
    script = REPO / "scripts" / "standins" / "kitaru_wheelhouse.sh"
    # kitaru-docker too: `kitaru build` installs the plugins of the stack (its builder's)
    packages = ["kitaru-kubernetes", "kitaru-aws", "kitaru-docker"]
    proc = subprocess.run(["bash", str(script), str(context), *packages],
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    # tagged by the content of the build context (the script wrote the Dockerfile too)
    files = sorted(p for p in context.rglob("*") if p.is_file())
    digest = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files))
    tag = f"{REGISTRY}/kitaru/k8s-runtime:{digest.hexdigest()[:16]}"
    client = docker.DockerClient(base_url=docker_host, timeout=900)
    if not client.images.list(name=tag):
        client.images.build(path=str(context), tag=tag, rm=True)
    push = subprocess.run(["podman", "push", "--tls-verify=false", tag], capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert push.returncode == 0, push.stderr[-2000:]
    TIMINGS["runtime image: wheels, build, push (s)"] = round(time.monotonic() - started, 1)
    return RuntimeImage(tag, context / "kitaru", docker_host)


@dataclass(frozen=True)
class Moto:
    endpoint_url: str

    def client(self, service: str) -> Any:
        import boto3

        return boto3.session.Session(region_name="us-east-1").client(
            service, endpoint_url=self.endpoint_url, aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )  # fmt: skip


@contextlib.contextmanager
def running_moto(log: Path) -> Iterator[Moto]:
    """``moto_server`` on a free port of 127.0.0.1 (the pods share it through hostNetwork)."""
    import sys

    port = free_port()
    script = Path(sys.executable).with_name("moto_server")
    with log.open("wb") as out:
        proc = subprocess.Popen([str(script), "-H", "127.0.0.1", "-p", str(port)], stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_serving(f"{endpoint}/moto-api/", proc, 60), log.read_text()[-2000:]
        yield Moto(endpoint)
    finally:
        stop_process(proc)


def stack_yaml(
    name: str, *, image: str, namespace: str, orchestrator_kubeconfig: str,
    secrets_kubeconfig: str, server_url: str, moto: Moto, bucket: str, run_id: str,
    service_account: str = "kitaru-job",
) -> str:  # fmt: skip
    """A stack on the cluster: the orchestrator and the secret store each with the kubeconfig
    of its own RBAC account, S3 on moto, the pods on the host network."""
    import kitaru

    # flows of this checkout (kitaru.testing.flows) are recorded by their path here: in the
    # image they are in its site-packages
    source_root = Path(kitaru.__file__).resolve().parents[1]
    env = {**AWS, **IN_CLUSTER_API, "AWS_ENDPOINT_URL": moto.endpoint_url,
           "KITARU_CODE_MAP": f"{source_root}={SITE_PACKAGES}"}  # fmt: skip
    environment = "".join(f'\n        {k}: "{v}"' for k, v in sorted(env.items()))
    return f"""\
name: {name}
components:
  orchestrator:
    name: {name}
    flavor: kubernetes
    config:
      kubeconfig: {orchestrator_kubeconfig}
      namespace: {namespace}
      image: {image}
      server_url: {server_url}
      api_key: "{{{{secret:kitaru-server.api_key}}}}"
      service_account: {service_account}
      host_network: true
      labels: {{kitaru-test: "{run_id}"}}
      ttl_seconds_after_finished: 600
      poll_interval: 0.5
      environment:{environment}
  artifact_store:
    name: {name}-s3
    flavor: s3
    config:
      path: s3://{bucket}/kitaru
      endpoint_url: {moto.endpoint_url}
      region: us-east-1
  secret_store:
    name: {name}-secrets
    flavor: kubernetes
    config:
      kubeconfig: {secrets_kubeconfig}
      namespace: {namespace}
"""
