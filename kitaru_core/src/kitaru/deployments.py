"""Deployments: ``flow.deploy()`` records an immutable version, ``invoke`` runs one.

A version holds where the flow's code is (or the image that contains it), the stack it runs on,
the JSON schema of its parameters and its run options. Tags are exclusive per flow; ``default``
moves to every new version unless ``tag=`` names another (or ``None``). Invoking checks the
inputs against the recorded schema before anything is created, then hands a pending execution
to the stack's orchestrator — nothing of the flow's code is imported by the caller.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kitaru.errors import ConfigError, NotFound, UsageError
from kitaru.store.deployments import DEFAULT_TAG, Deployment, DeploymentStore

if TYPE_CHECKING:
    from kitaru.flow import Flow
    from kitaru.handle import FlowHandle

_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _store(store: Any = None) -> Any:
    from kitaru.store import default_store

    store = store or default_store()
    if not isinstance(store, DeploymentStore):
        raise ConfigError(f"{type(store).__name__} keeps no deployments")
    return store


def check_tag(tag: str) -> str:
    if not _TAG.match(tag):
        raise UsageError(f"invalid tag {tag!r}", hint="letters, digits, '-', '_', '.'; e.g. canary")
    return tag


def parameters_schema(flow: Flow[Any]) -> dict[str, Any]:
    """JSON schema of the flow's keyword inputs (what ``invoke`` accepts)."""
    from pydantic import TypeAdapter

    from kitaru.checkpoint import _type_hints

    hints = _type_hints(flow.fn)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for p in flow.signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise UsageError(f"flow {flow.name!r} takes *args, **kwargs or positional-only "
                             f"parameter {p.name!r}: it cannot be invoked by name",
                             hint="give deployed flows plain named parameters")  # fmt: skip
        annotation = hints.get(p.name, Any)
        try:
            properties[p.name] = TypeAdapter(annotation).json_schema()
        except Exception:  # an exotic type: accept any JSON, the flow body validates it
            properties[p.name] = {}
        if p.default is p.empty:
            required.append(p.name)
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False}  # fmt: skip


def code_hash(flow: Flow[Any]) -> str:
    """SHA-256 of the file that defines the flow (what an image build keys on)."""
    source = flow.location.source_file
    data = open(source, "rb").read() if source and os.path.exists(source) else b""  # noqa: SIM115
    return hashlib.sha256(data + flow.location.qualname.encode()).hexdigest()


def deploy(
    flow: Flow[Any], *, stack: str | None = None, tag: str | None = DEFAULT_TAG,
    store: Any = None, progress: Callable[[str], None] = lambda line: None,
    steps: Callable[[str], None] | None = None,
) -> Deployment:  # fmt: skip
    """Record a new version of ``flow`` on ``stack`` and point ``tag`` at it (building and
    pushing its image first when the stack runs executions from one)."""
    from kitaru.runtime.runner import run_options
    from kitaru.runtime.stacks import stack_name_for, stack_of

    if tag is not None:
        check_tag(tag)
    name = stack_name_for(stack or flow.stack)
    image = None
    options = run_options(flow, name)
    if stack_of(name).orchestrator.capabilities.needs_image:
        from kitaru.build import build, secret_environment

        image = build(flow, stack=name, progress=progress, steps=steps)  # before registering
        if secrets := secret_environment(flow):
            options["secret_environment"] = secrets  # references: resolved per container
    loc = flow.location
    if loc.source_file is None:
        raise UsageError(f"flow {flow.name!r} has no source file: define it in a file to deploy")
    record = Deployment(
        flow=flow.name, version=0, module=loc.module, qualname=loc.qualname,
        source_file=loc.source_file, root=loc.root, stack=name, image=image,
        parameters=parameters_schema(flow), options=options,
        code_hash=code_hash(flow), created_at=time.time(),
    )  # fmt: skip
    added: Deployment = _store(store).add_deployment(record, tag=tag)
    return added


def resolve(
    flow: str, *, tag: str | None = None, version: int | None = None, store: Any = None
) -> Deployment:
    """The version ``tag`` (default: ``default``) or ``version`` names."""
    s = _store(store)
    if tag is not None and version is not None:
        raise UsageError("give a tag or a version, not both")
    if version is None:
        tag = tag or DEFAULT_TAG
        found = s.tag_version(flow, tag)
        if found is None:
            known = s.list_deployments(flow)
            tags = sorted({t for d in known for t in d.tags})
            raise NotFound(f"flow {flow!r} has no deployment tagged {tag!r}",
                           hint=("tags: " + ", ".join(tags)) if tags else
                           f"deploy it first: kitaru deploy FILE.py:{flow}")  # fmt: skip
        version = int(found)
    d = s.get_deployment(flow, version)
    if d is None:
        versions = [str(x.version) for x in s.list_deployments(flow)]
        raise NotFound(f"flow {flow!r} has no deployment version {version}",
                       hint=("versions: " + ", ".join(versions)) if versions else
                       f"deploy it first: kitaru deploy FILE.py:{flow}")  # fmt: skip
    return d


def set_tag(flow: str, tag: str, version: int, *, store: Any = None) -> None:
    """Point ``tag`` at ``version`` (it leaves the version it was on, atomically)."""
    _store(store).set_tag(flow, check_tag(tag), version)


def check_inputs(d: Deployment, inputs: Any) -> dict[str, Any]:
    from kitaru.errors import WaitInputError
    from kitaru.runtime.waits import validate_input

    if not isinstance(inputs, dict):
        raise UsageError(f"inputs for {d.flow!r} must be a JSON object of its parameters",
                         hint=signature_hint(d))  # fmt: skip
    try:
        validate_input(inputs, d.parameters, d.flow)
    except WaitInputError as exc:
        detail = exc.detail or {}
        where = "/".join(str(p) for p in detail.get("path", [])) or "inputs"
        raise UsageError(f"inputs do not match flow {d.flow!r} v{d.version}: {where}: "
                         f"{detail.get('message', exc)}", hint=signature_hint(d)) from None  # fmt: skip
    return inputs


def signature_hint(d: Deployment) -> str:
    props = d.parameters.get("properties", {})
    required = set(d.parameters.get("required", []))
    parts = [f"{k}{'' if k in required else '?'}: {v.get('type', 'any')}" for k, v in props.items()]
    return f"{d.flow}({', '.join(parts)}), e.g. --input " + json.dumps(
        {k: "..." for k in props if k in required}
    )


def invoke(
    flow: str, inputs: dict[str, Any] | None = None, *, tag: str | None = None,
    version: int | None = None, store: Any = None, start: bool = True,
    traceparent: str | None = None,
) -> FlowHandle[Any]:  # fmt: skip
    """Start an execution of a deployed version; returns its handle at once. ``start=False``
    leaves the pending execution to the caller (``kitaru serve`` runs it in-process).
    ``traceparent`` (W3C, a REST caller's header): the execution's trace parent, so every
    process that runs it joins the caller's trace."""
    from kitaru.handle import FlowHandle
    from kitaru.runtime.launch import launch
    from kitaru.runtime.serialization import encode_input as _encode

    s = _store(store)
    d = resolve(flow, tag=tag, version=version, store=s)
    values = check_inputs(d, {} if inputs is None else inputs)
    options = {**d.options, "stack": d.stack,
               "deployment": {"version": d.version, "image": d.image}}  # fmt: skip
    execution = s.create_execution(
        flow=d.flow, module=d.module, qualname=d.qualname, source_file=d.source_file,
        root=d.root, inputs={k: _encode(v) for k, v in values.items()}, status="pending",
        options=options,
    )  # fmt: skip
    if traceparent:  # where a run's first pass records its own span (kitaru.tracecontext)
        from kitaru.tracecontext import METADATA_KEY

        s.update_metadata(execution.pk, {METADATA_KEY: traceparent})
        execution.metadata[METADATA_KEY] = traceparent
    if start:
        return FlowHandle._launched(launch(s, execution, "invoke", detach=True))
    return FlowHandle(s, execution.id)


def curl_command(flow: str, *, tag: str | None = None, version: int | None = None,
                 url: str | None = None) -> str:  # fmt: skip
    """A curl command that invokes ``flow`` through the server this process is connected to."""
    from kitaru.connection import configured

    remote = configured()
    base = url or (remote[0] if remote else "http://127.0.0.1:8237")
    d = resolve(flow, tag=tag, version=version)
    body: dict[str, Any] = {"inputs": {k: "..." for k in d.parameters.get("required", [])}}
    if version is not None:
        body["version"] = version
    elif tag is not None:
        body["tag"] = tag
    return (f"curl -sS -X POST {base.rstrip('/')}/api/v1/deployments/{flow}/invoke "
            f"-H \"Authorization: Bearer $KITARU_API_KEY\" -H 'Content-Type: application/json' "
            f"-d '{json.dumps(body)}'")  # fmt: skip
