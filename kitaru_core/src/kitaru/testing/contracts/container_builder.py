"""The contract every container builder flavor passes.

Kitaru's core ships no container builder: ``kitaru-docker`` (and any builder plugin) runs this
suite against a real engine and a throwaway registry (e.g. ``registry:2`` on localhost).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from kitaru.components.container_builder import BuildContext, ContainerBuilder

DOCKERFILE = """\
FROM scratch
COPY hello.txt /hello.txt
"""


class ContainerBuilderContract:
    """Subclass as ``TestMyBuilder`` and override the ``container_builder`` fixture (with a
    registry configured). Override ``build_context`` if your engine needs another base image."""

    #: seconds a build or push may take
    build_timeout: float = 300.0

    @pytest.fixture
    def container_builder(self) -> ContainerBuilder:
        raise NotImplementedError("override the `container_builder` fixture to return a builder")

    @pytest.fixture
    def build_context(self, tmp_path: Path, container_builder: ContainerBuilder) -> BuildContext:
        (tmp_path / "hello.txt").write_text(f"hello {uuid.uuid4().hex}\n")
        (tmp_path / "Dockerfile").write_text(DOCKERFILE)
        registry = container_builder.config.registry or "localhost"
        tag = f"{registry.rstrip('/')}/kitaru-contract:{uuid.uuid4().hex[:12]}"
        return BuildContext(path=str(tmp_path), dockerfile="Dockerfile", tag=tag)

    def test_is_a_container_builder(self, container_builder: ContainerBuilder) -> None:
        assert isinstance(container_builder, ContainerBuilder)
        assert container_builder.TYPE == "container_builder"

    def test_build_returns_an_image_reference(
        self, container_builder: ContainerBuilder, build_context: BuildContext
    ) -> None:
        image = container_builder.build(build_context)
        assert isinstance(image, str)
        assert image.split("@")[0].startswith(build_context.tag.rsplit(":", 1)[0])

    def test_push_then_exists(
        self, container_builder: ContainerBuilder, build_context: BuildContext
    ) -> None:
        image = container_builder.build(build_context)
        assert not container_builder.exists(image)
        pushed = container_builder.push(image)
        assert isinstance(pushed, str) and pushed
        assert container_builder.exists(image)

    def test_unknown_image_does_not_exist(
        self, container_builder: ContainerBuilder, build_context: BuildContext
    ) -> None:
        assert not container_builder.exists(build_context.tag)

    def test_verify_ok(self, container_builder: ContainerBuilder) -> None:
        container_builder.verify()  # raises ConfigError saying what is wrong
