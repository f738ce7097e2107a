"""The container builder contract is runnable: an in-memory builder (a stand-in for the
``kitaru-docker`` flavor, which runs the same suite against a real engine) passes it."""

from __future__ import annotations

import pytest

from kitaru.components.container_builder import (
    BuildContext,
    ContainerBuilder,
    ContainerBuilderConfig,
)
from kitaru.testing import ContainerBuilderContract


class InMemoryBuilder(ContainerBuilder):
    """Images are names; the registry is a set."""

    def __init__(self, name: str, config: ContainerBuilderConfig) -> None:
        super().__init__(name, config)
        self.built: set[str] = set()
        self.registry: set[str] = set()

    def build(self, context: BuildContext) -> str:
        self.built.add(context.tag)
        return context.tag

    def push(self, image: str) -> str:
        if image not in self.built:
            raise LookupError(f"{image} was never built")
        self.registry.add(image)
        return image

    def exists(self, image: str) -> bool:
        return image in self.registry


class TestInMemoryBuilder(ContainerBuilderContract):
    @pytest.fixture
    def container_builder(self) -> ContainerBuilder:
        return InMemoryBuilder("memory", ContainerBuilderConfig(registry="127.0.0.1:5001/kitaru"))
