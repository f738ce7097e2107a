"""What the server does for a person or a client, shared by the REST routes and the dashboard.

Both call these, so an answer given in the browser is validated, journaled and fenced exactly
like one sent to ``POST /api/v1/executions/{id}/input``. ``runner`` is ``kitaru serve``'s
in-process runner (None for ``kitaru server start``): executions it serves continue there, warm.
"""

from __future__ import annotations

from typing import Any

from kitaru.client import KitaruClient
from kitaru.validation import check_text, check_unicode


def give_input(client: KitaruClient, runner: Any, execution_id: str, value: Any,
               name: str | None = None) -> str:  # fmt: skip
    """Answer the pending wait; the execution resumes. Returns its status after."""
    check_text(name, "wait name")
    check_unicode(value, "value")
    ex = client.executions
    if runner is None:
        ex.input(execution_id, value, name=name)
    else:  # kitaru serve: continue it here, warm, unless its own process holds it
        from kitaru.client import resolve_input

        if resolve_input(client.store, execution_id, value, name=name):
            runner.submit(client.store.get_execution(execution_id).id)
    return ex.get(execution_id).status


def invoke(client: KitaruClient, runner: Any, flow: str, inputs: dict[str, Any],
           tag: str | None = None, version: int | None = None,
           traceparent: str | None = None) -> tuple[str, str]:  # fmt: skip
    """Start an execution of a deployed version (inputs checked first): ``(id, status)``.
    ``traceparent``: the caller's W3C trace context, which the execution joins."""
    from kitaru.deployments import invoke as start

    check_unicode(inputs, "inputs")
    handle = start(flow, inputs, tag=tag, version=version, store=client.store,
                   start=runner is None, traceparent=traceparent)  # fmt: skip
    if runner is not None:
        runner.submit(handle.id)
    return handle.id, handle.status


def replay(client: KitaruClient, execution_id: str, from_: str | None,
           overrides: dict[str, Any]) -> str:  # fmt: skip
    """A new execution reusing this one's journal, run by a worker; returns its id."""
    check_text(from_, "replay's from")
    check_unicode(overrides, "overrides")
    handle = client.executions.replay(execution_id, from_=from_, overrides=overrides,
                                      detach=True)  # fmt: skip
    return str(handle.id)
