"""The ``docker`` orchestrator's config: validated settings, importable without the docker SDK
(listing and validating flavors imports no implementation)."""

from __future__ import annotations

from pydantic import Field, field_validator

from kitaru.components.job_orchestrator import JobOrchestratorConfig


class DockerOrchestratorConfig(JobOrchestratorConfig):
    #: the engine, e.g. ``unix:///var/run/docker.sock`` (default: ``DOCKER_HOST``)
    base_url: str | None = None
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

    def mounts(self, engine: str, code_root: str | None) -> dict[str, dict[str, str]]:
        """Bind mounts of a unit's container: ``volumes``, the engine's socket (with
        ``share_engine``), the flow's code read-only (with ``mount_code``)."""
        mounts: dict[str, dict[str, str]] = {}
        for v in self.volumes:
            host, inside, *mode = v.split(":")
            mounts[host] = {"bind": inside, "mode": mode[0] if mode else "rw"}
        if self.share_engine and engine.startswith("unix://"):
            socket_path = engine.removeprefix("unix://")
            mounts[socket_path] = {"bind": socket_path, "mode": "rw"}
        if self.mount_code and code_root:
            mounts[code_root] = {"bind": code_root, "mode": "ro"}
        return mounts
