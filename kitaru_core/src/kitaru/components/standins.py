"""Stand-ins: local services that take a cloud backend's place in a smoke run.

A plugin declares its stand-ins through the ``kitaru_standins`` hook, as it declares flavors:
a small record naming the ``(component type, flavor)`` pairs it serves and, by import path, a
starter that is imported only when a smoke run needs it (so listing stand-ins imports no cloud
SDK and no emulator). ``kitaru smoke`` names none of them: it asks the plugin manager which
stand-in serves each component of the stack.

A starter is a callable ``start(ctx, components) -> ContextManager[StoodIn]``: it starts its
service (moto, an emulator, a fake), creates what the stack's config names (a bucket, a
repository), and yields what it changed: environment variables and *endpoint* config keys
(never flow code, never anything but where the stack's components connect), lines for the
report, what it cannot stand in for, and — for an orchestrator — a :class:`UnitRunner` that
runs the units the backend recorded, in the container engine, as the cloud would.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kitaru.errors import ConfigError
from kitaru.imports import import_object


@dataclass(frozen=True)
class StandIn:
    """``name`` (what stands in: ``"moto"``) serves each ``(component type, flavor)`` of
    ``serves``; ``implementation`` is the starter's import path ``"package.module:function"``."""

    name: str
    serves: tuple[tuple[str, str], ...]
    implementation: str
    install_hint: str | None = None
    description: str = ""
    #: the plugin (distribution) that provides it; set by the plugin manager
    provider: str = "kitaru"

    def load(self) -> Starter:
        try:
            starter: Starter = import_object(self.implementation)
        except Exception as exc:
            raise ConfigError(
                f"stand-in {self.name!r} from {self.provider} cannot be loaded: "
                f"{type(exc).__name__}: {exc}",
                hint=self.install_hint or f"reinstall {self.provider}",
            ) from exc
        return starter

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "provider": self.provider,
                "serves": [f"{t}:{f}" for t, f in self.serves],
                "install_hint": self.install_hint, "description": self.description}  # fmt: skip


@dataclass
class SmokeContext:
    """What a starter gets to know about the run."""

    #: the stack's name (as registered on the smoke run's server)
    stack: str
    #: a folder of this run's own (logs, state), removed after the run
    workdir: Path
    #: the Kitaru server the units report to (started by the smoke run)
    server_url: str
    #: ``DOCKER_HOST`` of the container engine units and builds run in (None: none)
    docker_host: str | None = None
    #: ``host:port`` of the registry images are pushed to in place of the cloud's (None: none)
    registry: str | None = None
    #: where the starter's progress lines go (the report shows them with ``--verbose``)
    say: Callable[[str], None] = lambda line: None


@dataclass
class ComponentUse:
    """One component of the stack a starter is asked to stand in for."""

    type: str
    flavor: str
    config: dict[str, Any]


class UnitRunner(Protocol):
    """Runs what an orchestrator's stand-in recorded (a SageMaker training job in moto, a
    CustomJob in the emulator) as the cloud would: the unit's image, command and environment
    in the container engine. The smoke run calls :meth:`poll` while it waits."""

    def poll(self) -> None:
        """Start the units recorded since the last call (without waiting for them)."""

    def problems(self) -> list[str]:
        """One line per unit that ended badly: its name, exit code and last output line."""
        ...

    def summary(self) -> list[str]:
        """Lines for the report: each unit run, its role and how long it took."""
        ...

    def busy(self) -> bool:
        """A unit it started still runs (asked after the execution ended, so the report gets
        each unit's exit; a runner without this method counts as idle)."""
        ...

    def close(self) -> None:
        """Stop what still runs (the run is over)."""


@dataclass
class StoodIn:
    """What a started stand-in changed."""

    #: set in the smoke run's process (and so in every unit: orchestrators pass their
    #: ``environment`` config) — endpoints and the stand-in's fake credentials
    environment: dict[str, str] = field(default_factory=dict)
    #: component type → config keys replaced (endpoints and the registry only)
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: component type → what stood in for it, for the report line ``type  flavor → note``
    #: ("moto 5.2.5 at http://…; bucket b created"; no need to repeat the flavor)
    notes: dict[str, str] = field(default_factory=dict)
    #: what cannot be stood in for ("instance_type ml.p4d.24xlarge: units run on this CPU")
    limits: list[str] = field(default_factory=list)
    #: for an orchestrator: what runs its units
    runner: UnitRunner | None = None


#: a starter: ``start(ctx, components)`` (see the module doc)
Starter = Callable[[SmokeContext, list[ComponentUse]], AbstractContextManager[StoodIn]]
