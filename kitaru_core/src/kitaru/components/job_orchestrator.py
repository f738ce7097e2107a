"""``JobOrchestrator``: the base of orchestrators that run each unit of work elsewhere.

A *unit* is one container, pod or cloud job running ``python -m kitaru.entrypoint ARGS`` in the
flow's image: ``run ID`` / ``resume ID`` drive an execution, ``checkpoint ID NAME INPUTS`` runs
one ``runtime="isolated"`` checkpoint call. A flavor implements four things about one unit —
:meth:`~JobOrchestrator.submit_unit`, :meth:`~JobOrchestrator.unit_state`,
:meth:`~JobOrchestrator.stop_unit` and (optionally) :meth:`~JobOrchestrator.unit_logs` — and
this base does the rest the same way for every backend:

- launching (a unit per launch; a failed submission leaves a new execution ``failed``, origin
  ``backend``), cancelling (stop every unit still alive), the status (the store's, unless the
  units that drive it all ended without the store hearing the end: ``crashed``, with the
  backend's reason from :meth:`failure`);
- isolated checkpoints: the unit writes its reply (:class:`UnitReply`) to the stack's artifact
  store under ``KITARU_REPLY_KEY``; the base waits for the unit (polling with backoff, within
  a time limit, then stopping it) and reads the reply — one channel for every backend;
- secrets, one way for every backend: a unit's spec holds references, never values. The API
  key (``api_key``) and the image's secret environment go to the unit as
  ``KITARU_SECRET_ENV`` (variable -> ``{{secret:name.key}}``) with ``KITARU_SECRET_STORE``
  (the stack's secret store, flavor and config); ``python -m kitaru.entrypoint`` resolves them
  inside the unit before anything else runs;
- the units of an execution recorded in its metadata (``units``), and the logs fallback (what
  the last unit printed, when nothing reached the store).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from kitaru.components.base import ComponentConfig, OptionalStr, SecretReference
from kitaru.components.orchestrator import Capabilities, Launch, LogLine, Orchestrator
from kitaru.errors import ConfigError, KitaruError
from kitaru.tracecontext import TRACEPARENT_ENV, traceparent_for

if TYPE_CHECKING:
    from kitaru.store.base import MetadataStore
    from kitaru.store.records import Execution

#: runtime settings a unit inherits from the process that submits it, when set there
PASSED_SETTINGS = ("KITARU_INLINE_LIMIT", "KITARU_LEASE_TTL", "KITARU_HEARTBEAT_INTERVAL",
                   "KITARU_ALLOW_PICKLE",
                   # telemetry (docs/observability.md); OTEL_EXPORTER_OTLP_HEADERS may hold a
                   # token: never copied into a spec, give it as secret environment instead
                   "KITARU_OTEL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
                   "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                   "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL")  # fmt: skip
TERMINAL = ("completed", "failed", "cancelled")
#: where a checkpoint unit writes its reply (an artifact-store key), and reads its inputs
REPLY_KEY_ENV = "KITARU_REPLY_KEY"
INPUT_ENV = "KITARU_CHECKPOINT_INPUT"
#: a unit's secret environment as references (JSON: variable -> reference), and the secret
#: store (JSON: flavor, config) it resolves them through
SECRET_ENV = "KITARU_SECRET_ENV"
SECRET_STORE_ENV = "KITARU_SECRET_STORE"
API_KEY_ENV = "KITARU_API_KEY"
_NAME = re.compile(r"[^a-zA-Z0-9-]+")


@dataclass(frozen=True)
class UnitSpec:
    """One unit to submit. ``arguments`` follow ``python -m kitaru.entrypoint``;
    ``environment`` is plain (whoever reads the unit's spec sees it: never a secret value)."""

    name: str
    execution_id: str
    role: str  # run | resume | checkpoint
    image: str
    arguments: list[str]
    environment: dict[str, str]
    #: seconds the unit may run (the backend stops it then)
    time_limit: float
    labels: dict[str, str] = field(default_factory=dict)


UNIT_PHASES = ("pending", "running", "succeeded", "failed", "stopped", "gone")


@dataclass(frozen=True)
class UnitState:
    """What the backend says of a unit; ``reason`` why it failed or stopped, when it says."""

    phase: str
    reason: str | None = None

    @property
    def ended(self) -> bool:
        return self.phase in ("succeeded", "failed", "stopped", "gone")


@dataclass(frozen=True)
class UnitReply:
    """How an isolated checkpoint's unit ended: its output ``(serializer, type, uri)`` in the
    artifact store, or its error ``(type, message)``; ``unit``: what ran it (recorded on the
    call)."""

    output: tuple[str, str | None, str] | None = None
    error: tuple[str, str] | None = None
    unit: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def failed(cls, message: str, unit: dict[str, Any] | None = None) -> UnitReply:
        return cls(error=("IsolatedUnitFailed", message), unit=unit or {})

    @classmethod
    def from_json(cls, raw: bytes, unit: dict[str, Any]) -> UnitReply:
        data = json.loads(raw)
        if "error" in data:
            return cls(error=(str(data["error"][0]), str(data["error"][1])), unit=unit)
        serializer, type_name, uri = data["output"]
        return cls(output=(serializer, type_name, uri), unit=unit)

    def to_json(self) -> bytes:
        body = {"error": list(self.error)} if self.error else {"output": list(self.output or ())}
        return json.dumps(body).encode()


def reply_key(unit: str) -> str:
    """The artifact-store key the unit named ``unit`` writes its reply under."""
    import hashlib

    return hashlib.sha256(f"kitaru-reply:{unit}".encode()).hexdigest()


def read_reply(artifacts: Any, key: str, unit: dict[str, Any]) -> UnitReply | None:
    uri = artifacts.uri_for(key)
    if not artifacts.exists(uri):
        return None
    return UnitReply.from_json(artifacts.get(uri), unit)


def map_status(stored: str, shown: str, states: list[UnitState] | None) -> str:
    """The execution's status from the store's record and the states of the units that drive
    it (None: none recorded). Read the units first, then the store: a unit writes its final
    status before it ends."""
    if stored in TERMINAL or stored == "waiting":
        return stored  # a unit ends after releasing a waiting execution
    if states is None:
        return shown
    if any(not s.ended for s in states):
        return "pending" if stored == "pending" else "running"
    return "crashed"  # every unit ended and none finished the execution


class JobOrchestratorConfig(ComponentConfig):
    """What every job orchestrator's config has; a flavor's config subclasses it."""

    #: the image units run in (a deployment's image takes precedence)
    image: OptionalStr = None
    #: the Kitaru server the units report to (default: the one this client uses)
    server_url: OptionalStr = None
    #: extra environment of every unit (visible in the unit's spec: no secret values); an
    #: empty value is left out
    environment: dict[str, str] = Field(default_factory=dict)
    #: the API key units report to the server with: a ``{{secret:name.key}}`` reference,
    #: resolved inside each unit (with none, see ``JobOrchestrator.units_on_this_machine``)
    api_key: SecretReference = None


class JobOrchestrator(Orchestrator):
    """Subclass, implement the four unit methods, and subclass :class:`JobOrchestratorConfig`
    for the config (see the module doc)."""

    config: JobOrchestratorConfig

    capabilities = Capabilities(needs_image=True, isolated_checkpoints=True)
    #: longest unit name the backend accepts
    max_name_length = 63
    #: the first and the longest pause between two ``unit_state`` calls while waiting
    poll_first, poll_longest = 0.05, 10.0
    #: seconds past a checkpoint unit's time limit before it is stopped (the backend first)
    stop_grace = 60.0
    #: units run on this machine, which holds this client's API key already: with no
    #: ``api_key`` they get that key when they report to the server this client uses
    units_on_this_machine: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recording = threading.Lock()

    # -- what a flavor implements ---------------------------------------------------------------
    @abstractmethod
    def submit_unit(self, spec: UnitSpec) -> dict[str, Any]:
        """Start the unit; return what identifies it on the backend (recorded), e.g.
        ``{"container_id": ...}``. Raise a one-line ConfigError if the backend refuses."""

    @abstractmethod
    def unit_state(self, name: str) -> UnitState:
        """The unit's state now (``gone`` if the backend no longer knows it)."""

    @abstractmethod
    def stop_unit(self, name: str) -> None:
        """Stop the unit (nothing if it ended meanwhile)."""

    def unit_logs(self, name: str) -> list[LogLine]:
        """What the unit printed (``{"t"?, "stream", "line"}``), when the backend keeps it."""
        return []

    def release_unit(self, name: str) -> None:
        """A checkpoint's unit ended and its reply was read: free what it holds (e.g. remove
        its container)."""

    def unit_environment(self, execution: Execution) -> dict[str, str]:
        """Plain environment the flavor adds to every unit of ``execution`` (e.g. its region;
        secrets go through :meth:`unit_secret_references`)."""
        return {}

    def checkpoint_time_limit(self) -> float:
        """Seconds a checkpoint's unit may run."""
        return 3600.0

    def execution_time_limit(self) -> float:
        """Seconds a unit driving an execution may run (where the backend enforces one)."""
        return 24 * 3600.0

    # -- what a unit gets -----------------------------------------------------------------------
    def server_url(self) -> str:
        from kitaru.connection import configured

        here = configured()
        url = self.config.server_url or (here[0] if here else None)
        if not url:
            raise ConfigError(
                f"orchestrator {self.name!r} needs a Kitaru server its units can reach",
                hint="set server_url on the orchestrator, or connect this client (`kitaru login`)",
            )
        return str(url)

    def image_for(self, execution: Execution) -> str:
        """The deployment's image, else the one the execution started with, else ``image``."""
        deployment = execution.options.get("deployment") or {}
        image = deployment.get("image") or self._image_used(execution) or self.config.image
        if not image:
            raise ConfigError(
                f"orchestrator {self.name!r} has no image to run execution {execution.id} in",
                hint="set `image` on the orchestrator (an image with kitaru and the flow's code)",
            )
        return str(image)

    def environment(self, execution: Execution) -> dict[str, str]:
        env = {k: os.environ[k] for k in PASSED_SETTINGS if k in os.environ}
        # an empty value is unset (a template's ``${AWS_ENDPOINT_URL:-}``)
        env.update({k: v for k, v in self.config.environment.items() if v != ""})
        env.update({"KITARU_SERVER_URL": self.server_url(), "PYTHONUNBUFFERED": "1"})
        if parent := traceparent_for(execution.metadata):  # the unit joins the execution's trace
            env[TRACEPARENT_ENV] = parent
        env.update(self.secret_environment(execution))
        env.update(self.unit_environment(execution))
        return env

    # -- secrets ----------------------------------------------------------------------------------
    def unit_secret_references(self, execution: Execution) -> dict[str, str]:
        """Variable -> reference: the image's secret environment and the API key."""
        references = dict(execution.options.get("secret_environment") or {})
        if self.config.api_key:
            references[API_KEY_ENV] = self.config.api_key
        return references

    def unit_secret_store(self) -> dict[str, Any]:
        """The secret store units resolve references through (``{"flavor", "config"}``): the
        one this process resolves through if it is a unit itself, else the stack's. A flavor
        whose units cannot reach it as configured overrides this (docker mounts a local file)."""
        inherited = os.environ.get(SECRET_STORE_ENV)
        if inherited:
            return dict(json.loads(inherited))
        spec = self.secret_store_spec()
        if spec is None:
            raise ConfigError(f"orchestrator {self.name!r} has no stack, hence no secret store "
                              "its units could resolve secrets through",
                              hint="use the orchestrator through a stack")  # fmt: skip
        return spec

    def secret_environment(self, execution: Execution) -> dict[str, str]:
        """What a unit needs to resolve its secrets itself; values only for a unit on this
        machine that uses this client's own key (``units_on_this_machine``)."""
        env: dict[str, str] = {}
        if references := self.unit_secret_references(execution):
            env[SECRET_ENV] = json.dumps(references, sort_keys=True)
            env[SECRET_STORE_ENV] = json.dumps(self.unit_secret_store(), sort_keys=True)
        if not self.config.api_key and (key := self._this_clients_key()):
            env[API_KEY_ENV] = key
        return env

    def _this_clients_key(self) -> str | None:
        from kitaru.connection import configured

        here = configured()
        if not self.units_on_this_machine or here is None:
            return None
        same = here[0].rstrip("/") == self.server_url().rstrip("/")
        return here[1] if same else None

    def name_prefix(self) -> str:
        """Unit names are ``<prefix>-<role>-<16 hex digits>``."""
        return "kitaru"

    def unit_name(self, role: str) -> str:
        prefix = _NAME.sub("-", self.name_prefix())
        return f"{prefix}-{role}-{uuid.uuid4().hex[:16]}"[: self.max_name_length]

    def unit_spec(self, execution: Execution, role: str, *extra: str, name: str | None = None,
                  environment: dict[str, str] | None = None) -> UnitSpec:  # fmt: skip
        checkpoint = role == "checkpoint"
        return UnitSpec(
            name=name or self.unit_name(role), execution_id=execution.id, role=role,
            image=self.image_for(execution), arguments=[role, execution.id, *extra],
            environment={**self.environment(execution), **(environment or {})},
            time_limit=self.checkpoint_time_limit() if checkpoint else self.execution_time_limit(),
            labels={"kitaru-execution": execution.id, "kitaru-role": role,
                    "kitaru-orchestrator": self.name},
        )  # fmt: skip

    def execution_options(self, flow: Any) -> dict[str, Any]:
        """Checked before a new execution is created (an image, a server the units can reach);
        records the image's secret environment, as references: resolved for each unit."""
        if not self.config.image:
            raise ConfigError(f"orchestrator {self.name!r} has no image",
                              hint="set `image` (an image with kitaru and the flow's code)")  # fmt: skip
        self.server_url()
        self.check_server_access()
        secrets = flow.secret_environment()
        return {"secret_environment": secrets} if secrets else {}

    def check_server_access(self) -> None:
        """Raise a one-line ConfigError if units could not authenticate to the server."""
        if self.config.api_key or self._this_clients_key():
            return
        raise ConfigError(
            f"orchestrator {self.name!r}: its units report to {self.server_url()} but it has "
            "no api_key",
            hint="store a key with `kitaru secret set kitaru-server api_key=...` and set "
            'api_key: "{{secret:kitaru-server.api_key}}" on the orchestrator',
        )

    # -- the orchestrator interface --------------------------------------------------------------
    def launch(self, launch: Launch) -> None:
        """One unit: ``run`` for a new execution, ``retry`` for a failed one, ``resume``
        otherwise. A process waiting for the result does not hold it (``wait``): the unit
        resumes once input arrives."""
        if launch.reason == "wait":
            return
        execution = launch.execution
        role = {"run": "run", "replay": "run", "invoke": "run", "retry": "retry"}.get(
            launch.reason, "resume"
        )
        try:
            self._submit(self.unit_spec(execution, role), execution)
        except Exception as exc:
            if execution.status == "pending":  # never started: failed, not pending forever
                from kitaru.store import default_store

                default_store().set_status(execution.pk, "failed", only_if=("pending",),
                                           error=_backend_error(exc))  # fmt: skip
            raise

    def cancel(self, execution_id: str) -> None:
        """Stop every unit of the execution that is still alive."""
        for unit in self.units_of(self._execution(execution_id)):
            if not self.unit_state(unit["name"]).ended:
                self.stop_unit(unit["name"])

    def status(self, execution_id: str) -> str:
        from kitaru.store.records import display_status

        execution = self._execution(execution_id)
        if execution.status in TERMINAL or execution.status == "waiting":
            return execution.status
        drivers = self.drivers_of(execution)
        if not drivers:
            return display_status(execution, time.time())
        states = [self.unit_state(u["name"]) for u in drivers]
        execution = self._execution(execution_id)  # after the units: see map_status
        return map_status(execution.status, display_status(execution, time.time()), states)

    def starting(self, execution_id: str) -> bool:
        drivers = self.drivers_of(self._execution(execution_id))
        return bool(drivers) and not self.unit_state(drivers[-1]["name"]).ended

    def failure(self, execution_id: str) -> str | None:
        """The backend's reason the last unit driving a crashed execution ended with."""
        drivers = self.drivers_of(self._execution(execution_id))
        if not drivers:
            return None
        state = self.unit_state(drivers[-1]["name"])
        if state.phase in ("failed", "stopped") and state.reason:
            return f"{drivers[-1]['name']} {state.phase}: {state.reason}"
        return None

    def logs(self, execution_id: str) -> list[LogLine]:
        """What the execution's last unit printed (asked when nothing reached Kitaru's log
        store: a unit that could not import the flow, say)."""
        units = self.units_of(self._execution(execution_id))
        return self.unit_logs(units[-1]["name"]) if units else []

    def run_checkpoint(
        self, execution: Execution, checkpoint: str, inputs: list[Any], artifacts: Any
    ) -> UnitReply:
        """Run one isolated checkpoint call as a unit of its own; wait for it and read the
        reply it wrote to ``artifacts``."""
        name = self.unit_name("checkpoint")
        # the inputs go in the environment: some backends cap an argument at 256 characters
        spec = self.unit_spec(execution, "checkpoint", checkpoint, "-", name=name, environment={
            INPUT_ENV: json.dumps(inputs), REPLY_KEY_ENV: reply_key(name)})  # fmt: skip
        unit = {"unit": spec.name}
        try:
            self._submit(spec, execution)
        except KitaruError as exc:
            return UnitReply.failed(str(exc), unit)
        try:
            state = self.wait_for(spec.name, spec.time_limit)
        except KitaruError as exc:
            return UnitReply.failed(str(exc), unit)
        try:
            reply = read_reply(artifacts, reply_key(spec.name), unit)
        finally:
            self.release_unit(spec.name)
        if reply is not None:
            return reply
        if state.phase == "succeeded":
            return UnitReply.failed(f"unit {spec.name} completed without writing its reply",
                                    unit)  # fmt: skip
        if not state.ended:
            return UnitReply.failed(f"unit {spec.name} ran over {spec.time_limit:g} s; stopped",
                                    unit)  # fmt: skip
        why = f": {state.reason}" if state.reason else ""
        ended = "was stopped" if state.phase == "stopped" else state.phase
        return UnitReply.failed(f"unit {spec.name} {ended}{why}", unit)

    def wait_for(self, name: str, time_limit: float) -> UnitState:
        """The unit's state once it ended; past ``time_limit`` (and a minute's grace) it is
        stopped and its last state returned. Polls with backoff up to ``poll_longest``."""
        deadline = time.monotonic() + time_limit + self.stop_grace
        delay = self.poll_first
        while True:
            state = self.unit_state(name)
            if state.ended:
                return state
            if time.monotonic() > deadline:
                self.stop_unit(name)
                return state
            time.sleep(delay)
            delay = min(delay * 2, self.poll_longest)

    # -- records ---------------------------------------------------------------------------------
    def units_of(self, execution: Execution) -> list[dict[str, Any]]:
        return list((execution.metadata or {}).get("units") or [])

    def drivers_of(self, execution: Execution) -> list[dict[str, Any]]:
        """The units that ran or resumed the execution (not its isolated checkpoints')."""
        return [u for u in self.units_of(execution) if u.get("role") != "checkpoint"]

    def _image_used(self, execution: Execution) -> str | None:
        drivers = self.drivers_of(execution)
        return drivers[0].get("image") if drivers else None

    def _submit(self, spec: UnitSpec, execution: Execution) -> None:
        facts = self.submit_unit(spec)
        store = _store()
        with self._recording:  # parallel isolated checkpoints record their units
            current = store.get_execution(execution.id)
            units = [*self.units_of(current), {"name": spec.name, "role": spec.role,
                                               "image": spec.image, **facts}]  # fmt: skip
            store.update_metadata(current.pk, {"units": units})

    @staticmethod
    def _execution(execution_id: str) -> Execution:
        return _store().get_execution(execution_id)


def _store() -> MetadataStore:
    from kitaru.store import default_store

    return default_store()


def _backend_error(exc: BaseException) -> dict[str, Any]:
    return {"type": type(exc).__name__, "message": str(exc), "origin": "backend"}
