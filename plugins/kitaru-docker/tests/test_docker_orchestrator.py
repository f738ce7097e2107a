"""The ``docker`` orchestrator without a server: how container states map to execution
statuses, the container it asks the engine for, its config checks; then status and cancel
against real containers (busybox) on the podman engine."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from kitaru.errors import ConfigError
from kitaru.testing import SecretsThrough, build_component, run_on

if TYPE_CHECKING:
    from conftest import Engine
    from kitaru_docker.orchestrator import DockerOrchestrator

SERVER = {"KITARU_SERVER_URL": "http://127.0.0.1:8999", "KITARU_API_KEY": "kitaru_abc_def"}


def orchestrator(**config: Any) -> DockerOrchestrator:
    return build_component("orchestrator", "docker", name="dock", **config)


@pytest.fixture
def connected(monkeypatch: pytest.MonkeyPatch, isolated_kitaru_home: Path) -> None:
    """This process names a server (nothing is called on it in these tests)."""
    for k, v in SERVER.items():
        monkeypatch.setenv(k, v)
    for k in ("KITARU_LEASE_TTL", "KITARU_INLINE_LIMIT", "DOCKER_HOST"):
        monkeypatch.delenv(k, raising=False)


def execution(**extra: Any) -> Any:
    from kitaru.store.records import Execution

    fields: dict[str, Any] = {
        "pk": 1, "id": "ex-1", "flow": "f", "status": "pending", "module": "proj.flows",
        "qualname": "f", "source_file": "/home/me/proj/proj/flows.py", "root": "/home/me/proj",
        "inputs": {}, "created_at": time.time(),
    }  # fmt: skip
    fields.update(extra)
    return Execution(**fields)


# -- status mapping ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stored", "shown", "states", "expected"),
    [
        # the store's word is final once the execution ended or released itself on a wait
        ("completed", "completed", ["exited"], "completed"),
        ("failed", "failed", ["running"], "failed"),
        ("cancelled", "cancelled", ["exited"], "cancelled"),
        ("waiting", "waiting", ["exited"], "waiting"),
        ("waiting", "waiting", [], "waiting"),
        # no container recorded: the store's display status (its lease rules)
        ("pending", "pending", None, "pending"),
        ("running", "crashed", None, "crashed"),
        # a live container
        ("pending", "pending", ["created"], "pending"),
        ("pending", "pending", ["running"], "pending"),
        ("running", "running", ["running"], "running"),
        ("running", "crashed", ["running"], "running"),  # alive, lease late: still running
        ("running", "running", ["paused"], "running"),
        ("running", "running", ["restarting"], "running"),
        ("running", "running", ["exited", "running"], "running"),  # a resume took over
        # every container ended, the execution did not
        ("running", "running", ["exited"], "crashed"),
        ("pending", "pending", ["exited"], "crashed"),
        ("running", "running", ["dead"], "crashed"),
        ("running", "running", ["exited", "removing"], "crashed"),
        ("running", "running", [], "crashed"),  # the containers were removed
    ],
)
def test_status_mapping(stored: str, shown: str, states: list[str] | None, expected: str) -> None:
    from kitaru_docker.orchestrator import unit_state

    from kitaru.components.job_orchestrator import map_status

    units = None if states is None else [unit_state(s, 1, None) for s in states]
    assert map_status(stored, shown, units) == expected


def test_unit_states_of_containers() -> None:
    from kitaru_docker.orchestrator import unit_state

    assert unit_state("created", None, None).phase == "pending"
    assert unit_state("running", None, None).phase == "running"
    assert unit_state("exited", 0, None).phase == "succeeded"
    failed = unit_state("exited", 137, "OOM\nkilled")
    assert (failed.phase, failed.reason) == ("failed", "exit code 137: OOM; killed")


# -- the container spec -----------------------------------------------------------------------
def test_container_spec_runs_the_entrypoint_connected_to_the_server(connected: None) -> None:
    o = orchestrator(image="reg/app:1", environment={"A": "1"}, labels={"team": "x"},
                     code_map={"/home/me/proj": "/app"}, base_url="unix:///run/e.sock")  # fmt: skip
    spec = o.container_spec(o.unit_spec(execution(), "run"), execution())
    assert spec["name"].startswith("kitaru-run-")
    assert spec["image"] == "reg/app:1"
    assert spec["entrypoint"] == ["python3", "-m", "kitaru.entrypoint"]
    assert spec["command"] == ["run", "ex-1"]
    assert spec["detach"] is True and spec["network_mode"] == "host"
    env = spec["environment"]
    assert {k: env[k] for k in SERVER} == SERVER
    assert env["A"] == "1" and env["KITARU_CODE_MAP"] == "/home/me/proj=/app"
    assert env["DOCKER_HOST"] == "unix:///run/e.sock"  # isolated checkpoints start from inside
    assert "KITARU_HOME" not in env  # the container has its own
    assert spec["labels"] == {"team": "x", "org.kitaru.execution": "ex-1",
                              "org.kitaru.role": "run", "org.kitaru.orchestrator": "dock"}  # fmt: skip
    assert spec["volumes"] == {"/run/e.sock": {"bind": "/run/e.sock", "mode": "rw"}}


def test_container_spec_mounts(connected: None) -> None:
    o = orchestrator(image="i", volumes=["/data:/data:ro", "/a:/b"], mount_code=True,
                     share_engine=False, network_mode=None, python="/opt/venv/bin/python")  # fmt: skip
    spec = o.container_spec(o.unit_spec(execution(), "resume"), execution())
    assert spec["volumes"] == {
        "/data": {"bind": "/data", "mode": "ro"},
        "/a": {"bind": "/b", "mode": "rw"},
        "/home/me/proj": {"bind": "/home/me/proj", "mode": "ro"},
    }
    assert "network_mode" not in spec and "DOCKER_HOST" not in spec["environment"]
    assert spec["entrypoint"][0] == "/opt/venv/bin/python"


def test_runtime_settings_of_this_process_are_passed(
    connected: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITARU_LEASE_TTL", "3")
    o = orchestrator(image="i")
    env = o.container_spec(o.unit_spec(execution(), "run"), execution())["environment"]
    assert env["KITARU_LEASE_TTL"] == "3"


def test_a_container_of_a_traced_execution_joins_its_trace(
    connected: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run or resume container carries the trace the execution recorded as TRACEPARENT (and
    this process's OTLP settings); an isolated checkpoint's container, started inside the
    checkpoint's span, carries that span."""
    from opentelemetry.sdk.trace import TracerProvider

    from kitaru.tracecontext import METADATA_KEY, TRACEPARENT_ENV

    monkeypatch.setenv("KITARU_OTEL", "1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    traced = execution(metadata={METADATA_KEY: trace})
    o = orchestrator(image="i")

    def env_of(ex: Any, role: str, *extra: str) -> dict[str, str]:
        return dict(o.container_spec(o.unit_spec(ex, role, *extra), ex)["environment"])

    for role in ("run", "resume"):
        env = env_of(traced, role)
        assert env[TRACEPARENT_ENV] == trace
        assert env["KITARU_OTEL"] == "1"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4318"
    assert TRACEPARENT_ENV not in env_of(execution(), "run")  # no trace recorded: none given
    tracer = TracerProvider().get_tracer("test")  # not the global provider
    with tracer.start_as_current_span("checkpoint slow") as span:
        inner = span.get_span_context()
        parent = env_of(traced, "checkpoint", "slow", "-")[TRACEPARENT_ENV]
    assert parent.split("-")[1:3] == [f"{inner.trace_id:032x}", f"{inner.span_id:016x}"]


def test_image_precedence(connected: None) -> None:
    o = orchestrator(image="config:1")
    assert o.image_for(execution()) == "config:1"
    ran = {"units": [{"name": "kitaru-run-1", "role": "run", "image": "started:1"}]}
    started = execution(metadata=ran)
    assert o.image_for(started) == "started:1"  # a resume keeps the execution's image
    deployed = execution(options={"deployment": {"version": 3, "image": "deployed:3"}},
                         metadata=ran)  # fmt: skip
    assert o.image_for(deployed) == "deployed:3"
    with pytest.raises(ConfigError, match="no image"):
        orchestrator().image_for(execution())


def test_api_key_reaches_containers_as_a_reference(connected: None, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # default: the server this client uses, with this client's key (the container runs here)
    o = orchestrator(image="i")
    o.check_server_access()
    env = o.environment(execution())
    assert env["KITARU_SERVER_URL"] == SERVER["KITARU_SERVER_URL"]
    assert env["KITARU_API_KEY"] == SERVER["KITARU_API_KEY"] and "KITARU_SECRET_ENV" not in env
    # another server: its own key, as a reference the container resolves (no value in its spec)
    secrets = SecretsThrough("local", path=str(tmp_path / "secrets.json"))
    o = build_component("orchestrator", "docker", name="d", image="i", secrets=secrets,
                        server_url="http://other:8237", api_key="{{secret:kitaru.key}}")  # fmt: skip
    o.check_server_access()
    env = o.environment(execution())
    assert "KITARU_API_KEY" not in env
    assert json.loads(env["KITARU_SECRET_ENV"]) == {"KITARU_API_KEY": "{{secret:kitaru.key}}"}
    assert json.loads(env["KITARU_SECRET_STORE"]) == secrets.spec
    with pytest.raises(ConfigError, match="no api_key"):
        orchestrator(image="i", server_url="http://other:8237").check_server_access()
    monkeypatch.delenv("KITARU_SERVER_URL")
    monkeypatch.delenv("KITARU_API_KEY")
    with pytest.raises(ConfigError, match="needs a Kitaru server"):
        orchestrator(image="i").check_server_access()


def test_run_checks_its_settings_before_creating_anything(isolated_kitaru_home: Path) -> None:
    from kitaru.store import default_store
    from kitaru.testing.flows import tiny

    with pytest.raises(ConfigError, match="no image"):
        run_on(orchestrator(), tiny, {"x": 1})
    with pytest.raises(ConfigError, match="needs a Kitaru server"):
        run_on(orchestrator(image="i"), tiny, {"x": 1})
    assert default_store().list_executions() == []


@pytest.mark.parametrize(
    "config",
    [
        {"api_key": "kitaru_plain_key"},  # keys are secret references, never plain
        {"volumes": ["/only-one-path"]},
        {"volumes": ["/a:/b:rx"]},
        {"colour": "red"},
        {"stop_timeout": -1},
    ],
)
def test_config_rejects(config: dict[str, Any]) -> None:
    from kitaru_docker.orchestrator_config import DockerOrchestratorConfig

    with pytest.raises(ValidationError):
        DockerOrchestratorConfig(**config)


def test_flavor_and_capabilities() -> None:
    from kitaru.plugins.manager import plugin_manager

    assert plugin_manager().flavor("orchestrator", "docker").provider == "kitaru-docker"
    caps = orchestrator().capabilities
    assert caps.needs_image and caps.isolated_checkpoints


def test_no_docker_import_until_used() -> None:
    """Listing flavors, loading the config classes and the implementations imports no docker."""
    probe = """
import json, sys
from kitaru.plugins.manager import plugin_manager
from kitaru.testing import build_component
for kind in ("orchestrator", "container_builder"):
    f = plugin_manager().flavor(kind, "docker")
    f.load_config_class(); f.load_implementation()
    build_component(kind, "docker", image="i") if kind == "orchestrator" else build_component(kind, "docker")
print(json.dumps(sorted(m for m in sys.modules if m == "docker" or m.startswith("docker."))))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


# -- against the engine -----------------------------------------------------------------------
def test_status_and_cancel_follow_real_containers(
    engine: Engine, isolated_kitaru_home: Path
) -> None:
    from kitaru.store import default_store

    o = orchestrator(image=engine.busybox, base_url=engine.docker_host, stop_timeout=1)
    store = default_store()
    ex = store.create_execution(flow="f", module="m", qualname="f", source_file=None, root=None,
                                inputs={}, status="running", lease=("elsewhere", 60.0))  # fmt: skip
    labels = {"org.kitaru.role": "run", "org.kitaru.test": "1", "org.kitaru.execution": ex.id}
    name = f"kitaru-run-{ex.id}"
    alive = o.client.containers.run(engine.busybox, ["sleep", "300"], detach=True, labels=labels,
                                    name=name)  # fmt: skip
    try:
        store.update_metadata(ex.pk, {"units": [{"name": name, "role": "run"}]})
        assert o.status(ex.id) == "running"
        started = time.monotonic()
        o.cancel(ex.id)  # stops it (SIGTERM, then SIGKILL after stop_timeout)
        assert time.monotonic() - started < 15
        alive.reload()
        assert alive.status == "exited"
        assert o.status(ex.id) == "crashed"  # the store still says running: nobody finished it
        reason = o.failure(ex.id)  # what `executions show` prints for the crash
        assert reason is not None and reason.startswith(f"{name} failed: exit code 1"), reason
        store.set_status(ex.pk, "cancelled")
        assert o.status(ex.id) == "cancelled"
        o.cancel(ex.id)  # nothing left to stop: no error
    finally:
        alive.remove(force=True)


def test_secret_environment_is_resolved_inside_the_container(
    connected: None, tmp_path: Path
) -> None:
    """ImageSettings.secret_environment: the execution records references, the container's
    spec holds references too; the unit resolves them (``kitaru.entrypoint``) through the
    stack's secret store — here the local file, mounted read-only at the same path."""
    from kitaru.build import ImageSettings
    from kitaru.stack.unit_secrets import export_secret_environment

    path = tmp_path / "secrets.json"
    build_component("secret_store", "local", path=str(path)).set("svc", {"token": "s3cr3t-value"})
    o = build_component("orchestrator", "docker", name="dock", image="i",
                        secrets=SecretsThrough("local", path=str(path)))  # fmt: skip
    ex = execution(options={"secret_environment": {"SVC_TOKEN": "{{secret:svc.token}}"}})
    spec = o.container_spec(o.unit_spec(ex, "run"), ex)
    assert "s3cr3t-value" not in json.dumps(spec) + json.dumps(ex.options)
    assert spec["volumes"][str(path)] == {"bind": str(path), "mode": "ro"}
    inside = dict(spec["environment"])
    assert export_secret_environment(inside) == ["SVC_TOKEN"]
    assert inside["SVC_TOKEN"] == "s3cr3t-value"
    with pytest.raises(ValidationError, match="SVC_TOKEN: write"):
        ImageSettings(secret_environment={"SVC_TOKEN": "plain"})


def test_the_default_local_secret_file_is_mounted(connected: None, tmp_path: Path) -> None:
    from kitaru.config import settings

    home_file = settings().home / "secrets.json"
    build_component("secret_store", "local").set("svc", {"token": "t"})
    o = build_component("orchestrator", "docker", name="dock", image="i",
                        secrets=SecretsThrough("local"))  # fmt: skip
    ex = execution(options={"secret_environment": {"SVC_TOKEN": "{{secret:svc.token}}"}})
    spec = o.container_spec(o.unit_spec(ex, "run"), ex)
    store = json.loads(spec["environment"]["KITARU_SECRET_STORE"])
    assert store == {"flavor": "local", "config": {"path": str(home_file)}}
    assert spec["volumes"][str(home_file)]["mode"] == "ro"
