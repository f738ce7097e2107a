"""``kitaru flavor list``: every flavor the builtin plugin and installed plugins provide.

Listing reads each flavor's record only: no config class or implementation is imported.
"""

from __future__ import annotations

import click

from kitaru.cli.output import output_option
from kitaru.cli.stack import COMPONENT_TYPE, command_name, render_rows


@click.group()
def flavor() -> None:
    """List the flavors of stack components that are installed."""


@flavor.command("list")
@click.option("--type", "-t", "component_type", type=COMPONENT_TYPE, help="Only this type.")
@output_option
@click.pass_context
def list_(ctx: click.Context, component_type: str | None, output: str) -> None:
    """List flavors: name, component type, the plugin that provides it, description.

    Plugins that failed to load are listed by `kitaru plugin list`.
    """
    from kitaru.cli import output as out
    from kitaru.plugins.manager import plugin_manager

    manager = plugin_manager()
    flavors = [f for f in manager.flavors() if component_type in (None, f.type)]
    if output == "json":
        out.print_json(command_name(ctx), [f.to_dict() for f in flavors])
        return
    rows = [(f.name, f.type, f.provider, f.description or "-") for f in flavors]
    render_rows(("flavor", "type", "provider", "description"), rows, "no flavors")
    failed = [i for i in manager.plugins() if i.status == "failed"]
    if failed and output != "json":
        names = ", ".join(i.name for i in failed)
        click.echo(f"plugins that failed to load: {names} (see `kitaru plugin list`)", err=True)
