"""``kitaru executions ...``: list, show, logs, input, resume, retry, replay, cancel.

Every command imports the client (and through it the store) inside its body, so loading this
module for ``--help`` costs nothing beyond click.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kitaru.cli.completion import execution_ids
from kitaru.cli.output import output_option

if TYPE_CHECKING:
    from kitaru.client import KitaruClient
    from kitaru.handle import FlowHandle

STATUSES = ("queued", "pending", "running", "waiting", "completed", "failed", "cancelled",
            "crashed")  # fmt: skip
TERMINAL = ("completed", "failed", "cancelled")


def _client() -> KitaruClient:
    from kitaru.client import KitaruClient

    return KitaruClient()


def _command_name(ctx: click.Context) -> str:
    """``executions list`` for the JSON envelope (the command path without the program)."""
    return " ".join(ctx.command_path.split()[1:])


def _detach_option(fn: Any) -> Any:
    return click.option(
        "--detach",
        is_flag=True,
        help="Hand the execution to a background worker and return at once.",
    )(fn)


@click.group()
def executions() -> None:
    """List, inspect, answer, resume, retry, replay and cancel executions.

    ID may be any unique prefix of an execution id.
    """


@executions.command("list")
@click.option("--flow", help="Only executions of this flow.")
@click.option("--status", type=click.Choice(STATUSES), help="Only executions in this status.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="At most this many (newest first).",
)
@output_option
@click.pass_context
def list_(
    ctx: click.Context, flow: str | None, status: str | None, limit: int, output: str
) -> None:
    """List executions, newest first."""
    from kitaru.cli import output as out

    infos = _client().executions.list(flow=flow, status=status, limit=limit)
    if output == "json":
        out.print_json(_command_name(ctx), [i.to_dict() for i in infos])
    else:
        out.render_executions(infos)


@executions.command()
@click.argument("execution_id", metavar="ID", shell_complete=execution_ids)
@click.option("--traceback", "tracebacks", is_flag=True,
              help="Print the traceback of every failed attempt, not only the failure's.")  # fmt: skip
@output_option
@click.pass_context
def show(ctx: click.Context, execution_id: str, tracebacks: bool, output: str) -> None:
    """Show one execution with its checkpoints, waits and artifacts.

    The header has status, times, replay origin, error and the pending wait with the command
    that answers it; a failed execution's traceback (your code's frames, not Kitaru's); then
    tables of checkpoints, waits, failed attempts, metadata, artifacts.
    """
    from kitaru.cli import output as out

    info = _client().executions.get(execution_id)
    if output == "json":
        out.print_json(_command_name(ctx), [info.to_dict()])
    else:
        out.render_execution(info, tracebacks=tracebacks)


@executions.command()
@click.argument("execution_id", metavar="ID", shell_complete=execution_ids)
@click.option(
    "--follow", "-f", is_flag=True, help="Keep printing new lines until the execution ends."
)
@output_option
@click.pass_context
def logs(ctx: click.Context, execution_id: str, follow: bool, output: str) -> None:
    """Print an execution's captured output and log records.

    Records come oldest first, as HH:MM:SS.mmm [call id] line.

    With --follow and -o json, records are printed one JSON object per line as they arrive.
    """
    import json

    from kitaru.cli import output as out
    from kitaru.runtime.logs import follow_logs

    client = _client()
    handle = client.executions.handle(execution_id)
    if not follow:
        records = client.executions.logs(handle.id)
        if output == "json":
            out.print_json(_command_name(ctx), records)
        else:
            for record in records:
                click.echo(out.log_line(record))
        return

    announced: set[str] = set()

    def done() -> bool:
        status = handle.status
        if status == "waiting":  # say why nothing comes, and how to go on (stderr: not data)
            wait = handle.pending_wait
            if wait is not None and wait.name not in announced:
                announced.add(wait.name)
                for line in out.waiting_lines(handle.id, wait.name, wait.question, wait.schema):
                    click.echo(line, err=True)
        return status in (*TERMINAL, "crashed")

    try:
        for record in follow_logs(handle.id, done=done, store=client.store):
            click.echo(
                json.dumps(out.iso_times(record)) if output == "json" else out.log_line(record)
            )
    except KeyboardInterrupt:
        return


@executions.command("wait")
@click.argument("execution_id", metavar="ID", shell_complete=execution_ids)
def wait_(execution_id: str) -> None:
    """Wait until an execution ends and print its result (exit code 1 if it failed).

    Each wait it reaches is printed with the command that answers it; meanwhile this process
    holds the execution (on a local stack it resumes here as soon as input arrives).
    """
    from kitaru.cli.progress import follow

    follow(_client().executions.handle(execution_id))


@executions.command("input")
@click.argument("execution_id", metavar="ID", shell_complete=execution_ids)
@click.option(
    "--value",
    "value_json",
    metavar="JSON",
    help="The input, as JSON (true, 42, '\"text\"', '{\"k\": 1}').",
)
@click.option("--abort", is_flag=True, help="Refuse the wait: the execution is cancelled.")
@click.option(
    "--name", "wait_name", metavar="WAIT", help="The wait to answer (default: the one pending)."
)
def input_(execution_id: str, value_json: str | None, abort: bool, wait_name: str | None) -> None:
    """Answer an execution's pending wait (or --abort it).

    The value is validated against the wait's schema; the execution then resumes (in the
    process holding it, or in a background worker). If that worker fails at once (the flow's
    code cannot be imported, say), the input stays stored and this command fails with the
    reason.
    """
    import time

    from kitaru.cli.params import parse_json
    from kitaru.errors import KitaruError, UsageError

    if (value_json is None) == (not abort):
        raise UsageError(
            "give exactly one of --value JSON or --abort",
            hint=f"e.g. kitaru executions input {execution_id} --value true",
        )
    value = None if abort else parse_json("--value", value_json or "")
    client = _client()
    handle = client.executions.handle(execution_id)
    pending = handle.pending_wait
    name = wait_name or (pending.name if pending else None)
    if abort:
        client.executions.abort(handle.id, name=wait_name)
        click.echo(f"aborted wait {name!r} of {handle.id}; the execution is cancelled")
        return
    since = time.time()
    client.executions.input(handle.id, value, name=wait_name)
    failed = client.executions.resume_failure(handle.id, since=since)
    if failed is not None:  # the input is stored; what was to run the execution failed
        raise KitaruError(f"resolved wait {name!r} of {handle.id}, but the execution could not "
                          f"resume: {failed.message}", hint=failed.hint)  # fmt: skip
    click.echo(f"resolved wait {name!r} of {handle.id}; the execution resumes")


def _drive(handle: FlowHandle[Any], detach: bool) -> None:
    from kitaru.cli.progress import settle

    if detach:
        click.echo(f"execution {handle.id} handed to a background worker")
        return
    settle(handle)


@executions.command()
@click.argument("execution_id", metavar="ID", shell_complete=execution_ids)
@_detach_option
def resume(execution_id: str, detach: bool) -> None:
    """Resume a crashed or waiting execution in place.

    Completed checkpoints do not run again. Without --detach the execution runs in this
    process until it completes, fails or waits.
    """
    handle = _client().executions.resume(execution_id, detach=detach)
    if not detach:
        click.echo(f"resuming execution {handle.id}")
    _drive(handle, detach)


@executions.command()
@click.argument("execution_id", metavar="ID", shell_complete=execution_ids)
@click.option(
    "--max-cost-usd",
    type=click.FloatRange(min=0),
    metavar="USD",
    help="A new LLM budget for the execution (after it failed with BudgetExceeded).",
)
@_detach_option
def retry(execution_id: str, max_cost_usd: float | None, detach: bool) -> None:
    """Retry a failed execution in place.

    The failed call runs again, completed ones (and their LLM calls) do not. Without --detach
    the execution runs in this process until it completes, fails or waits.
    """
    handle = _client().executions.retry(execution_id, detach=detach, max_cost_usd=max_cost_usd)
    if not detach:
        click.echo(f"retrying execution {handle.id}")
    _drive(handle, detach)


@executions.command()
@click.argument("execution_id", metavar="ID", shell_complete=execution_ids)
@click.option(
    "--from", "from_", metavar="CALL_ID", help="Re-execute this call and everything after it."
)
@click.option(
    "--override",
    "overrides",
    metavar="KEY=JSON",
    multiple=True,
    help="Replace a checkpoint output (checkpoint.<call id>=JSON) or a flow input "
    "(flow.<param>=JSON). Repeatable.",
)
@_detach_option
def replay(execution_id: str, from_: str | None, overrides: tuple[str, ...], detach: bool) -> None:
    """Replay an execution as a new one, reusing its journal as a cache.

    --from forces that call and all later ones to run again; overridden values replace a
    checkpoint's output or a flow input. Without --detach it runs here like resume.

    Example: kitaru executions replay ID --from draft --override checkpoint.research='"brief"'
    """
    from kitaru.cli.params import parse_overrides

    parsed = parse_overrides(overrides)
    client = _client()
    source = client.executions.handle(execution_id).id
    handle = client.executions.replay(source, from_=from_, overrides=parsed, detach=detach)
    click.echo(handle.id if detach else f"execution {handle.id} started (replay of {source})")
    if not detach:
        _drive(handle, detach)


@executions.command()
@click.argument("execution_id", metavar="ID", shell_complete=execution_ids)
def cancel(execution_id: str) -> None:
    """Cancel an execution.

    In-flight checkpoints finish; nothing new starts.
    """
    client = _client()
    full_id = client.executions.handle(execution_id).id
    client.executions.cancel(full_id)
    click.echo(f"cancelled execution {full_id}")


@executions.command()
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@output_option
@click.pass_context
def diff(ctx: click.Context, a: str, b: str, output: str) -> None:
    """Compare two executions checkpoint by checkpoint.

    Each checkpoint call id is "same", "changed", "only in A" or "only in B"; strings show a
    unified diff, JSON-like values the changed paths, bytes and pickles their sizes and sha256.
    """
    from kitaru.cli import output as out

    result = _client().executions.diff(a, b)
    if output == "json":
        out.print_json(_command_name(ctx), [result.to_dict()])
    else:
        _render_diff(result)


_DIFF_STYLE = {"same": "dim", "changed": "yellow", "only in A": "red", "only in B": "green"}


def _render_diff(d: Any) -> None:
    """People's view of an :class:`~kitaru.models.ExecutionDiff`."""
    from rich.text import Text

    from kitaru.cli import output as out
    from kitaru.diff import change_line

    con = out.console()
    con.print(Text(f"A {d.a}  {d.flow_a}  {d.status_a}", style="red"))
    con.print(Text(f"B {d.b}  {d.flow_b}  {d.status_b}", style="green"))
    con.print()
    con.print(Text("inputs", style="bold"), Text("same" if not d.inputs else "", style="dim"))
    for change in d.inputs:
        con.print(Text("  " + change_line(change), style="yellow"))
    for entry in [*d.checkpoints, *([d.result] if d.result else [])]:
        con.print()
        line = Text(entry.call_id, style="bold")
        line.append(f"  {entry.status}", style=_DIFF_STYLE.get(entry.status, ""))
        if entry.a_status and entry.b_status and entry.a_status != entry.b_status:
            line.append(f"  ({entry.a_status} -> {entry.b_status})")
        con.print(line)
        if entry.status in ("only in A", "only in B"):
            shown = entry.a_preview if entry.status == "only in A" else entry.b_preview
            con.print(Text("  " + out.clip(shown, 100), style="dim"))
        vd = entry.diff
        if vd is None:
            continue
        if vd.kind == "text":
            for text_line in vd.lines:
                style = {"+": "green", "-": "red", "@": "cyan"}.get(text_line[:1], "")
                if text_line.startswith(("+++", "---")):
                    style = "bold"
                con.print(Text("  " + text_line, style=style))
        elif vd.kind == "structural":
            for change in vd.changes:
                style = {"added": "green", "removed": "red"}.get(change.op, "yellow")
                con.print(Text("  " + change_line(change), style=style))
        else:
            for side, sz, sha, typ in (("A", vd.a_size, vd.a_sha256, vd.a_type),
                                       ("B", vd.b_size, vd.b_sha256, vd.b_type)):  # fmt: skip
                con.print(Text(f"  {side}: {typ or '-'}, {out.size(sz)}, sha256 {sha or '-'}"))
