"""Orchestrator: where executions run. Local runs them in this machine's processes; remote
flavors submit one job (or pod, or container) per execution running ``python -m
kitaru.entrypoint``."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kitaru.components.base import ORCHESTRATOR, StackComponent

if TYPE_CHECKING:
    from kitaru.flow import Flow
    from kitaru.handle import FlowHandle


@dataclass(frozen=True)
class Capabilities:
    #: executions run from a container image (``kitaru build`` must produce one)
    needs_image: bool = False
    #: ``@checkpoint(runtime="isolated")`` runs as its own unit
    isolated_checkpoints: bool = False


class Orchestrator(StackComponent):
    TYPE = ORCHESTRATOR
    capabilities = Capabilities()

    @abstractmethod
    def run(self, flow: Flow[Any], arguments: dict[str, Any]) -> FlowHandle[Any]:
        """Start an execution; return its handle at once."""

    @abstractmethod
    def resume(self, execution_id: str) -> None:
        """Continue a waiting or crashed execution (after input, or to recover it)."""

    @abstractmethod
    def cancel(self, execution_id: str) -> None:
        """Stop an execution's work (the store already says cancelled)."""

    @abstractmethod
    def status(self, execution_id: str) -> str:
        """The backend's view of the execution (``running``, ``crashed``, ...)."""

    def run_checkpoint(
        self, execution_id: str, checkpoint: str, inputs: list[Any]
    ) -> dict[str, Any]:
        """Run one ``runtime="isolated"`` checkpoint call as its own unit (subprocess, container,
        pod or job). ``inputs`` is ``[serializer, type, uri]`` of the arguments in the artifact
        store; the reply is ``{"output": [serializer, type, uri]}`` or ``{"error": [type, msg]}``
        plus ``{"unit": {...}}`` identifying what ran it (recorded on the call)."""
        from kitaru.errors import ConfigError

        raise ConfigError(f"orchestrator {self.name!r} cannot run isolated checkpoints")

    def logs(self, execution_id: str) -> list[dict[str, Any]]:
        from kitaru.runtime.logs import read_logs

        return read_logs(execution_id)
