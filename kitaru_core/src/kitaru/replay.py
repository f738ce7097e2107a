"""Replay: a new execution of a flow that reuses a source execution's journal as a cache.

Everything is checked before anything is created: the ``from_`` call id exists, override keys
name real calls or parameters, and override values validate against the checkpoint's return
annotation (or the parameter's annotation). A bad replay changes nothing.
"""

from __future__ import annotations

from typing import Any

from kitaru.errors import NotFound, UsageError
from kitaru.handle import FlowHandle
from kitaru.runtime.serialization import validate_as, validation_message
from kitaru.store.base import MetadataStore
from kitaru.store.records import CHECKPOINT


def _validate(key: str, value: Any, annotation: Any) -> None:
    try:
        validate_as(value, annotation)
    except Exception as exc:
        detail = validation_message(exc)
        raise UsageError(f"override {key} does not match its type: {detail}",
                         hint="give a JSON value of the annotated type") from None  # fmt: skip


def start_replay(
    store: MetadataStore,
    execution_id: str,
    *,
    from_: str | None,
    overrides: dict[str, Any],
    detach: bool,
) -> FlowHandle[Any]:
    from kitaru.checkpoint import registry
    from kitaru.runtime.control import to_jsonable
    from kitaru.runtime.launch import launch, new_execution
    from kitaru.runtime.runner import load_flow

    source = store.get_execution(execution_id)
    journal = store.load_journal(source.pk)
    known = ", ".join(c.call_id for c in sorted(journal.values(), key=lambda c: c.seq)) or "none"
    if from_ is not None and from_ not in journal:
        raise NotFound(f"execution {source.id} has no call {from_!r}", hint=f"calls: {known}")
    flow = load_flow(source)
    args, kwargs = flow.inputs_from_record(source.inputs)
    arguments = flow.bind(args, kwargs)
    stored: dict[str, Any] = {}
    for key, raw in overrides.items():
        kind, _, target = key.partition(".")
        value = to_jsonable(raw)
        if kind == "checkpoint":
            call = journal.get(target)
            if call is None or call.kind != CHECKPOINT:
                raise NotFound(f"execution {source.id} has no checkpoint call {target!r}",
                               hint=f"calls: {known}")  # fmt: skip
            cp = registry.get(call.name)
            if cp is not None:
                _validate(key, value, cp.return_annotation)
        elif kind == "flow":
            annotation = flow.parameter_annotation(target)
            _validate(key, value, annotation)
            arguments[target] = validate_as(value, annotation)
        else:
            raise UsageError(f"override {key!r} must start with 'checkpoint.' or 'flow.'",
                             hint="e.g. --override checkpoint.research='\"new brief\"'")  # fmt: skip
        stored[key] = value
    extra: dict[str, Any] = {
        "replay_of": source.id,
        "replay_from": from_,
        "overrides": stored or None,
    }
    new = new_execution(flow, arguments, store=store, stack=source.options.get("stack"), **extra)
    return FlowHandle._launched(launch(store, new, "replay", detach=detach, flow=flow))
