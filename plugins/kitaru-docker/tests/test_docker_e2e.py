"""End to end: a Kitaru server, a stack whose orchestrator is ``docker`` (podman's engine), and
the runtime image built offline from this checkout. Executions run in containers that report to
the server; the orchestrator contract passes; isolated checkpoints run in containers of their
own, started from inside the execution's container."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kitaru.components.orchestrator import Orchestrator
from kitaru.testing import OrchestratorContract, resume_on, run_on

if TYPE_CHECKING:
    from conftest import Engine, RuntimeImage

    from tests.server.conftest import Server

STACK = "docker-e2e"
TEST_LABEL = "org.kitaru.e2e"
# one worker runs these (one server, one image build), whatever the xdist distribution
pytestmark = pytest.mark.xdist_group("kitaru-docker-image")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from tests.server.conftest import start_server, stop

    srv = start_server(tmp_path_factory.mktemp("docker-e2e") / "home")
    assert srv.admin_key, srv.log.read_text()
    yield srv
    stop(srv)


@pytest.fixture(scope="module")
def docker_stack(
    server: Server, engine: Engine, runtime_image: RuntimeImage,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """The stack, registered on the server: artifacts in a folder every container mounts."""
    import kitaru

    artifacts = tmp_path_factory.mktemp("docker-e2e-artifacts")
    run_id = uuid.uuid4().hex[:12]  # this module's containers, not a concurrent session's
    source_root = str(Path(kitaru.__file__).resolve().parents[1])  # where kitaru is imported from
    stack_file = artifacts.parent / "docker-e2e-stack.yaml"
    stack_file.write_text(f"""\
name: {STACK}
components:
  orchestrator:
    name: docker-e2e
    flavor: docker
    config:
      image: {runtime_image.tag}
      base_url: {engine.docker_host}
      mount_code: true
      volumes: ["{artifacts}:{artifacts}"]
      code_map: {{"{source_root}": "{runtime_image.site_packages}"}}
      labels: {{"{TEST_LABEL}": "{run_id}"}}
      stop_timeout: 2
  artifact_store:
    name: docker-e2e-artifacts
    flavor: local
    config:
      path: {artifacts}
""")
    env = server.env()
    env.pop("KITARU_STACK", None)
    proc = subprocess.run([sys.executable, "-m", "kitaru.cli", "stack", "register", "--file",
                           str(stack_file)], env=env, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    yield {"artifacts": artifacts, "run_id": run_id}
    import docker

    client = docker.DockerClient(base_url=engine.docker_host)
    for c in client.containers.list(all=True, filters={"label": f"{TEST_LABEL}={run_id}"}):
        c.remove(force=True)


@pytest.fixture
def connected(
    server: Server, docker_stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
    isolated_kitaru_home: Path,
) -> Iterator[Server]:  # fmt: skip
    """This test process uses the server and the docker stack."""
    from kitaru.store import reset_default_store

    monkeypatch.setenv("KITARU_SERVER_URL", server.url)
    monkeypatch.setenv("KITARU_API_KEY", server.admin_key)
    monkeypatch.setenv("KITARU_STACK", STACK)
    monkeypatch.delenv("KITARU_DB_URL", raising=False)
    reset_default_store()
    yield server
    reset_default_store()


def docker_orchestrator() -> Orchestrator:
    from kitaru.runtime.stacks import stack_of

    return stack_of(STACK).orchestrator


class TestDockerOrchestratorContract(OrchestratorContract):
    execution_timeout = 120.0

    @pytest.fixture
    def orchestrator(self, connected: Server) -> Orchestrator:
        return docker_orchestrator()


def test_a_flow_runs_in_a_container_and_its_checkpoint_in_another(connected: Server) -> None:
    import docker_e2e_flows as flows

    from kitaru.store import default_store

    orchestrator = docker_orchestrator()
    started = time.monotonic()
    handle = run_on(orchestrator, flows.in_container, {"x": 14})
    result = handle.wait(timeout=180)
    elapsed = time.monotonic() - started
    print(f"flow with one isolated checkpoint, in containers: {elapsed:.1f} s")
    flow_side, checkpoint_side = result["flow"], result["checkpoint"]
    assert flow_side["container"] and checkpoint_side["container"]
    assert checkpoint_side["value"] == 42
    assert flow_side["pid"] != os.getpid()
    assert orchestrator.status(handle.id) == "completed"

    store = default_store()
    execution = store.get_execution(handle.id)
    units = execution.metadata["units"]
    (recorded,) = [u for u in units if u["role"] == "run"]
    assert recorded["image"] == orchestrator.config.image
    container = orchestrator.client.containers.get(recorded["container_id"])
    assert container.labels["org.kitaru.execution"] == handle.id
    assert container.wait(timeout=30)["StatusCode"] == 0  # it exits right after the status write
    # the isolated call records the container it ran in (removed once its reply was read)
    calls = [c for c in store.load_journal(execution.pk).values() if c.name == "isolated_triple"]
    assert len(calls) == 1
    unit = (calls[0].meta or {}).get("unit")
    assert unit and unit != recorded["name"]
    assert [u["name"] for u in units if u["role"] == "checkpoint"] == [unit]
    from kitaru.client import KitaruClient

    lines = [r.get("line") for r in KitaruClient().executions.logs(handle.id)]
    assert "in_container got 14" in lines


def test_an_isolated_failure_names_the_original_error(connected: Server) -> None:
    import docker_e2e_flows as flows

    import kitaru

    handle = run_on(docker_orchestrator(), flows.failing_isolated, {})
    with pytest.raises(kitaru.ExecutionFailed, match="ValueError: bad 2"):
        handle.wait(timeout=180)


def test_input_resumes_in_a_new_container(connected: Server) -> None:
    from kitaru.client import resolve_input
    from kitaru.store import default_store
    from kitaru.testing.flows import waiting

    orchestrator = docker_orchestrator()
    handle = run_on(orchestrator, waiting, {"question": "still there?"})
    until(orchestrator, handle.id, "waiting")
    store = default_store()
    resolve_input(store, handle.id, "yes", name="answer")
    resume_on(orchestrator, handle.id)
    assert handle.wait(timeout=120) == "answered: yes"
    units = store.get_execution(handle.id).metadata["units"]
    assert [u["role"] for u in units] == ["run", "resume"]


def test_a_killed_container_shows_as_crashed_and_resumes(
    connected: Server, docker_stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL the execution's container mid-checkpoint: the orchestrator says crashed at once;
    once the lease expired, resume runs it to completion in a new container."""
    import docker_e2e_flows as flows

    from kitaru.store import default_store
    from kitaru.store.records import display_status

    monkeypatch.setenv("KITARU_LEASE_TTL", "2")  # passed on to the containers
    monkeypatch.setenv("KITARU_HEARTBEAT_INTERVAL", "0.5")
    marker = docker_stack["artifacts"] / f"marker-{time.monotonic_ns()}"
    orchestrator = docker_orchestrator()
    handle = run_on(orchestrator, flows.killable, {"marker": str(marker)})
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert time.monotonic() < deadline, orchestrator.status(handle.id)
        time.sleep(0.1)
    store = default_store()
    first = store.get_execution(handle.id).metadata["units"][0]["container_id"]
    orchestrator.client.containers.get(first).kill()
    until(orchestrator, handle.id, "crashed", timeout=30)
    while display_status(store.get_execution(handle.id), time.time()) != "crashed":
        time.sleep(0.2)  # the dead process's lease runs out
    resume_on(orchestrator, handle.id)
    assert handle.wait(timeout=120) == "second attempt"
    assert orchestrator.status(handle.id) == "completed"
    assert store.get_execution(handle.id).metadata["units"][0]["container_id"] == first


def until(orchestrator: Orchestrator, execution_id: str, status: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while (seen := orchestrator.status(execution_id)) != status:
        assert time.monotonic() < deadline, f"{execution_id} is {seen}, never {status}"
        time.sleep(0.1)


DEPLOYED_FLOW = """\
import os

from kitaru import checkpoint, flow


@checkpoint
def add(a: int, b: int) -> int:
    return a + b


@flow
def shipped(x: int) -> dict:
    return {"sum": add(x, 1), "cwd": os.getcwd(), "container": os.path.exists("/run/.containerenv")}
"""


def test_deploy_builds_pushes_and_invoke_runs_in_a_container(
    connected: Server, engine: Engine, runtime_image: RuntimeImage, docker_stack: dict[str, Any],
    tmp_path: Path,
) -> None:  # fmt: skip
    """`kitaru deploy` on a docker stack: `kitaru build` makes the image with this plugin's
    builder (FROM the offline runtime image), pushes it to the registry; an invocation runs in
    a container of that image, with the project in /app."""
    import shutil

    from kitaru.deployments import invoke
    from kitaru.stack import registry
    from kitaru.stack.loader import parse_stack_text

    registry.register_stack(parse_stack_text(f"""\
name: docker-deploy
components:
  orchestrator:
    name: docker-deploy
    flavor: docker
    config:
      base_url: {engine.docker_host}
      volumes: ["{docker_stack['artifacts']}:{docker_stack['artifacts']}"]
      labels: {{"{TEST_LABEL}": "{docker_stack['run_id']}"}}
  artifact_store:
    name: docker-e2e-artifacts
    flavor: local
    config:
      path: {docker_stack['artifacts']}
  container_builder:
    name: docker-deploy
    flavor: docker
    config:
      registry: {engine.registry}/kitaru-e2e
      base_url: {engine.docker_host}
""", source="test"), replace=True)  # fmt: skip
    project = tmp_path / "project"
    project.mkdir()
    (project / "shipped.py").write_text(DEPLOYED_FLOW)
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "shipped"\nversion = "0"\n\n'
        f'[tool.kitaru.image]\nbase_image = "{runtime_image.tag}"\n'
    )
    # the Kitaru wheel `kitaru build` puts in the image: this checkout's (the runtime image
    # already holds the same version, so the build needs no index)
    wheels = tmp_path / "cache" / "wheels"
    wheels.mkdir(parents=True)
    for wheel in runtime_image.wheels.glob("kitaru-*.whl"):
        shutil.copy2(wheel, wheels)
    env = connected.env(KITARU_CACHE=str(tmp_path / "cache"))
    env.pop("KITARU_STACK", None)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "kitaru.cli", "deploy", f"{project / 'shipped.py'}:shipped",
         "--stack", "docker-deploy"],
        env=env, capture_output=True, text=True, cwd=project, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"kitaru deploy (build + push): {time.monotonic() - started:.1f} s")
    assert f"pushing {engine.registry}/kitaru-e2e/shipped:" in proc.stdout

    started = time.monotonic()
    handle = invoke("shipped", {"x": 41})
    result = handle.wait(timeout=180)
    print(f"invoke -> result from a container: {time.monotonic() - started:.1f} s")
    assert result == {"sum": 42, "cwd": "/app", "container": True}
    from kitaru.store import default_store

    execution = default_store().get_execution(handle.id)
    image = execution.options["deployment"]["image"]
    assert image.startswith(f"{engine.registry}/kitaru-e2e/shipped@sha256:")
    assert execution.metadata["units"][0]["image"] == image

    # the same code again: a new version, no new build, the same image
    again = subprocess.run(
        [sys.executable, "-m", "kitaru.cli", "deploy", f"{project / 'shipped.py'}:shipped",
         "--stack", "docker-deploy", "--tag", "same"],
        env=env, capture_output=True, text=True, cwd=project, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "is up to date: nothing to build" in again.stdout and "pushing" not in again.stdout
    from kitaru.deployments import resolve

    first, second = resolve("shipped", version=1), resolve("shipped", tag="same")
    assert second.version == 2 and second.image is not None
    assert second.image.split("@")[0].rsplit(":", 1)[0] == first.image.split("@")[0]  # type: ignore[union-attr]

    # a registry that cannot be reached: a clear error and no version registered
    registry.register_stack(parse_stack_text(f"""\
name: docker-deploy-dead
components:
  orchestrator:
    name: docker-deploy
    flavor: docker
  artifact_store:
    name: docker-e2e-artifacts
    flavor: local
  container_builder:
    name: docker-dead
    flavor: docker
    config:
      registry: 127.0.0.1:1/kitaru-e2e
      base_url: {engine.docker_host}
""", source="test"), replace=True)  # fmt: skip
    (project / "shipped.py").write_text(DEPLOYED_FLOW + "\n# changed\n")
    dead = subprocess.run(
        [sys.executable, "-m", "kitaru.cli", "deploy", f"{project / 'shipped.py'}:shipped",
         "--stack", "docker-deploy-dead"],
        env=env, capture_output=True, text=True, cwd=project, timeout=600,
    )  # fmt: skip
    assert dead.returncode != 0
    assert "127.0.0.1:1" in dead.stderr and dead.stderr.startswith("error: ")
    assert [d.version for d in registry_versions("shipped")] == [1, 2]


def registry_versions(flow_name: str) -> list[Any]:
    from kitaru.client import KitaruClient

    return KitaruClient().deployments.list(flow_name)


def test_the_seed_review_flow_runs_unchanged_on_the_docker_stack(connected: Server) -> None:
    """examples/review_flow.py exactly as on `local`: with the docker stack active its
    execution runs in a container, waits (the container exits), is approved from another
    process and finishes in a new container; the script's own `.wait()` gets the result."""
    import threading

    from kitaru import KitaruClient

    repo = Path(__file__).resolve().parents[3]
    env = connected.env(KITARU_STACK=STACK)
    started = time.time()
    script = subprocess.Popen([sys.executable, str(repo / "examples" / "review_flow.py")],
                              cwd=repo, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    approved: list[str] = []

    def approve() -> None:
        client = KitaruClient()
        deadline = time.time() + 180
        while time.time() < deadline:
            waiting = [e for e in client.executions.list(flow="review_flow", status="waiting")
                       if e.created_at >= started]  # fmt: skip
            if waiting:
                subprocess.run([sys.executable, "-m", "kitaru.cli", "executions", "input",
                                waiting[0].id, "--value", "true"], env=env, check=True,
                               capture_output=True, timeout=120)  # fmt: skip
                approved.append(waiting[0].id)
                return
            time.sleep(0.2)

    thread = threading.Thread(target=approve)
    thread.start()
    _, err = script.communicate(timeout=300)
    thread.join()
    assert script.returncode == 0, err[-3000:]
    assert approved, "the flow never reached its approval wait"
    info = KitaruClient().executions.get(approved[0])
    assert info.status == "completed" and info.result_preview.startswith("[offline answer")
    assert [c.call_id for c in info.llm_calls] == ["research/llm", "draft/llm"]
    containers = [u for u in info.metadata["units"] if u["role"] != "checkpoint"]
    assert len(containers) >= 2  # one ran it to the wait, another finished it after the input


def test_secrets_are_resolved_inside_the_container(connected: Server) -> None:
    """The API key (``api_key``) and the flow's secret environment reach the container as
    references: ``kitaru.entrypoint`` resolves them through the stack's local secret store (its
    file mounted read-only); no value is in the container's spec."""
    import hashlib

    import docker_e2e_flows as flows

    from kitaru.testing import SecretsThrough, build_component

    token = f"tok-{uuid.uuid4().hex}"
    secrets = build_component("secret_store", "local")  # this client's (an isolated home)
    secrets.set("kitaru-server", {"api_key": connected.admin_key})
    secrets.set("svc", {"token": token})
    config = docker_orchestrator().config.model_dump()
    o = build_component("orchestrator", "docker", name="docker-e2e-keyed",
                        secrets=SecretsThrough("local"),
                        **{**config, "api_key": "{{secret:kitaru-server.api_key}}"})  # fmt: skip
    handle = run_on(o, flows.reads_a_secret, {})
    result = handle.wait(timeout=180)

    def digest(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()

    assert result == {"token": digest(token), "api_key": digest(connected.admin_key)}
    from kitaru.store import default_store

    (unit,) = default_store().get_execution(handle.id).metadata["units"]
    spec = str(o.client.containers.get(unit["container_id"]).attrs["Config"])
    assert token not in spec and connected.admin_key not in spec
    assert "{{secret:kitaru-server.api_key}}" in spec
