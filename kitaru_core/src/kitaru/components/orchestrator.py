"""Orchestrator: where executions run. Local runs them in this machine's processes; remote
flavors submit one job (or pod, or container) per execution running ``python -m
kitaru.entrypoint``."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kitaru.components.base import ORCHESTRATOR, StackComponent

if TYPE_CHECKING:
    from collections.abc import Callable

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

    def submit(
        self, flow: Flow[Any], arguments: dict[str, Any], launch: Callable[[Any, Any], Any]
    ) -> FlowHandle[Any]:
        """For orchestrators that run executions elsewhere: create the pending execution (its
        run options, and the image's secret environment as references) and ``launch(store,
        execution)`` it; a launch that fails leaves the execution failed (origin ``backend``),
        not pending forever."""
        from kitaru.build import secret_environment
        from kitaru.handle import FlowHandle
        from kitaru.runtime.engine import error_record
        from kitaru.runtime.runner import run_options
        from kitaru.runtime.stacks import stack_name_for
        from kitaru.store import default_store

        store = default_store()
        loc = flow.location
        options = run_options(flow, stack_name_for(flow.stack))
        if secrets := secret_environment(flow):
            options["secret_environment"] = secrets
        execution = store.create_execution(
            flow=flow.name, module=loc.module, qualname=loc.qualname, source_file=loc.source_file,
            root=loc.root, inputs=flow.inputs_record(arguments), status="pending",
            options=options,
        )  # fmt: skip
        try:
            launch(store, execution)
        except Exception as exc:
            store.set_status(execution.pk, "failed", only_if=("pending",),
                             error=error_record(exc, origin="backend"))  # fmt: skip
            raise
        return FlowHandle(store, execution.id, flow=flow)

    def logs(self, execution_id: str) -> list[dict[str, Any]]:
        from kitaru.runtime.logs import read_logs
        from kitaru.store import default_store

        # through the store: a connected client reads what remote units shipped to the server
        return read_logs(execution_id, default_store())
