"""The ``docker`` orchestrator: each unit of work is a container on a Docker engine.

A :class:`~kitaru.components.job_orchestrator.JobOrchestrator`: the core decides what runs
(``python -m kitaru.entrypoint run|resume ID``, or ``checkpoint ID NAME -`` for an isolated
checkpoint call) and records the units on the execution; this module starts, inspects, stops
and reads the output of containers. They reach the Kitaru server through
``KITARU_SERVER_URL`` and the API key (``api_key``, resolved inside the container).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from kitaru.components.job_orchestrator import SECRET_STORE_ENV as STORE_ENV
from kitaru.components.job_orchestrator import JobOrchestrator, UnitSpec, UnitState
from kitaru.components.orchestrator import LogLine
from kitaru_docker.engine import DockerError, UsesEngine, engine_url, one_line
from kitaru_docker.orchestrator_config import DockerOrchestratorConfig

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


def local_secret_file(environment: dict[str, str]) -> str | None:
    """The ``local`` secret store's file a unit resolves its secrets from, if it exists."""
    store = json.loads(environment.get(STORE_ENV) or "{}")
    path = store.get("config", {}).get("path") if store.get("flavor") == "local" else None
    return str(path) if path and os.path.isfile(path) else None


class DockerOrchestrator(JobOrchestrator, UsesEngine):
    config: DockerOrchestratorConfig
    poll_longest = 0.5  # a local engine answers in milliseconds

    # -- what a container gets ------------------------------------------------------------------
    # With no api_key, containers get this client's key: they run on this machine, which has it.
    units_on_this_machine = True

    def unit_secret_store(self) -> dict[str, Any]:
        """A container sees none of this machine's files: with the ``local`` secret store it
        reads the secret file, mounted read-only at the same path (see :meth:`container_spec`)."""
        store = super().unit_secret_store()
        if store.get("flavor") == "local" and not store.get("config", {}).get("path"):
            from kitaru.config import settings

            store = {"flavor": "local", "config": {"path": str(settings().home / "secrets.json")}}
        return store

    def unit_environment(self, execution: Execution) -> dict[str, str]:
        env = {}
        if self.config.code_map:
            env["KITARU_CODE_MAP"] = ",".join(f"{k}={v}" for k, v in self.config.code_map.items())
        if self.config.share_engine:
            env["DOCKER_HOST"] = engine_url(self.config.base_url)
        return env

    def checkpoint_time_limit(self) -> float:
        return self.config.checkpoint_timeout

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
        code = execution.root or (
            os.path.dirname(execution.source_file) if execution.source_file else None
        )
        volumes = self.config.mounts(engine_url(self.config.base_url), code)
        if secrets := local_secret_file(spec.environment):
            volumes[secrets] = {"bind": secrets, "mode": "ro"}
        if volumes:
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

    def unit_logs(self, name: str) -> list[LogLine]:
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
