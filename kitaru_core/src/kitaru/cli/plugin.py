"""``kitaru plugin list``: installed plugins, their versions, and why any failed to load."""

from __future__ import annotations

import click

from kitaru.cli.output import output_option
from kitaru.cli.stack import command_name, render_rows


@click.group()
def plugin() -> None:
    """Inspect Kitaru plugins (distributions with entry points in group `kitaru`)."""


@plugin.command("list")
@output_option
@click.pass_context
def list_(ctx: click.Context, output: str) -> None:
    """List plugins: name, distribution, version, status and load error.

    A plugin that fails to import, or one of whose hooks raises (every hook is called first),
    is listed as failed with its one-line error and never breaks other commands
    (KITARU_STRICT_PLUGINS=1 makes it fatal instead).
    """
    from kitaru.cli import output as out
    from kitaru.plugins.manager import plugin_manager

    infos = plugin_manager().plugins()
    if output == "json":
        out.print_json(command_name(ctx), [i.to_dict() for i in infos])
        return
    rows = [(i.name, i.distribution, i.version or "-", i.status, i.error or "-") for i in infos]
    render_rows(("plugin", "distribution", "version", "status", "error"), rows, "no plugins")
