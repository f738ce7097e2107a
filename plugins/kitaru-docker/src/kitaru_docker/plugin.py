"""The plugin module (entry point ``kitaru = docker``): it only describes its flavors."""

from __future__ import annotations

from kitaru.components.flavor import Flavor
from kitaru.components.standins import StandIn
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


@hookimpl
def kitaru_standins() -> list[StandIn]:
    """In a smoke run the ``docker`` builder pushes to the CI job's own registry; the ``docker``
    orchestrator runs on its engine."""
    return [
        StandIn(
            name="local registry",
            serves=(("container_builder", "docker"), ("orchestrator", "docker")),
            implementation="kitaru_docker.smoke:docker_registry",
            install_hint=_HINT,
            description="the smoke run's engine (DOCKER_HOST) and registry (--registry)",
        )
    ]
