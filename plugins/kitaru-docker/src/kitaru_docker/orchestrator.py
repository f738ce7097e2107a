"""The ``docker`` orchestrator: one container per execution on a Docker engine.

``run`` creates a pending execution and starts ``python -m kitaru.entrypoint run ID`` in a
container; ``resume`` starts ``... resume ID`` in a new one (after input, to recover a crash, or
for a deployment's invocation); an isolated checkpoint call runs as ``... checkpoint ID NAME
INPUTS`` in its own container. The containers reach the Kitaru server through
``KITARU_SERVER_URL`` / ``KITARU_API_KEY``. The execution's metadata records the containers
(``docker.container_id``: the latest, ``docker.containers``: all) and the image.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from kitaru.components.base import ComponentConfig
from kitaru.components.orchestrator import Capabilities, Orchestrator
from kitaru.errors import ConfigError
from kitaru_docker.engine import DockerError, UsesEngine, engine_url, one_line

if TYPE_CHECKING:
    from docker.models.containers import Container

    from kitaru.flow import Flow
    from kitaru.handle import FlowHandle
    from kitaru.store.base import MetadataStore
    from kitaru.store.records import Execution

#: the label every container of an execution carries (value: the execution id)
EXECUTION_LABEL = "org.kitaru.execution"
ROLE_LABEL = "org.kitaru.role"
ORCHESTRATOR_LABEL = "org.kitaru.orchestrator"
#: runtime settings a container inherits from this process when they are set here
PASSED_SETTINGS = ("KITARU_INLINE_LIMIT", "KITARU_LEASE_TTL", "KITARU_HEARTBEAT_INTERVAL",
                   "KITARU_ALLOW_PICKLE")  # fmt: skip

TERMINAL = ("completed", "failed", "cancelled")
ALIVE = ("created", "restarting", "running", "paused")


def map_status(stored: str, shown: str, container_states: list[str] | None) -> str:
    """The execution's status from the store's record and the states of its containers.

    ``stored``: the store's status; ``shown``: the store's display status (``crashed`` for a dead
    lease); ``container_states``: ``State.Status`` of each container that runs or resumes the
    execution (None: none recorded; empty: all gone). Read the containers first, then the store:
    a process writes its final status before its container exits.
    """
    if stored in TERMINAL or stored == "waiting":
        return stored  # the container exits after releasing a waiting execution
    if container_states is None:
        return shown
    if any(state in ALIVE for state in container_states):
        return "pending" if stored == "pending" else "running"
    # exited / dead / removing / gone: no process is left and none finished the execution
    return "crashed"


class DockerOrchestratorConfig(ComponentConfig):
    #: the image executions run in (a deployment's image takes precedence)
    image: str | None = None
    #: the engine, e.g. ``unix:///var/run/docker.sock`` (default: ``DOCKER_HOST``)
    base_url: str | None = None
    #: the Kitaru server the containers report to (default: the one this client uses)
    server_url: str | None = None
    #: its API key, a ``{{secret:name.key}}`` reference (default: this client's key)
    api_key: str | None = None
    #: extra environment of every container
    environment: dict[str, str] = Field(default_factory=dict)
    #: ``host``: containers reach services on this machine's 127.0.0.1 (e.g. the server)
    network_mode: str | None = "host"
    #: bind mounts, ``/host/path:/container/path[:ro]``
    volumes: list[str] = Field(default_factory=list)
    #: bind-mount the flow's code (its import root) read-only at the same path
    mount_code: bool = False
    #: recorded code path -> path inside the image (``KITARU_CODE_MAP``)
    code_map: dict[str, str] = Field(default_factory=dict)
    #: the Python that has kitaru installed, inside the image
    python: str = "python3"
    #: seconds a container gets to stop after SIGTERM when an execution is cancelled
    stop_timeout: int = Field(default=10, ge=0)
    #: seconds one isolated checkpoint container may run
    checkpoint_timeout: float = Field(default=3600.0, gt=0)
    #: remove a checkpoint's container once its reply is read
    remove_checkpoint_containers: bool = True
    #: extra labels on every container
    labels: dict[str, str] = Field(default_factory=dict)
    #: seconds one engine API call may take
    timeout: float = Field(default=120.0, gt=0)
    #: give containers this engine (its unix socket mounted, DOCKER_HOST set): an execution
    #: starts its isolated checkpoints' containers from inside its own
    share_engine: bool = True

    @field_validator("api_key")
    @classmethod
    def _api_key_is_a_reference(cls, value: str | None) -> str | None:
        from kitaru.stack.references import is_secret_reference

        if value is not None and not is_secret_reference(value):
            raise ValueError("api_key must be a {{secret:name.key}} reference, not the key")
        return value

    @field_validator("volumes")
    @classmethod
    def _volumes_have_two_paths(cls, value: list[str]) -> list[str]:
        for v in value:
            parts = v.split(":")
            if (
                len(parts) not in (2, 3)
                or not all(parts[:2])
                or parts[2:] not in ([], ["ro"], ["rw"])
            ):
                raise ValueError(f"volume {v!r}: write /host/path:/container/path[:ro|:rw]")
        return value


class DockerOrchestrator(Orchestrator, UsesEngine):
    capabilities = Capabilities(needs_image=True, isolated_checkpoints=True)
    config: DockerOrchestratorConfig

    # -- what a container gets ------------------------------------------------------------------
    def server(self) -> tuple[str, str]:
        """``(url, api_key)`` the containers use to reach the control plane."""
        from kitaru.connection import configured

        here = configured()
        url = self.config.server_url or (here[0] if here else None)
        if not url:
            raise ConfigError(
                f"orchestrator {self.name!r} needs a Kitaru server its containers can reach",
                hint="set server_url and api_key on the orchestrator, or connect this client "
                "(`kitaru login`, or KITARU_SERVER_URL and KITARU_API_KEY)",
            )
        same = here is not None and here[0].rstrip("/") == url.rstrip("/")
        if self.config.api_key:
            try:
                return url, self.secret(self.config.api_key)
            except ConfigError:
                if not same:  # inside a container the key comes with KITARU_API_KEY
                    raise
        if here is not None and same:
            return url, here[1]
        raise ConfigError(f"orchestrator {self.name!r} has server_url {url} but no api_key",
                          hint='set api_key: "{{secret:NAME.KEY}}"')  # fmt: skip

    def image_for(self, execution: Execution) -> str:
        """The deployment's image, else the one the execution started with, else ``image``."""
        deployment = execution.options.get("deployment") or {}
        recorded = (execution.metadata or {}).get("docker") or {}
        image = deployment.get("image") or recorded.get("image") or self.config.image
        if not image:
            raise ConfigError(
                f"orchestrator {self.name!r} has no image to run execution {execution.id} in",
                hint="set `image` on the orchestrator (an image with kitaru and the flow's code)",
            )
        return str(image)

    def environment(self, execution: Execution | None = None) -> dict[str, str]:
        url, key = self.server()
        env = {k: os.environ[k] for k in PASSED_SETTINGS if k in os.environ}
        env.update(self.config.environment)
        env.update({"KITARU_SERVER_URL": url, "KITARU_API_KEY": key, "PYTHONUNBUFFERED": "1"})
        if self.config.code_map:
            env["KITARU_CODE_MAP"] = ",".join(f"{k}={v}" for k, v in self.config.code_map.items())
        if self.config.share_engine:
            env["DOCKER_HOST"] = engine_url(self.config.base_url)
        # ImageSettings.secret_environment: references recorded on the execution, resolved
        # through the stack's secret store for this container only
        secrets = (execution.options.get("secret_environment") if execution else None) or {}
        for name, reference in secrets.items():
            env[name] = self.secret(reference)
        return env

    def volumes(self, execution: Execution) -> dict[str, dict[str, str]]:
        mounts: dict[str, dict[str, str]] = {}
        for v in self.config.volumes:
            host, inside, *mode = v.split(":")
            mounts[host] = {"bind": inside, "mode": mode[0] if mode else "rw"}
        engine = engine_url(self.config.base_url)
        if self.config.share_engine and engine.startswith("unix://"):
            socket_path = engine.removeprefix("unix://")
            mounts[socket_path] = {"bind": socket_path, "mode": "rw"}
        if self.config.mount_code:
            root = execution.root or (
                os.path.dirname(execution.source_file) if execution.source_file else None
            )
            if root:
                mounts[root] = {"bind": root, "mode": "ro"}
        return mounts

    def container_spec(self, execution: Execution, command: list[str], role: str) -> dict[str, Any]:
        """Keyword arguments of ``client.containers.run`` for one unit of ``execution``."""
        spec: dict[str, Any] = {
            "image": self.image_for(execution),
            # the entrypoint is set, not appended to: images from `kitaru build` have
            # ENTRYPOINT ["python3", "-m", "kitaru.entrypoint"], other images may have another
            "entrypoint": [self.config.python, "-m", "kitaru.entrypoint"],
            "command": command,
            "environment": self.environment(execution),
            "labels": {
                **self.config.labels,
                EXECUTION_LABEL: execution.id,
                ROLE_LABEL: role,
                ORCHESTRATOR_LABEL: self.name,
            },
            "detach": True,
        }
        if self.config.network_mode:
            spec["network_mode"] = self.config.network_mode
        volumes = self.volumes(execution)
        if volumes:
            spec["volumes"] = volumes
        return spec

    def _with_image_code_map(self, spec: dict[str, Any]) -> dict[str, Any]:
        """``code_map`` comes first, the image's own ``KITARU_CODE_MAP`` (``kitaru build``
        bakes one in) after it: setting one must not drop the other."""
        from docker.errors import DockerException

        ours = spec["environment"].get("KITARU_CODE_MAP")
        if not ours:
            return spec
        try:
            env = self.client.images.get(spec["image"]).attrs.get("Config", {}).get("Env") or []
        except DockerException:  # not here yet (the run pulls it): ours alone
            return spec
        for item in env:
            name, _, value = str(item).partition("=")
            if name == "KITARU_CODE_MAP" and value:
                spec["environment"]["KITARU_CODE_MAP"] = f"{ours},{value}"
        return spec

    def _launch(self, store: MetadataStore, execution: Execution, verb: str) -> Container:
        """Start ``entrypoint VERB ID`` and record the container on the execution."""
        from docker.errors import DockerException

        spec = self._with_image_code_map(self.container_spec(execution, [verb, execution.id], verb))
        try:
            container = self.client.containers.run(**spec)
        except DockerException as exc:
            explanation = getattr(exc, "explanation", None) or exc
            raise DockerError(
                f"cannot start a container for execution {execution.id} from {spec['image']}: "
                f"{one_line(explanation)}",
                hint="is the image built and reachable by the engine? (`kitaru build`)",
            ) from exc
        recorded = dict((store.get_execution(execution.id).metadata or {}).get("docker") or {})
        containers = [*recorded.get("containers", []), container.id]
        store.update_metadata(execution.pk, {"docker": {
            **recorded, "container_id": container.id, "containers": containers,
            "image": spec["image"],
        }})  # fmt: skip
        return container

    # -- the interface --------------------------------------------------------------------------
    def run(self, flow: Flow[Any], arguments: dict[str, Any]) -> FlowHandle[Any]:
        """Create a pending execution and start its container; return its handle at once."""
        if not self.config.image:  # before anything is created
            raise ConfigError(f"orchestrator {self.name!r} has no image",
                              hint="set `image` (an image with kitaru and the flow's code)")  # fmt: skip
        self.server()
        return self.submit(flow, arguments, lambda store, ex: self._launch(store, ex, "run"))

    def resume(self, execution_id: str) -> None:
        """Continue the execution (pending, waiting or crashed) in a new container."""
        from kitaru.store import default_store

        store = default_store()
        self._launch(store, store.get_execution(execution_id), "resume")

    def containers_of(self, execution_id: str, *, running: bool = False) -> list[Container]:
        filters: dict[str, Any] = {"label": f"{EXECUTION_LABEL}={execution_id}"}
        if running:
            filters["status"] = "running"
        return list(self.client.containers.list(all=not running, filters=filters))

    def cancel(self, execution_id: str) -> None:
        """Stop the execution's running containers (the store already says cancelled)."""
        from docker.errors import APIError, NotFound

        for container in self.containers_of(execution_id, running=True):
            try:
                container.stop(timeout=self.config.stop_timeout)
            except NotFound:
                pass  # it ended meanwhile
            except APIError as exc:
                if "not running" not in str(exc).lower():
                    raise

    def status(self, execution_id: str) -> str:
        from kitaru.store import default_store
        from kitaru.store.records import display_status

        store = default_store()
        execution = store.get_execution(execution_id)
        if execution.status in TERMINAL or execution.status == "waiting":
            return execution.status
        if not ((execution.metadata or {}).get("docker") or {}).get("containers"):
            return display_status(execution, time.time())
        states = [
            str(c.status).lower()
            for c in self.containers_of(execution_id)
            if c.labels.get(ROLE_LABEL) in ("run", "resume")
        ]
        execution = store.get_execution(execution_id)  # after the containers: see map_status
        return map_status(execution.status, display_status(execution, time.time()), states)

    def run_checkpoint(
        self, execution_id: str, checkpoint: str, inputs: list[Any]
    ) -> dict[str, Any]:
        """Run one isolated checkpoint call in its own container and read its JSON reply."""
        from docker.errors import DockerException

        from kitaru.store import default_store

        execution = default_store().get_execution(execution_id)
        spec = self._with_image_code_map(
            self.container_spec(
                execution,
                ["checkpoint", execution_id, checkpoint, json.dumps(inputs)],
                "checkpoint",
            )
        )
        unit: dict[str, Any] = {"docker_image": spec["image"]}
        try:
            container = self.client.containers.run(**spec)
        except DockerException as exc:
            return {"error": ["IsolatedUnitFailed", f"cannot start a container from "
                              f"{spec['image']}: {one_line(getattr(exc, 'explanation', None) or exc)}"],
                    "unit": unit}  # fmt: skip
        unit["docker_container_id"] = container.id
        try:
            try:
                code = int(container.wait(timeout=self.config.checkpoint_timeout)["StatusCode"])
            except Exception:  # the wait timed out (requests raises its own types)
                container.stop(timeout=self.config.stop_timeout)
                return {"error": ["IsolatedUnitFailed", f"container {container.short_id} ran over "
                                  f"{self.config.checkpoint_timeout:g} s"], "unit": unit}  # fmt: skip
            out = container.logs(stdout=True, stderr=False).decode(errors="replace")
            lines = [line for line in out.splitlines() if line.startswith("{")]
            if code != 0 or not lines:
                err = container.logs(stdout=False, stderr=True).decode(errors="replace")
                tail = (err.strip().splitlines() or ["no output"])[-1]
                return {"error": ["IsolatedUnitFailed", f"exit {code}: {tail}"], "unit": unit}
            reply: dict[str, Any] = json.loads(lines[-1])
            reply["unit"] = unit
            return reply
        finally:
            if self.config.remove_checkpoint_containers:
                try:
                    container.remove(force=True)
                except DockerException:
                    pass

    def logs(self, execution_id: str) -> list[dict[str, Any]]:
        """The execution's captured logs; if none reached the store (e.g. the container could
        not import the flow), the latest container's output instead."""
        records = super().logs(execution_id)
        if records:
            return records
        from docker.errors import DockerException

        from kitaru.store import default_store

        execution = default_store().get_execution(execution_id)
        container_id = ((execution.metadata or {}).get("docker") or {}).get("container_id")
        if not container_id:
            return []
        try:
            raw = self.client.containers.get(container_id).logs(timestamps=False)
        except DockerException:
            return []
        return [{"stream": "container", "line": line}
                for line in raw.decode(errors="replace").splitlines()]  # fmt: skip

    def verify(self) -> None:
        """The engine answers a ping."""
        self.client  # noqa: B018 - connecting is the check
