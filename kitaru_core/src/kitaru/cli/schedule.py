"""``kitaru schedule create/list/show/pause/resume/delete``: cron schedules of deployed flows."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from kitaru.cli.output import output_option, yes_option


@click.group()
def schedule() -> None:
    """Start flows on a cron schedule (fired by `kitaru serve` and the server)."""


def _show(s: Any) -> str:
    from kitaru.cli import output as out

    when = "paused" if s.paused else f"next {out.local_time(s.next_fire)}"
    return (
        f"schedule {s.name}: {s.flow}@{s.tag} at '{s.cron}' ({s.tz}), catch-up {s.catchup}; {when}"
    )


@schedule.command()
@click.argument("target", metavar="FILE.py:FLOW|DEPLOYMENT")
@click.option("--cron", required=True, metavar="EXPR", help="Cron expression, e.g. '*/5 * * * *'.")
@click.option("--tz", default="UTC", show_default=True, metavar="ZONE", help="IANA time zone.")
@click.option("--input", "input_json", metavar="JSON", help="The flow's inputs, a JSON object.")
@click.option("--name", metavar="NAME", help="Schedule name (default: the flow's name).")
@click.option("--tag", default="default", show_default=True, help="Deployment tag it starts.")
@click.option("--catchup", type=click.Choice(["skip", "once", "all"]), default="skip",
              show_default=True, help="Fire times missed while no scheduler ran: skip them, "
              "run the latest once, or run each (at most --max-catchup).")  # fmt: skip
@click.option("--max-catchup", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--paused", is_flag=True, help="Create it paused.")
def create(target: str, cron: str, tz: str, input_json: str | None, name: str | None, tag: str,
           catchup: str, max_catchup: int, paused: bool) -> None:  # fmt: skip
    """Schedule a flow: FILE.py:FLOW is deployed first (when its code changed); a bare name is
    an already deployed flow."""
    from kitaru import schedules
    from kitaru.cli.deployments import _inputs

    schedules.next_fire_after(cron, tz, 0.0)  # a bad --cron/--tz (or no croniter) deploys nothing
    flow = target
    if ":" in target:  # a flow in a file: deploy it (unchanged code keeps its version)
        from kitaru.cli.run import resolve_flow
        from kitaru.serve import deploy_changed

        flow_obj = resolve_flow(target)
        for line in deploy_changed({flow_obj.name: flow_obj}):
            if not line.startswith("scheduled"):
                click.echo(line, err=True)
        flow = flow_obj.name
    s = schedules.create(flow, cron=cron, tz=tz, inputs=_inputs(input_json), name=name, tag=tag,
                         catchup=catchup, max_catchup=max_catchup, paused=paused)  # fmt: skip
    click.echo(_show(s))


@schedule.command("list")
@output_option
@click.pass_context
def list_(ctx: click.Context, output: str) -> None:
    """Every schedule, with its next fire time."""
    from kitaru import schedules
    from kitaru.cli import output as out

    found = schedules.list_schedules()
    if output == "json":
        out.print_json(ctx.command_path.removeprefix("kitaru "),
                       [dataclasses.asdict(s) for s in found])  # fmt: skip
        return
    if not found:
        click.echo("no schedules")
        return
    table = out._table()
    for col in ("name", "flow", "cron", "tz", "catch-up", "next"):
        table.add_column(col, no_wrap=True)
    for s in found:
        table.add_row(out._t(s.name), out._t(f"{s.flow}@{s.tag}"), out._t(s.cron), out._t(s.tz),
                      out._t(s.catchup),
                      out._t("paused" if s.paused else out.local_time(s.next_fire)))  # fmt: skip
    out.console().print(table)


@schedule.command()
@click.argument("name")
@output_option
@click.pass_context
def show(ctx: click.Context, name: str, output: str) -> None:
    """A schedule and the executions its latest fire times started."""
    from kitaru import schedules
    from kitaru.cli import output as out
    from kitaru.store import default_store

    s = schedules.get(name)
    fires = default_store().schedule_fires(name, 20)  # type: ignore[attr-defined]
    if output == "json":
        item = {**dataclasses.asdict(s),
                "fires": [{"fire_at": t, "execution_id": e} for t, e in fires]}  # fmt: skip
        out.print_json(ctx.command_path.removeprefix("kitaru "), [item])
        return
    click.echo(_show(s))
    for t, execution_id in fires:
        click.echo(f"  {out.local_time(t)}  {execution_id}")


@schedule.command()
@click.argument("name")
def pause(name: str) -> None:
    """Stop firing until resumed."""
    from kitaru import schedules

    click.echo(_show(schedules.pause(name)))


@schedule.command()
@click.argument("name")
def resume(name: str) -> None:
    """Fire again from the next fire time (times passed while paused are skipped)."""
    from kitaru import schedules

    click.echo(_show(schedules.resume(name)))


@schedule.command()
@click.argument("name")
@yes_option
def delete(name: str, yes: bool) -> None:
    """Delete a schedule (executions it started stay)."""
    from kitaru import schedules
    from kitaru.cli.output import confirm

    schedules.get(name)  # NotFound first: nothing to confirm
    confirm(f"delete schedule {name!r}", yes)
    schedules.delete(name)
    click.echo(f"deleted schedule {name}")
