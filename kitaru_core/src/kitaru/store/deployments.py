"""Deployments: immutable, numbered versions of a flow (code location, image, stack, settings)
and exclusive tags that point at them (``default`` moves to each new version unless told not to).

A separate interface next to :class:`~kitaru.store.base.MetadataStore`, implemented by the
SQLite, PostgreSQL and remote stores.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TAG = "default"


@dataclass(frozen=True)
class Deployment:
    flow: str
    version: int
    module: str
    qualname: str
    source_file: str | None
    root: str | None
    stack: str
    image: str | None
    #: JSON schema of the flow's parameters (invoke inputs are checked against it)
    parameters: dict[str, Any]
    #: run options every execution of this version gets (retries, max_cost_usd, ...)
    options: dict[str, Any]
    code_hash: str
    created_at: float
    tags: list[str] = field(default_factory=list)


class DeploymentStore(ABC):
    @abstractmethod
    def add_deployment(self, deployment: Deployment, *, tag: str | None) -> Deployment:
        """Store it as the flow's next version (its ``version`` is ignored) and point ``tag``
        at it, in one transaction. Returns it with its version and tags."""

    @abstractmethod
    def get_deployment(self, flow: str, version: int) -> Deployment | None: ...

    @abstractmethod
    def list_deployments(self, flow: str | None = None) -> list[Deployment]:
        """Oldest first, with their tags."""

    @abstractmethod
    def set_tag(self, flow: str, tag: str, version: int) -> None:
        """Point ``tag`` at ``version`` (moved atomically if it pointed elsewhere);
        NotFound if the version does not exist."""

    @abstractmethod
    def tag_version(self, flow: str, tag: str) -> int | None: ...
