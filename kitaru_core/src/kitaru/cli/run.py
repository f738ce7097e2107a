"""``kitaru run FILE.py:FLOW``: start a flow defined in a Python file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from kitaru.flow import Flow


def resolve_flow(target: str) -> Flow[Any]:
    """:func:`kitaru.flow.load_flow` (imported when a command needs it: ``--help`` stays fast)."""
    from kitaru.flow import load_flow

    return load_flow(target)


@click.command()
@click.argument("target", metavar="FILE.py:FLOW")
@click.option(
    "--input",
    "input_json",
    metavar="JSON",
    help="""The flow's keyword arguments as a JSON object, e.g. '{"topic": "agents"}'.""",
)
@click.option(
    "--detach",
    is_flag=True,
    help="Hand the execution to a background worker, print its id and return at once.",
)
@click.option("--queue", metavar="NAME",
              help="Enqueue it on queue NAME for a worker (`kitaru serve --queue NAME`); "
              "prints the execution id and returns.")  # fmt: skip
@click.option("--key", metavar="KEY", help="With --queue: the per-key concurrency key.")
@click.option("--priority", type=int, help="With --queue: higher runs first.")
@click.option("--dedup-key", metavar="KEY",
              help="With --queue: while an execution with this key is queued or running on "
              "the queue, print its id instead of enqueuing another.")  # fmt: skip
def run(
    target: str, input_json: str | None, detach: bool, queue: str | None, key: str | None,
    priority: int | None, dedup_key: str | None,
) -> None:  # fmt: skip
    """Run the flow FLOW defined in FILE.py.

    Prints the execution id, every wait it reaches (with the exact command to answer it), and
    finally its result. The command keeps the execution while it waits: answer from another
    terminal and it continues here. Exits 1 if the execution fails.
    """
    from kitaru.cli.params import parse_object
    from kitaru.cli.progress import follow

    kwargs = parse_object("--input", input_json)
    flow_obj = resolve_flow(target)
    if queue is None and (key or priority is not None or dedup_key):
        from kitaru.errors import UsageError

        raise UsageError("--key, --priority and --dedup-key go with --queue NAME")
    if queue is not None:
        from kitaru.queues import enqueue

        handle = enqueue(flow_obj, flow_obj.bind((), kwargs), queue=queue, key=key,
                         priority=priority, dedup_key=dedup_key)  # fmt: skip
        click.echo(handle.id)
        return
    from kitaru.handle import FlowHandle
    from kitaru.runtime.launch import launch, new_execution
    from kitaru.runtime.telemetry import resolve
    from kitaru.store.sqlite import new_execution_id

    resolve()  # KITARU_OTEL=1 without kitaru[otel]: said before anything starts

    # The id is chosen here, so "started" is printed before the flow can print anything.
    execution_id = new_execution_id()
    new = new_execution(flow_obj, flow_obj.bind((), kwargs), execution_id=execution_id)
    if detach:
        launch(new.store, new, "run", detach=True, flow=flow_obj)
        click.echo(execution_id)
        return
    click.echo(f"execution {execution_id} started")
    follow(FlowHandle._launched(launch(new.store, new, "run", flow=flow_obj)))
