"""The ``docker`` orchestrator: each unit of work is a container on a Docker engine.

A :class:`~kitaru.components.job_orchestrator.JobOrchestrator`: the core decides what runs
(``python -m kitaru.entrypoint run|resume ID``, or ``checkpoint ID NAME -`` for an isolated
checkpoint call) and records the units on the execution; this module starts, inspects, stops
and reads the output of containers. They reach the Kitaru server through
``KITARU_SERVER_URL`` / ``KITARU_API_KEY``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from kitaru.components.job_orchestrator import (
    JobOrchestrator,
    JobOrchestratorConfig,
    UnitSpec,
    UnitState,
)
from kitaru.errors import ConfigError
from kitaru_docker.engine import DockerError, UsesEngine, engine_url, one_line

if TYPE_CHECKING:
    from docker.models.containers import Container

    from kitaru.store.records import Execution

#: labels every container carries
EXECUTION_LABEL = "org.kitaru.execution"
ROLE_LABEL = "org.kitaru.role"
ORCHESTRATOR_LABEL = "org.kitaru.orchestrator"
#: container states (``State.Status``) while its process may still run
ALIVE = ("created", "restarting", "running", "paused")


def unit_state(status: str, exit_code: int | None, error: str | None) -> UnitState:
    """A container's state as a unit's."""
    if status in ALIVE:
        return UnitState("pending" if status == "created" else "running")
    if exit_code == 0:
        return UnitState("succeeded")
    why = f"exit code {exit_code}" + (f": {one_line(error)}" if error else "")
    return UnitState("failed", why)


class DockerOrchestratorConfig(JobOrchestratorConfig):
    #: the engine, e.g. ``unix:///var/run/docker.sock`` (default: ``DOCKER_HOST``)
    base_url: str | None = None
    #: its API key, a ``{{secret:name.key}}`` reference (default: this client's key)
    api_key: str | None = None
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


class DockerOrchestrator(JobOrchestrator, UsesEngine):
    config: DockerOrchestratorConfig
    poll_longest = 0.5  # a local engine answers in milliseconds

    # -- what a container gets ------------------------------------------------------------------
    def server(self) -> tuple[str, str]:
        """``(url, api_key)`` the containers use to reach the control plane."""
        from kitaru.connection import configured

        here = configured()
        url = self.server_url()
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

    def check_server_access(self) -> None:
        self.server()

    def unit_environment(self, execution: Execution) -> dict[str, str]:
        env = {"KITARU_API_KEY": self.server()[1]}
        if self.config.code_map:
            env["KITARU_CODE_MAP"] = ",".join(f"{k}={v}" for k, v in self.config.code_map.items())
        if self.config.share_engine:
            env["DOCKER_HOST"] = engine_url(self.config.base_url)
        # ImageSettings.secret_environment: references recorded on the execution, resolved
        # through the stack's secret store for this container only
        for name, reference in (execution.options.get("secret_environment") or {}).items():
            env[name] = self.secret(reference)
        return env

    def checkpoint_time_limit(self) -> float:
        return self.config.checkpoint_timeout

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

    def container_spec(self, spec: UnitSpec, execution: Execution) -> dict[str, Any]:
        """Keyword arguments of ``client.containers.run`` for one unit."""
        kwargs: dict[str, Any] = {
            "name": spec.name,
            "image": spec.image,
            # the entrypoint is set, not appended to: images from `kitaru build` have
            # ENTRYPOINT ["python3", "-m", "kitaru.entrypoint"], other images may have another
            "entrypoint": [self.config.python, "-m", "kitaru.entrypoint"],
            "command": spec.arguments,
            "environment": dict(spec.environment),
            "labels": {**self.config.labels, EXECUTION_LABEL: spec.execution_id,
                       ROLE_LABEL: spec.role, ORCHESTRATOR_LABEL: self.name},
            "detach": True,
        }  # fmt: skip
        if self.config.network_mode:
            kwargs["network_mode"] = self.config.network_mode
        if volumes := self.volumes(execution):
            kwargs["volumes"] = volumes
        return kwargs

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

    # -- units ------------------------------------------------------------------------------------
    def submit_unit(self, spec: UnitSpec) -> dict[str, Any]:
        from docker.errors import DockerException

        kwargs = self._with_image_code_map(
            self.container_spec(spec, self._execution(spec.execution_id))
        )
        try:
            container = self.client.containers.run(**kwargs)
        except DockerException as exc:
            explanation = getattr(exc, "explanation", None) or exc
            raise DockerError(
                f"cannot start a container for execution {spec.execution_id} from "
                f"{spec.image}: {one_line(explanation)}",
                hint="is the image built and reachable by the engine? (`kitaru build`)",
            ) from exc
        return {"container_id": container.id}

    def _container(self, name: str) -> Container | None:
        from docker.errors import NotFound

        try:
            return self.client.containers.get(name)
        except NotFound:
            return None

    def unit_state(self, name: str) -> UnitState:
        container = self._container(name)
        if container is None:
            return UnitState("gone", "the container was removed")
        state = container.attrs.get("State") or {}
        return unit_state(str(state.get("Status") or container.status).lower(),
                          state.get("ExitCode"), state.get("Error") or None)  # fmt: skip

    def stop_unit(self, name: str) -> None:
        from docker.errors import APIError, NotFound

        container = self._container(name)
        if container is None:
            return
        try:
            container.stop(timeout=self.config.stop_timeout)
        except NotFound:
            pass  # it ended meanwhile
        except APIError as exc:
            if "not running" not in str(exc).lower():
                raise

    def unit_logs(self, name: str) -> list[dict[str, Any]]:
        from docker.errors import DockerException

        container = self._container(name)
        if container is None:
            return []
        try:
            raw = container.logs(timestamps=False)
        except DockerException:
            return []
        return [{"stream": "container", "line": line}
                for line in raw.decode(errors="replace").splitlines()]  # fmt: skip

    def release_unit(self, name: str) -> None:
        """A checkpoint's container, once its reply is read, unless kept for inspection."""
        from docker.errors import DockerException

        container = self._container(name)
        if container is not None and self.config.remove_checkpoint_containers:
            try:
                container.remove(force=True)
            except DockerException:
                pass

    def verify(self) -> None:
        """The engine answers a ping."""
        self.client  # noqa: B018 - connecting is the check
