"""Container builder: builds the image executions run in, and pushes it to its registry."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kitaru.components.base import CONTAINER_BUILDER, ComponentConfig, StackComponent


class ContainerBuilderConfig(ComponentConfig):
    #: registry the image is pushed to, e.g. ``127.0.0.1:5001/kitaru``
    registry: str | None = None


@dataclass(frozen=True)
class BuildContext:
    """What to build: a directory with a Dockerfile, and the tag to give the image."""

    path: str
    dockerfile: str
    tag: str


class ContainerBuilder(StackComponent):
    TYPE = CONTAINER_BUILDER
    config: ContainerBuilderConfig
    _progress: Callable[[str], None] | None = None

    @contextmanager
    def reporting(self, progress: Callable[[str], None] | None) -> Iterator[None]:
        """While inside, :meth:`report` lines go to ``progress`` (``kitaru build`` prints
        them)."""
        before, self._progress = self._progress, progress
        try:
            yield
        finally:
            self._progress = before

    def report(self, line: str) -> None:
        """One line of progress: a build step, a pushed layer. Flavors call it as they go."""
        if self._progress is not None:
            self._progress(line)

    @abstractmethod
    def build(self, context: BuildContext) -> str:
        """Build the image; return its full reference."""

    @abstractmethod
    def push(self, image: str) -> str:
        """Push to the registry; return the pushed reference (with digest when known)."""

    @abstractmethod
    def exists(self, image: str) -> bool:
        """True if the image is already in the registry (so an unchanged project is not
        rebuilt)."""
