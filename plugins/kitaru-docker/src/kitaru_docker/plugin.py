"""The plugin module (entry point ``kitaru = docker``): it only describes its flavors."""

from __future__ import annotations

from kitaru.components.flavor import Flavor
from kitaru.plugins import hookimpl, templates_in

_HINT = "pip install kitaru-docker"


@hookimpl
def kitaru_flavors() -> list[Flavor]:
    return [
        Flavor(
            name="docker",
            type="container_builder",
            config_class="kitaru_docker.builder:DockerContainerBuilderConfig",
            implementation="kitaru_docker.builder:DockerContainerBuilder",
            install_hint=_HINT,
            description="builds with a Docker engine (DOCKER_HOST), pushes to `registry`",
        ),
        Flavor(
            name="docker",
            type="orchestrator",
            config_class="kitaru_docker.orchestrator_config:DockerOrchestratorConfig",
            implementation="kitaru_docker.orchestrator:DockerOrchestrator",
            install_hint=_HINT,
            description="one container per execution on a Docker engine, from `image`",
        ),
    ]


@hookimpl
def kitaru_stack_templates() -> list[tuple[str, str]]:
    """``docker``: the docker orchestrator and builder, a registry, artifacts in a folder the
    containers mount: ``kitaru stack register docker --template docker``."""
    return templates_in("kitaru_docker")
