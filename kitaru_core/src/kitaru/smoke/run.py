"""A smoke run: one flow, on the user's own stack, with stand-ins for everything the cloud would
provide, end to end (``kitaru smoke``; docs/ci.md).

1. Read the stack (a registered name or a YAML file), before anything changes.
2. Start a Kitaru server of the run's own (SQLite, a temporary folder) for the units to report
   to, and each stand-in the plugins declare for the stack's flavors (``kitaru_standins``); a
   cloud flavor nobody stands in for fails the run, it is never run against the real cloud.
3. Rewrite endpoints only — what the stand-ins return, and the orchestrator's ``server_url`` —
   register that stack on the run's server, and give every ``{{secret:…}}`` it references a
   value in the stood-in secret store (the server's key, ``--secret``, or a placeholder). The
   LLM gateway answers offline unless a key is given.
4. Deploy as ``kitaru deploy`` does (build and push the image), invoke, run the units the
   stand-ins recorded, answer waits from ``--answer``, until the execution ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitaru.components.standins import ComponentUse, SmokeContext, StandIn, StoodIn, UnitRunner
from kitaru.errors import ConfigError, KitaruError, UsageError, one_line
from kitaru.smoke.report import ComponentLine, SmokeReport

#: a secret nobody gave a value for gets this (the report says which)
PLACEHOLDER = "kitaru-smoke-placeholder"
_TERMINAL = ("completed", "failed", "cancelled")


@dataclass
class SmokeOptions:
    #: the flow's keyword arguments
    inputs: dict[str, Any] = field(default_factory=dict)
    #: wait name (or call id, ``approve#2``) → the value to answer it with
    answers: dict[str, Any] = field(default_factory=dict)
    #: ``name.key`` → value, for secrets the stack references
    secrets: dict[str, str] = field(default_factory=dict)
    #: call the stack's LLM provider with this key instead of answering offline
    llm_key: str | None = None
    #: ``host:port`` of the registry images go to (default ``KITARU_SMOKE_REGISTRY``)
    registry: str | None = None
    #: the container engine (default ``DOCKER_HOST``)
    docker_host: str | None = None
    #: seconds the flow may take, from invoke to its end
    timeout: float = 900.0
    #: progress lines
    say: Callable[[str], None] = lambda line: None


def smoke(target: str, stack: str, options: SmokeOptions | None = None) -> SmokeReport:
    """Run ``target`` (``FILE.py:FLOW``) on ``stack`` (a registered name or a YAML file) with
    stand-ins. Never raises for what it finds: the report says passed or the reason."""
    options = options or SmokeOptions()
    report = SmokeReport(flow=target, stack=stack)
    try:
        with tempfile.TemporaryDirectory(prefix="kitaru-smoke-") as tmp:
            _run(target, stack, options, Path(tmp), report)
    except KitaruError as exc:
        report.passed = False
        hint = f" (hint: {exc.hint})" if getattr(exc, "hint", None) else ""
        report.reason = one_line(str(exc) + hint)
    return report


def read_stack(stack: str) -> Any:
    """The stack spec: a YAML/JSON file if ``stack`` names one, else the registered stack."""
    from kitaru.stack.loader import load_stack_file
    from kitaru.stack.registry import get_stack

    path = Path(stack)
    if path.suffix in (".yaml", ".yml", ".json") and path.is_file():
        return load_stack_file(path)
    return get_stack(stack)


def standins_for(spec: Any) -> dict[StandIn, list[ComponentUse]]:
    """The stand-in of every component (grouped); a ConfigError for a cloud flavor none
    serves. Flavors of the core need none; the LLM gateway is handled by the run itself."""
    from kitaru.plugins.manager import plugin_manager

    pm = plugin_manager()
    found: dict[StandIn, list[ComponentUse]] = {}
    for kind, component in spec.components.items():
        if kind == "llm_gateway":
            continue
        flavor = pm.flavor(kind, component.flavor)
        standin = pm.standin_for(kind, component.flavor)
        if standin is None:
            if flavor.provider == "kitaru":
                continue  # a builtin flavor runs here as it is
            raise ConfigError(
                f"nothing stands in for {kind} flavor {component.flavor!r} "
                f"(from {flavor.provider}): a smoke run never calls the real service",
                hint=f"{flavor.provider} declares no stand-in (kitaru_standins hook); "
                "`kitaru plugin list` shows what is installed",
            )
        found.setdefault(standin, []).append(ComponentUse(kind, component.flavor,
                                                          dict(component.config)))  # fmt: skip
    return found


@contextlib.contextmanager
def _environment(changes: dict[str, str | None]) -> Iterator[None]:
    """Set (None: unset) variables for the run, and forget stores and stacks built before and
    during it, so the client talks to the run's server and nothing leaks out of it."""
    from kitaru.stack.active import reset_stack_cache
    from kitaru.store import reset_default_store

    def apply(values: dict[str, str | None]) -> None:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    before = {k: os.environ.get(k) for k in changes}
    apply(changes)
    reset_default_store()
    reset_stack_cache()
    try:
        yield
    finally:
        apply(before)
        reset_default_store()
        reset_stack_cache()


#: builtin flavors whose empty ``path`` means a place in KITARU_HOME: a run gets its own, so it
#: leaves the user's secrets and artifacts untouched
OWN_FOLDERS = {("artifact_store", "local"): "artifacts", ("secret_store", "local"): "secrets.json"}


def _rewrite(
    spec: Any, stood: list[StoodIn], server_url: str, llm_key: str | None, workdir: Path
) -> Any:
    """The stack with endpoints pointing at the stand-ins (nothing else changed)."""
    from kitaru.stack.model import StackSpec

    data = spec.model_dump()
    for kind, component in data["components"].items():
        own = OWN_FOLDERS.get((kind, component["flavor"]))
        if own is not None and not component["config"].get("path"):
            component["config"]["path"] = str(workdir / own)
    for s in stood:
        for kind, changes in s.config.items():
            data["components"][kind]["config"].update(changes)
    orchestrator = data["components"].get("orchestrator")
    fields = _config_fields("orchestrator", orchestrator["flavor"]) if orchestrator else set()
    if "server_url" in fields:
        orchestrator["config"]["server_url"] = server_url  # the units report to the run's
    if "environment" in fields:
        # the units reach every stand-in as this process does (moto's endpoint for a pod of a
        # kubernetes orchestrator, say); what the orchestrator's own stand-in set wins. An
        # empty value means unset (a template's ``${AWS_ENDPOINT_URL:-}``): it hides nothing
        merged = {k: v for s in stood for k, v in s.environment.items()}
        own = orchestrator["config"].get("environment", {})
        orchestrator["config"]["environment"] = {
            **merged,
            **{k: v for k, v in own.items() if v != ""},
        }
    if llm_key is None and "llm_gateway" in data["components"]:
        data["components"]["llm_gateway"] = {"flavor": "offline", "config": {}}
    for component in data["components"].values():
        component.pop("name", None)  # registered inline, under the stack's name
    return StackSpec.model_validate(data)


def _config_fields(kind: str, flavor: str) -> set[str]:
    from kitaru.plugins.manager import plugin_manager

    return set(plugin_manager().flavor(kind, flavor).load_config_class().model_fields)


def _set_secrets(original: Any, spec: Any, admin_key: str, options: SmokeOptions) -> dict[str, str]:
    """A value for every secret the stack references, set through its (stood-in) secret
    store; what each got, for the report (never the value). ``original``: the user's stack
    (its LLM gateway's secrets are unused when the run answers offline)."""
    from kitaru.stack.model import Stack
    from kitaru.stack.references import parse_secret_reference, secret_references

    values: dict[str, dict[str, str]] = {}
    said: dict[str, str] = {}
    for kind, component in original.components.items():
        for _, ref in secret_references(component.config):
            name, key = parse_secret_reference(ref)
            given = options.secrets.get(f"{name}.{key}")
            if kind == "llm_gateway" and options.llm_key is None:
                said.setdefault(f"{name}.{key}", "unused (the LLM gateway answers offline)")
                continue
            if kind == "orchestrator" and component.config.get("api_key") == ref:
                value, how = admin_key, "the smoke run's server key"
            elif given is not None:
                value, how = given, "from --secret"
            elif kind == "llm_gateway" and options.llm_key is not None:
                value, how = options.llm_key, "the LLM key given"
            else:
                value, how = PLACEHOLDER, "a placeholder (--secret NAME.KEY=VALUE sets one)"
            values.setdefault(name, {})[key] = value
            said[f"{name}.{key}"] = how
    if values:
        store = Stack(spec).secret_store
        for name, pairs in values.items():
            store.set(name, pairs)
    return said


def _context(stack: str, workdir: Path, server_url: str, options: SmokeOptions) -> SmokeContext:
    registry = options.registry or os.environ.get("KITARU_SMOKE_REGISTRY") or None
    docker_host = options.docker_host or os.environ.get("DOCKER_HOST") or None
    return SmokeContext(stack=stack, workdir=workdir, server_url=server_url,
                        docker_host=docker_host, registry=registry, say=options.say)  # fmt: skip


def _run(target: str, stack: str, options: SmokeOptions, workdir: Path, r: SmokeReport) -> None:
    from kitaru.flow import load_flow
    from kitaru.smoke.server import smoke_server

    spec = read_stack(stack)  # the user's, before the run's server takes over
    r.stack = spec.name
    flow = load_flow(target)
    r.flow = flow.name
    groups = standins_for(spec)
    started = time.monotonic()
    with contextlib.ExitStack() as stack_of_services:
        server = stack_of_services.enter_context(smoke_server(workdir))
        ctx = _context(spec.name, workdir, server.url, options)
        stood: list[StoodIn] = []
        for standin, uses in groups.items():
            options.say(f"starting {standin.name} for " + ", ".join(u.type for u in uses))
            s = stack_of_services.enter_context(standin.load()(ctx, uses))
            stood.append(s)
            if s.runner is not None:
                stack_of_services.callback(s.runner.close)
            for use in uses:
                note = s.notes.get(use.type, standin.name)
                r.components.append(ComponentLine(use.type, use.flavor, note))
            r.limits += s.limits
        for kind, component in spec.components.items():
            if kind == "llm_gateway" and component.flavor == "offline":
                r.components.append(ComponentLine(kind, component.flavor, "runs as it is"))
            elif kind == "llm_gateway":
                how = ("the provider, with the key given" if options.llm_key else
                       "offline (answered here; --llm-key KEY calls the provider)")  # fmt: skip
                r.components.append(ComponentLine(kind, component.flavor, how))
            elif not any(u.type == kind for uses in groups.values() for u in uses):
                own = (kind, component.flavor) in OWN_FOLDERS and not component.config.get("path")
                how = "the run's own folder (KITARU_HOME untouched)" if own else "runs as it is"
                r.components.append(ComponentLine(kind, component.flavor, how))
        r.timings["stand-ins"] = time.monotonic() - started
        env: dict[str, str | None] = {k: v for s in stood for k, v in s.environment.items()}
        env.update(KITARU_SERVER_URL=server.url, KITARU_API_KEY=server.admin_key,
                   KITARU_STACK=spec.name, KITARU_DB_URL=None)  # fmt: skip
        with _environment(env):
            rewritten = _rewrite(spec, stood, server.url, options.llm_key, workdir)
            _deploy_and_run(flow, spec, rewritten,
                            server.admin_key, [s.runner for s in stood if s.runner], options, r)  # fmt: skip


def _deploy_and_run(
    flow: Any, original: Any, spec: Any, admin_key: str, runners: list[UnitRunner], options: SmokeOptions,
    r: SmokeReport,
) -> None:  # fmt: skip
    from kitaru.deployments import deploy, invoke
    from kitaru.stack.registry import register_stack

    register_stack(spec, replace=True, source="kitaru smoke")
    r.secrets = _set_secrets(original, spec, admin_key, options)
    started = time.monotonic()
    deployment = deploy(flow, stack=spec.name, tag="smoke", progress=options.say)
    r.timings["deploy (build + push)"] = time.monotonic() - started
    inputs = dict(options.inputs)
    for name, value in sample_inputs(deployment.parameters, inputs).items():
        inputs[name] = value
        r.inputs_generated[name] = value
    started = time.monotonic()
    handle = invoke(flow.name, inputs, tag="smoke")
    r.execution_id = handle.id
    options.say(f"invoked {flow.name} v{deployment.version}: execution {handle.id}")
    try:
        _drive(handle, runners, options, r, deadline=started + options.timeout)
    finally:
        r.timings["run"] = time.monotonic() - started
        _settle(runners)
        r.units = ([line for runner in runners for line in runner.summary()]
                   or _recorded_units(handle.id))  # fmt: skip
        r.llm = _llm_summary(handle.id)


#: a sample value per JSON schema type, for required inputs nobody gave
SAMPLES: dict[str, Any] = {"string": "kitaru smoke test", "integer": 1, "number": 1.0,
                           "boolean": True, "array": [], "object": {}}  # fmt: skip


def sample_inputs(schema: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """A value for each required parameter missing from ``given`` whose type has a sample
    (the rest are left to the deployment's own input check, which names them)."""
    properties = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for name in schema.get("required") or []:
        if name in given:
            continue
        kind = (properties.get(name) or {}).get("type")
        if isinstance(kind, str) and kind in SAMPLES:
            out[name] = SAMPLES[kind]
    return out


def _settle(runners: list[UnitRunner], timeout: float = 30.0) -> None:
    """Let the units still running end (the one that finished the flow is usually exiting) so
    the report has each one's exit code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for runner in runners:
            runner.poll()
        if not any(getattr(runner, "busy", lambda: False)() for runner in runners):
            return
        time.sleep(0.2)


def _drive(
    handle: Any, runners: list[UnitRunner], options: SmokeOptions, r: SmokeReport,
    deadline: float,
) -> None:  # fmt: skip
    """Run what the stand-ins recorded and answer waits until the execution ends."""
    problem_since: float | None = None
    asked = time.monotonic()
    while True:
        for runner in runners:
            runner.poll()
        status = handle.status
        r.status = status
        if status in _TERMINAL:
            break
        if status == "waiting" and (wait := handle.pending_wait) is not None:
            name = wait.name.partition("#")[0]
            key = wait.name if wait.name in options.answers else name
            if key not in options.answers:
                raise UsageError(f"the flow waits on {wait.name!r} and no answer was given",
                                 hint=f"kitaru smoke ... --answer {name}=JSON")  # fmt: skip
            handle.input(options.answers[key], name=wait.name)
            r.waits_answered.append(wait.name)
        # with no stand-in running the units, the orchestrator's backend (an engine, a
        # cluster) is the one that knows a unit ended without finishing the execution
        ask = not runners and status in ("pending", "running", "crashed")
        if ask and time.monotonic() - asked >= 2.0:
            asked = time.monotonic()
            _raise_if_crashed(handle.id, r)
        problems = [p for runner in runners for p in runner.problems()]
        if problems:
            # a unit failed before the flow could say so (an import error, a refused image):
            # give the store a moment to show a failure the unit did record
            problem_since = problem_since or time.monotonic()
            if time.monotonic() - problem_since > 5.0:
                raise KitaruError(problems[0])
        if time.monotonic() > deadline:
            raise KitaruError(f"the flow did not end within {options.timeout:.0f} s "
                              f"(last status: {status})")  # fmt: skip
        time.sleep(0.2)
    if status == "completed":
        r.passed = True
        r.result = _short(handle.wait(timeout=30))
        return
    from kitaru.client import KitaruClient

    error = KitaruClient().executions.get(handle.id).error or {}
    problems = [p for runner in runners for p in runner.problems()]
    reason = (f"{error.get('type', 'Error')}: {error.get('message', '')}" if error else
              problems[0] if problems else "no reason recorded")  # fmt: skip
    raise KitaruError(f"the execution {status}: {reason}")


def _raise_if_crashed(execution_id: str, r: SmokeReport) -> None:
    """A KitaruError with the orchestrator's reason and the unit's last output line if the
    orchestrator says the execution crashed (its unit ended without finishing it); the report
    then says crashed, not the status stored before."""
    from kitaru.client import KitaruClient

    client = KitaruClient()
    info = client.executions.get(execution_id)
    if info.status != "crashed":
        return
    r.status = info.status
    lines = [str(x.get("line") or x.get("message") or "").strip() for x in
             client.executions.logs(execution_id)]  # fmt: skip
    last = next((x for x in reversed(lines) if x), None)
    reason = info.crash_reason or "its unit ended without finishing it"
    raise KitaruError(f"the execution crashed: {reason}" + (f"; its last output: {last}"
                                                             if last else ""))  # fmt: skip


def _short(value: Any, limit: int = 200) -> str:
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _recorded_units(execution_id: str, timeout: float = 30.0) -> list[str]:
    """The units a job orchestrator recorded on the execution, as its backend sees them once
    they ended (as :func:`_settle` lets runners' units end; at most ``timeout``): for a stack
    whose units no stand-in runs here (a local cluster runs them)."""
    from kitaru.components.job_orchestrator import JobOrchestrator
    from kitaru.runtime.stacks import orchestrator_of
    from kitaru.store import default_store

    try:
        execution = default_store().get_execution(execution_id)
        orchestrator = orchestrator_of(execution)
        if not isinstance(orchestrator, JobOrchestrator):
            return []
        units = orchestrator.units_of(execution)
        deadline = time.monotonic() + timeout
        while True:
            states = [orchestrator.unit_state(unit["name"]) for unit in units]
            if all(s.ended for s in states) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    except KitaruError:
        return []
    return [f"{unit.get('role')} {unit['name']}: {state.phase}"
            + (f" ({state.reason})" if state.reason else "")
            for unit, state in zip(units, states, strict=True)]  # fmt: skip


def _llm_summary(execution_id: str) -> str:
    """How many LLM calls the flow made and what they cost, from its journal."""
    from kitaru.client import KitaruClient

    try:
        info = KitaruClient().executions.get(execution_id)
    except KitaruError:
        return ""
    usage = info.usage
    if usage is None:
        return "no calls"
    return (f"{usage.calls} call(s), {usage.tokens_in}+{usage.tokens_out} tokens, "
            f"${usage.cost_usd:.4f} recorded")  # fmt: skip
