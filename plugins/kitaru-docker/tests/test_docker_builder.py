"""The ``docker`` container builder passes Kitaru's contract against podman's Docker API and a
real registry (docker-registry on 127.0.0.1:5001); its errors name what is unreachable."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from kitaru.components.container_builder import BuildContext, ContainerBuilder
from kitaru.errors import ConfigError, KitaruError
from kitaru.testing import ContainerBuilderContract, build_component
from kitaru.testing.services import free_port

if TYPE_CHECKING:
    from conftest import Engine


def builder(**config: object) -> ContainerBuilder:
    return build_component("container_builder", "docker", name="docker", **config)


class TestDockerContainerBuilder(ContainerBuilderContract):
    @pytest.fixture
    def container_builder(self, engine: Engine) -> ContainerBuilder:
        return builder(registry=f"{engine.registry}/kitaru", base_url=engine.docker_host)


def test_flavor_comes_from_this_distribution() -> None:
    from kitaru.plugins.manager import plugin_manager

    flavor = plugin_manager().flavor("container_builder", "docker")
    assert flavor.provider == "kitaru-docker"


def test_unreachable_engine_is_one_line_naming_the_url(tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/no-engine.sock"
    with pytest.raises(ConfigError) as info:
        builder(base_url=url).verify()
    assert url in info.value.message and "unreachable" in info.value.message
    assert "\n" not in info.value.message


def test_unreachable_registry_is_one_line_naming_the_url(engine: Engine) -> None:
    port = free_port()
    b = builder(registry=f"127.0.0.1:{port}/kitaru", base_url=engine.docker_host)
    for check in (b.verify, lambda: b.exists(f"127.0.0.1:{port}/kitaru/x:1")):
        with pytest.raises(ConfigError) as info:
            check()
        assert f"http://127.0.0.1:{port}" in info.value.message
        assert "unreachable" in info.value.message and "\n" not in info.value.message


def test_build_args_reach_the_build_and_the_push_returns_a_digest(
    engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        f'FROM {engine.busybox}\nARG GREETING\nRUN echo "$GREETING" > /greeting\n'
    )
    b = builder(registry=f"{engine.registry}/kitaru", build_args={"GREETING": "hi there"})
    tag = f"{engine.registry}/kitaru/args:{uuid.uuid4().hex[:8]}"
    steps: list[str] = []
    with b.reporting(steps.append):  # what `kitaru build` streams in a terminal
        image = b.build(BuildContext(str(tmp_path), "Dockerfile", tag))
        out = b.client.containers.run(image, ["cat", "/greeting"], remove=True)
        assert out.decode().strip() == "hi there"
        pushed = b.push(image)
    assert pushed.startswith(f"{engine.registry}/kitaru/args@sha256:"), pushed
    assert b.exists(pushed)  # by digest too
    built = [s for s in steps if s.upper().startswith("STEP ")]
    assert len(built) == 3 and "RUN echo" in built[-1], steps
    assert any("digest: sha256:" in s for s in steps), steps  # the push's own lines


def test_a_failing_build_says_which_step(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {engine.busybox}\nRUN exit 3\n")
    tag = f"{engine.registry}/kitaru/broken:{uuid.uuid4().hex[:8]}"
    with pytest.raises(KitaruError) as info:
        builder().build(BuildContext(str(tmp_path), "Dockerfile", tag))
    assert tag in info.value.message
    assert "RUN exit 3" in (info.value.hint or ""), info.value.hint  # the step that failed


def test_push_to_a_dead_registry_raises(engine: Engine, tmp_path: Path) -> None:
    """The engine reports push errors in its stream, not as an exception: they must raise."""
    (tmp_path / "Dockerfile").write_text(f"FROM {engine.busybox}\nLABEL x=1\n")
    tag = f"127.0.0.1:{free_port()}/kitaru/nowhere:1"
    b = builder()
    b.build(BuildContext(str(tmp_path), "Dockerfile", tag))
    with pytest.raises(KitaruError) as info:
        b.push(tag)
    assert "pushing" in info.value.message and tag in info.value.message


def test_registry_password_must_be_a_secret_reference() -> None:
    from kitaru_docker.builder import DockerContainerBuilderConfig

    with pytest.raises(ValidationError):
        DockerContainerBuilderConfig(registry_username="u", registry_password="plain")
    DockerContainerBuilderConfig(registry_username="u", registry_password="{{secret:reg.pw}}")


@pytest.mark.parametrize(
    ("image", "registry", "repository", "reference", "name"),
    [
        (
            "127.0.0.1:5001/kitaru/flow:1",
            "127.0.0.1:5001",
            "kitaru/flow",
            "1",
            "127.0.0.1:5001/kitaru/flow",
        ),
        ("localhost/x", "localhost", "x", "latest", "localhost/x"),
        ("python:3.11", "registry-1.docker.io", "library/python", "3.11", "library/python"),
        ("docker.io/me/app:2", "registry-1.docker.io", "me/app", "2", "me/app"),
        ("ghcr.io/o/r@sha256:" + "a" * 64, "ghcr.io", "o/r", "sha256:" + "a" * 64, "ghcr.io/o/r"),
    ],
)
def test_image_references(
    image: str, registry: str, repository: str, reference: str, name: str
) -> None:
    from kitaru_docker.engine import parse_image

    ref = parse_image(image)
    assert (ref.registry, ref.repository, ref.reference, ref.name) == (
        registry, repository, reference, name,
    )  # fmt: skip


def test_bad_image_reference_is_a_config_error() -> None:
    from kitaru_docker.engine import parse_image

    with pytest.raises(ConfigError):
        parse_image("127.0.0.1:5001/Upper/Case:1")
