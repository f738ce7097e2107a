"""The real single-node cluster of ``scripts/standins/k8s.sh`` (built once, ~8 min, cached
under ~/.cache/kitaru/k8s; then started in ~15 s, or found running at once). Tests skip only
when the machine cannot run it at all (exit 77: not Linux, not root, not Debian bookworm, ...);
any other failure of the script fails them. The cluster is left running for the next session,
like the podman stand-in. ``scripts/run_tests.sh`` runs the script before pytest, outside any
test timeout; a test that is the first to need it gets a longer timeout here."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from k8s_e2e import AWS, Moto, RuntimeImage, running_moto, runtime_image, stack_yaml
from k8s_standin import (
    RBAC,
    SCRIPT,
    SETUP_TIMEOUT,
    TIMINGS,
    admin,
    apply,
    create_namespace,
    delete_namespace,
    manifests,
    service_account_kubeconfig,
    start_cluster,
)

if TYPE_CHECKING:
    from tests.server.conftest import Server

_CLUSTER_FIXTURES = {"kubeconfig", "cluster", "namespace", "e2e", "runtime"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if (
            here in Path(str(item.fspath)).parents
            and _CLUSTER_FIXTURES & set(getattr(item, "fixturenames", ()))
            and item.get_closest_marker("timeout") is None
        ):
            item.add_marker(pytest.mark.timeout(SETUP_TIMEOUT))


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    """The admin kubeconfig's path (the cluster started, or found running)."""
    started = time.monotonic()
    try:
        proc = start_cluster()
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{SCRIPT} took over {SETUP_TIMEOUT - 60} s: {exc.stderr!r}")
    if proc.returncode == 77:
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    if proc.returncode != 0:
        pytest.fail(f"{SCRIPT} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    TIMINGS["cluster start or check (s)"] = round(time.monotonic() - started, 1)
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def cluster(kubeconfig: str) -> Iterator[Any]:
    """An admin ``ApiClient`` for the tests' own setup."""
    api = admin(kubeconfig)
    yield api
    api.close()


@pytest.fixture(scope="session")
def namespace(cluster: Any) -> Iterator[str]:
    """A namespace of this session's own (deleted at the end, asynchronously)."""
    name = create_namespace(cluster)
    yield name
    delete_namespace(cluster, name)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.write_line(
            "kitaru-kubernetes timings: " + ", ".join(f"{k} {v}" for k, v in TIMINGS.items())
        )


# -- end to end: a Kitaru server, moto, the runtime image, a namespace with the RBAC files --------


@dataclass
class Cluster:
    """One module's setting: its namespace (RBAC applied), accounts, server and stack."""

    namespace: str
    server: Server
    moto: Moto
    bucket: str
    image: RuntimeImage
    #: kubeconfigs of the accounts of rbac/orchestrator.yaml and rbac/secret-store.yaml
    orchestrator_kubeconfig: Path
    secrets_kubeconfig: Path
    stack: str
    run_id: str
    stack_file: Path

    def env(self, **extra: str) -> dict[str, str]:
        """A subprocess's environment: connected to the server, S3 on moto."""
        env = self.server.env(AWS_ENDPOINT_URL=self.moto.endpoint_url, **AWS, **extra)
        env.pop("KITARU_STACK", None)
        return env


@pytest.fixture(scope="session")
def runtime(kubeconfig: str, tmp_path_factory: pytest.TempPathFactory) -> RuntimeImage:
    return runtime_image(tmp_path_factory.mktemp("k8s-runtime"))


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    with running_moto(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.fixture(scope="module")
def e2e(
    cluster: Any, kubeconfig: str, runtime: RuntimeImage, moto: Moto,
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
) -> Iterator[Cluster]:  # fmt: skip
    """A namespace of the module's own with the three RBAC files applied; a Kitaru server
    (SQLite) on the host; a bucket; the stack registered on the server, the server's key stored
    as the Kubernetes Secret its api_key references."""
    import uuid

    from tests.server.conftest import start_server, stop

    tmp = tmp_path_factory.mktemp("k8s-e2e")
    namespace = create_namespace(cluster, "kitaru-e2e")
    for name in ("orchestrator.yaml", "secret-store.yaml", "job-pods.yaml"):
        apply(cluster, manifests(RBAC / name, namespace))
    orchestrator_kc = service_account_kubeconfig(cluster, kubeconfig, namespace,
                                                 "kitaru-orchestrator", tmp / "orchestrator.kc")  # fmt: skip
    secrets_kc = service_account_kubeconfig(cluster, kubeconfig, namespace,
                                            "kitaru-secret-store", tmp / "secrets.kc")  # fmt: skip
    server = start_server(tmp / "home")
    assert server.admin_key, server.log.read_text()
    bucket = f"kitaru-k8s-{uuid.uuid4().hex[:8]}"
    moto.client("s3").create_bucket(Bucket=bucket)
    run_id = uuid.uuid4().hex[:12]
    stack = f"k8s-{request.module.__name__.removeprefix('test_k8s_').replace('_', '-')}"
    stack_file = tmp / "stack.yaml"
    stack_file.write_text(stack_yaml(
        stack, image=runtime.tag, namespace=namespace, orchestrator_kubeconfig=str(orchestrator_kc),
        secrets_kubeconfig=str(secrets_kc), server_url=server.url, moto=moto, bucket=bucket,
        run_id=run_id))  # fmt: skip
    found = Cluster(namespace, server, moto, bucket, runtime, orchestrator_kc, secrets_kc, stack,
                    run_id, stack_file)  # fmt: skip
    for args in (["stack", "register", "--file", str(stack_file)],
                 ["secret", "set", "--stack", stack, "kitaru-server",
                  f"api_key={server.admin_key}"]):  # fmt: skip
        proc = subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=found.env(),
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
    yield found
    stop(server)
    if not os.environ.get("KITARU_K8S_KEEP"):  # set it to look at the Jobs after a failure
        delete_namespace(cluster, namespace)


@pytest.fixture
def connected(
    e2e: Cluster, monkeypatch: pytest.MonkeyPatch, isolated_kitaru_home: Path
) -> Iterator[Cluster]:
    """This test process uses the module's server, stack and moto."""
    from kitaru.store import reset_default_store

    for key, value in {**AWS, "AWS_ENDPOINT_URL": e2e.moto.endpoint_url}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("KITARU_SERVER_URL", e2e.server.url)
    monkeypatch.setenv("KITARU_API_KEY", e2e.server.admin_key)
    monkeypatch.setenv("KITARU_STACK", e2e.stack)
    monkeypatch.delenv("KITARU_DB_URL", raising=False)
    reset_default_store()
    yield e2e
    reset_default_store()
