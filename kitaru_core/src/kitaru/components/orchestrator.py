"""Orchestrator: where executions run. Local runs them in this machine's processes; remote
flavors submit one job (or pod, or container) per execution running ``python -m
kitaru.entrypoint``."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from kitaru.components.base import ORCHESTRATOR, StackComponent

if TYPE_CHECKING:
    from kitaru.components.job_orchestrator import UnitReply
    from kitaru.store.records import Execution


class Launch(Protocol):
    """What the core hands an orchestrator: one execution to run, and why.

    ``reason``: ``run`` (a new execution), ``resume``, ``retry``, ``replay``, ``invoke`` (a
    deployment's), ``input`` (its wait was answered and nobody holds it), ``recover`` (found
    crashed at a server's or ``kitaru serve``'s start) or ``wait`` (a process waiting for the
    result offers to hold the execution through its waits: only orchestrators that drive
    executions on the caller's machine accept). The execution is created and recorded before
    the launch; its ``options["stack"]`` names the stack.
    """

    reason: str
    #: the caller will not wait in this process for the result
    detach: bool

    @property
    def execution(self) -> Execution:
        """The execution; a new one (``run``, ``replay``) is created when first asked for,
        unless :meth:`here` creates it already running in this process."""

    def here(self) -> None:
        """Drive the execution in this process (what the ``local`` orchestrator does)."""

    def in_worker(self) -> None:
        """Drive it in a detached worker process of this machine."""


class LogLine(TypedDict, total=False):
    """One line of an execution's output: when (epoch seconds), which call printed it, the
    stream (``stdout``, ``stderr``, ``log``, or the backend's, e.g. ``container``)."""

    t: float
    call: str | None
    stream: str
    line: str


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
    def launch(self, launch: Launch) -> None:
        """Start running ``launch.execution`` (see :class:`Launch`); return at once. Every
        execution reaches its orchestrator this way, for every reason."""

    @abstractmethod
    def cancel(self, execution_id: str) -> None:
        """Stop an execution's work (the store already says cancelled)."""

    @abstractmethod
    def status(self, execution_id: str) -> str:
        """The backend's view of the execution (``running``, ``crashed``, ...)."""

    def execution_options(self, flow: Any) -> dict[str, Any]:
        """What a new execution of ``flow`` on this orchestrator records in its run options
        (a job orchestrator keeps the image's secret environment, as references)."""
        return {}

    def failure(self, execution_id: str) -> str | None:
        """Why the backend's unit of a ``crashed`` execution ended, when it knows more than
        the store (a job that failed before Kitaru started in it); None otherwise."""
        return None

    def starting(self, execution_id: str) -> bool:
        """A unit launched for the execution has not ended yet (a cloud job can take minutes
        to take the lease): a recovery sweep must not launch a second one. False by default
        (this orchestrator's workers take the lease at once)."""
        return False

    def run_checkpoint(
        self, execution: Execution, checkpoint: str, inputs: list[Any], artifacts: Any
    ) -> UnitReply:
        """Run one ``runtime="isolated"`` checkpoint call of ``execution`` as its own unit
        (subprocess, container, pod or job): ``python -m kitaru.entrypoint checkpoint ID NAME -``
        with ``KITARU_CHECKPOINT_INPUT`` = ``inputs`` (``[serializer, type, uri]`` of the
        arguments in ``artifacts``, the stack's artifact store) and ``KITARU_REPLY_KEY``, the
        key the unit writes its :class:`UnitReply` under in ``artifacts``."""
        from kitaru.errors import ConfigError

        raise ConfigError(f"orchestrator {self.name!r} cannot run isolated checkpoints")

    def logs(self, execution_id: str) -> list[LogLine]:
        """What the backend kept of the execution's output (``{"t"?, "stream", "line"}``),
        asked when none of it reached Kitaru's own log store (e.g. a job that failed before
        Kitaru started in it). None by default."""
        return []
